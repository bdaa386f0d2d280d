#!/usr/bin/env bash
# Peer benchmarks: hashtrend's counter against the broker's own limit, Kafka
# Streams and the Spark tutorial, on one disposable local broker and the
# same pre-filled input. Installs what it needs (Kafka Streams jars from
# Maven Central, PySpark from PyPI into a venv, the Spark Kafka source from
# Maven Central), runs every contender RUNS times and writes the table to
# bench/out/peers.md (and every run to bench/out/peers.json).
#
# Settings (environment):
#   QUICK=1            smoke scale: 100k + 20k posts, 1 run (unless RUNS), 10 s latency trials
#   RUNS (3)           runs per contender and workload; the table shows medians
#   POSTS (1000000)    posts of the short-post workload
#   LONG_POSTS (200000), LONG_WORDS (140)   the fewer, longer posts workload
#   RATE (2000)        posts/s of the latency trials; LATENCY_SECONDS (30)
#   ONLY               regexp of contender names to run (e.g. 'limit|hashtrend')
#   BASELINE           a git ref: its counter runs too, as "hashtrend counter, baseline build"
#   BENCH_PORT (19292) port of the benchmark broker (its controller: +1)
#   PYSPARK_VERSION (4.1.1)   PySpark, and the matching spark-sql-kafka-0-10_2.13
#                      (4.1.1: the newest whose Kafka source is on Maven Central
#                      at the time of writing; 4.3.0's is not)
#   BENCH_KEEP_BROKER=1       leave the benchmark broker running afterwards
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/bench/out
port=${BENCH_PORT:-19292}
pyspark=${PYSPARK_VERSION:-4.1.1}
runs=${RUNS:-3}
posts=${POSTS:-1000000}
long_posts=${LONG_POSTS:-200000}
long_words=${LONG_WORDS:-140}
rate=${RATE:-2000}
lat=${LATENCY_SECONDS:-30}
label=""
if [ "${QUICK:-0}" = 1 ]; then
  runs=${RUNS:-1} posts=100000 long_posts=20000 lat=10 label=QUICK
fi

say() { echo "peers.sh: $*" >&2; }
mkdir -p "$out/bin" "$out/logs"

need() { command -v "$1" >/dev/null 2>&1; }
if ! need java || ! need mvn || ! need python3; then
  say "installing a JDK, Maven and Python from the Debian packages"
  apt-get update -qq && apt-get install -y -qq default-jdk-headless maven python3 python3-venv >/dev/null
fi

# The benchmark broker: its own ports and data, so the shared one on 9092
# is never disturbed. Fresh data every invocation.
broker() { KAFKA_PORT=$port KAFKA_CONTROLLER_PORT=$((port + 1)) KAFKA_DATA_DIR=$out/kafka KAFKA_HEAP=${BENCH_KAFKA_HEAP:-1g} "$root/deploy/kafka/kafka.sh" "$@"; }
if ! broker status >/dev/null 2>&1; then
  rm -rf "$out/kafka"
  broker up
fi
if [ "${BENCH_KEEP_BROKER:-0}" != 1 ]; then
  trap 'broker down' EXIT
fi

say "building the counter and the bench tools"
(cd "$root/services/counter" && CGO_ENABLED=1 go build -o "$out/bin/counter" .)
(cd "$root/bench" && CGO_ENABLED=1 go build -o "$out/bin/" ./cmd/...)
baseline=""
if [ -n "${BASELINE:-}" ]; then
  say "building the counter of $BASELINE as the baseline"
  rm -rf "$out/baseline-src" && mkdir -p "$out/baseline-src"
  git -C "$root" archive "$BASELINE" | tar -x -C "$out/baseline-src"
  (cd "$out/baseline-src/services/counter" && CGO_ENABLED=1 go build -o "$out/bin/counter-baseline" .)
  baseline=$out/bin/counter-baseline
fi

if [ ! -f "$out/kstreams-lib/.complete" ]; then
  say "fetching Kafka Streams jars from Maven Central"
  mvn -q -B -Dstyle.color=never -f "$root/bench/kstreams/pom.xml" package -Dkstreams.lib="$out/kstreams-lib"
  touch "$out/kstreams-lib/.complete"
fi

# PySpark: a failure here is not fatal; the Spark rows then carry the error.
if [ ! -x "$out/venv/bin/python" ]; then python3 -m venv "$out/venv"; fi
if ! "$out/venv/bin/python" -c "import pyspark, sys; sys.exit(pyspark.__version__ != '$pyspark')" 2>/dev/null; then
  say "installing pyspark==$pyspark from PyPI"
  "$out/venv/bin/pip" install -q "pyspark==$pyspark" || say "pyspark install failed; the Spark rows will say why"
fi
# The Spark Kafka source and the dependencies pyspark does not already ship
# (by artifact name, so that pyspark's own versions win).
spark_lib=$out/spark-lib-$pyspark
if [ ! -f "$spark_lib/.complete" ]; then
  say "fetching spark-sql-kafka-0-10_2.13:$pyspark from Maven Central"
  if mvn -q -B -Dstyle.color=never -f "$root/bench/spark/pom.xml" package -Dspark.lib="$spark_lib" -Dspark.version="$pyspark"; then
    touch "$spark_lib/.complete"
  else
    say "fetching the Spark Kafka source failed; the Spark rows will say why"
  fi
fi
spark_jars=""
pyjars=$("$out/venv/bin/python" -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))' 2>/dev/null || echo /nonexistent)
for j in "$spark_lib"/*.jar; do
  [ -f "$j" ] || continue
  base=$(basename "$j" | sed -E 's/-[0-9][^-]*\.jar$//')
  if ! compgen -G "$pyjars/$base-[0-9]*.jar" >/dev/null; then spark_jars+="${spark_jars:+,}$j"; fi
done

pyspark_seen=$("$out/venv/bin/python" -c 'import pyspark; print(pyspark.__version__)' 2>/dev/null || echo "not installed")

versions="Apache Kafka 4.4.0 broker (KRaft, single node, local disk); $(go version | cut -d' ' -f3); $(java -version 2>&1 | head -1); Kafka Streams 4.4.0; PySpark $pyspark_seen (local[2]); Python $(python3 -c 'import platform; print(platform.python_version())')."

cd "$root"
"$out/bin/peers" -brokers "127.0.0.1:$port" -root "$root" -out "$out" \
  -drain "$out/bin/drain" -counter "$out/bin/counter" -baseline "$baseline" -kafka-sh "$root/deploy/kafka/kafka.sh" \
  -kstreams-lib "$out/kstreams-lib" -python "$out/venv/bin/python" \
  -spark-jars "$spark_jars" \
  -posts "$posts" -long-posts "$long_posts" -long-words "$long_words" -runs "$runs" \
  -rate "$rate" -latency-duration "${lat}s" -only "${ONLY:-}" -label "$label" -versions "$versions"
say "table written to bench/out/peers.md"
