#!/usr/bin/env bash
# Runs a command with a Kafka broker at $KAFKA_BROKERS: when nothing answers
# there, starts the local broker (kafka.sh up) and stops it again afterwards,
# whatever the command's outcome. The command's exit code is returned.
#
# The broker it starts also has its SASL_SSL listener on port+2
# (KAFKA_SECURE_PORT; off: none). When that listener answers, whether
# started here or before, the command gets its address and the folder of
# its CA in KAFKA_SECURE_BROKERS and KAFKA_SECURE_DIR, which the secured
# tests read (docs/security.md).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
brokers=${KAFKA_BROKERS:-127.0.0.1:9092}
first=${brokers%%,*}
host=${first%:*}
port=${first##*:}
secure_port=${KAFKA_SECURE_PORT:-$((port + 2))}
started=0
# Tests that stop a broker run one of their own from the same jars, so the
# jars are fetched even when a broker is already answering.
"$here/kafka.sh" fetch || exit 1
if ! (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
  KAFKA_PORT=$port KAFKA_SECURE_PORT=$secure_port "$here/kafka.sh" up || exit 1
  started=1
fi
export KAFKA_BROKERS=$brokers
secure_dir=${KAFKA_DATA_DIR:-$here/data/$port}/secure
if [ -z "${KAFKA_SECURE_BROKERS:-}" ] && [ "$secure_port" != off ] && [ -f "$secure_dir/ca.crt" ] &&
  (exec 3<>"/dev/tcp/$host/$secure_port") 2>/dev/null; then
  export KAFKA_SECURE_BROKERS=$host:$secure_port KAFKA_SECURE_DIR=$secure_dir
fi
"$@"
rc=$?
if [ $started = 1 ]; then
  KAFKA_PORT=$port "$here/kafka.sh" down
fi
exit $rc
