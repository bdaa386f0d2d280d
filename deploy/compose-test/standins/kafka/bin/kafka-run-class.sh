#!/bin/sh
# kafka-run-class.sh CLASS [ARGS]: runs a class of the Kafka distribution
# with every jar of /opt/kafka/libs, as the official script does.
# Tools start a lean JVM (serial GC, C1 only: a third of the start-up time
# of the official defaults), so that the Compose healthcheck's tool run
# stays within its 10 s timeout on a busy machine; the broker sets G1.
base=$(dirname "$0")/..
: "${KAFKA_HEAP_OPTS:=-Xmx256M}"
: "${KAFKA_JVM_PERFORMANCE_OPTS:=-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Djava.awt.headless=true}"
: "${KAFKA_LOG4J_OPTS:=-Dlog4j2.configurationFile=$base/config/tools-log4j2.properties}"
# The JVM dies with its parent: a healthcheck that timed out kills only its
# shell, and its tool must not live on beside the broker.
# shellcheck disable=SC2086 # the options are lists of words
exec setpriv --pdeathsig KILL java $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS $KAFKA_LOG4J_OPTS ${KAFKA_OPTS:-} -cp "$base/libs/*" "$@"
