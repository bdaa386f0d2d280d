#!/usr/bin/env bash
# make run: the whole pipeline on one machine without Docker. Starts the
# local Kafka broker (unless one already answers at KAFKA_BROKERS), the
# counter and the ingest on the synthetic workload in the background (logs in
# run/), and the printer in the foreground, with its live page on
# PRINTER_HTTP_ADDR (:8080 unless set; off turns it off). Ctrl+C stops
# everything this script started, in order: printer, ingest (flushes its queue), counter
# (ends its transaction), then the broker if this script started it. The
# background services run in sessions of their own so that Ctrl+C reaches
# only this script and the printer, and the stop order above holds.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${BIN_DIR:-$root/bin}
logs=${RUN_DIR:-$root/run}
export KAFKA_BROKERS=${KAFKA_BROKERS:-127.0.0.1:${KAFKA_PORT:-9092}}
first=${KAFKA_BROKERS%%,*}
export KAFKA_PORT=${first##*:}
export INGEST_SOURCE=${INGEST_SOURCE:-synthetic}
export INGEST_SYNTHETIC_RATE=${INGEST_SYNTHETIC_RATE:-${INGEST_RATE:-200}}
# A first run of the synthetic source begins with 6 h 20 min of history: the
# counter's trending horizon (COUNTER_TRENDING_RECENT 10m + _BASELINE 6h),
# its lateness and a few minutes to spare, so that the trending list has
# its whole baseline once the history is read.
export INGEST_SYNTHETIC_HISTORY=${INGEST_SYNTHETIC_HISTORY:-6h20m}
export PRINTER_HTTP_ADDR=${PRINTER_HTTP_ADDR:-:8080}
# The demo's rate leaves room for a trending list per facet (off by default).
export COUNTER_FACET_TRENDING=${COUNTER_FACET_TRENDING:-on}
mkdir -p "$logs"

say() { echo "run: $*" >&2; }

started_broker=0
stop_all() {
  trap - INT TERM EXIT
  say "stopping"
  for name in printer ingest counter; do
    pid=${procs[$name]:-}
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then say "$name did not stop in 30 s; killing it"; kill -KILL "$pid" 2>/dev/null; fi
    wait "$pid" 2>/dev/null; say "$name stopped (exit $?)"
  done
  if [ $started_broker = 1 ]; then deploy/kafka/kafka.sh down; fi
}
declare -A procs

if ! (exec 3<>"/dev/tcp/${first%:*}/$KAFKA_PORT") 2>/dev/null; then
  deploy/kafka/kafka.sh up || exit 1
  started_broker=1
fi
trap 'stop_all; exit 130' INT TERM
trap 'stop_all' EXIT

make --no-print-directory build BIN_DIR="$bin" >&2 || exit 1

setsid "$bin/counter" >"$logs/counter.log" 2>&1 &
procs[counter]=$!
say "counter started (pid ${procs[counter]}, log $logs/counter.log)"
setsid "$bin/ingest" >"$logs/ingest.log" 2>&1 &
procs[ingest]=$!
say "ingest started on the $INGEST_SOURCE source (pid ${procs[ingest]}, log $logs/ingest.log)"
say "printer follows the top-hashtags topic; Ctrl+C stops everything"
if [ "$PRINTER_HTTP_ADDR" != off ]; then
  host=${PRINTER_HTTP_ADDR%:*}
  say "the live page: http://${host:-localhost}:${PRINTER_HTTP_ADDR##*:}/"
fi
"$bin/printer" &
procs[printer]=$!
wait "${procs[printer]}"
say "printer exited"
