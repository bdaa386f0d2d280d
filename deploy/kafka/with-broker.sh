#!/usr/bin/env bash
# Runs a command with a Kafka broker at $KAFKA_BROKERS: when nothing answers
# there, starts the local broker (kafka.sh up) and stops it again afterwards,
# whatever the command's outcome. The command's exit code is returned.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
brokers=${KAFKA_BROKERS:-127.0.0.1:9092}
first=${brokers%%,*}
host=${first%:*}
port=${first##*:}
started=0
# Tests that stop a broker run one of their own from the same jars, so the
# jars are fetched even when a broker is already answering.
"$here/kafka.sh" fetch || exit 1
if ! (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
  KAFKA_PORT=$port "$here/kafka.sh" up || exit 1
  started=1
fi
export KAFKA_BROKERS=$brokers
"$@"
rc=$?
if [ $started = 1 ]; then
  KAFKA_PORT=$port "$here/kafka.sh" down
fi
exit $rc
