"""The Spark Structured Streaming contender of the peer benchmarks.

Exercise 2 of the Spark tutorial hashtrend grew out of, on the same Kafka
topic: read the topic, split each post's text on spaces, keep the words that
contain '#', groupBy(word).count() in complete output mode. The tutorial
printed the table with the console sink; here a foreachBatch sink does what
the console sink does (show the top rows of the complete table every
micro-batch) and also notes the benchmark's probe tags, so that the time at
which a result is visible can be measured.

The "window" variant replaces the running count by a 2-second event-time
window on the Kafka record timestamp with a 2-second watermark, in update
mode.

The post JSON is not parsed as JSON: like the tutorial, the job works on the
text, taken with get_json_object. Words are counted as written (case and
punctuation included), which is the tutorial's rule, not design.md's.

Modes:
  drain: run as fast as possible until the query has processed every offset
         up to --end (a JSON map partition -> end offset), then print one
         JSON result line and stop.
  live:  run until killed; print one JSON line per probe tag (#probe<ms>,
         ms = its record's produce time) when it first appears in a result.
"""

import argparse
import ast
import json
import sys
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--mode", choices=["drain", "live"], default="drain")
    ap.add_argument("--variant", choices=["complete", "window"], default="complete")
    ap.add_argument("--end", default="{}", help="drain: JSON {partition: end offset}")
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--trigger", default="", help="processing-time trigger, e.g. '2 seconds' (default: as fast as possible)")
    args = ap.parse_args()

    spark = (SparkSession.builder.appName("hashtrend-bench-" + args.variant)
             .master("local[2]")
             .config("spark.sql.shuffle.partitions", "2")
             .config("spark.ui.enabled", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("WARN")

    raw = (spark.readStream.format("kafka")
           .option("kafka.bootstrap.servers", args.brokers)
           .option("subscribe", args.topic)
           .option("startingOffsets", "earliest")
           .option("kafka.isolation.level", "read_committed")
           .option("failOnDataLoss", "false")
           .load())
    text = F.get_json_object(F.col("value").cast("string"), "$.text")
    words = raw.select(F.explode(F.split(text, " ")).alias("word"), F.col("timestamp"))
    tags = words.filter(F.col("word").contains("#"))

    seen = set()
    started = time.time()

    if args.variant == "complete":
        counts = tags.groupBy("word").count()
        mode = "complete"
    else:
        counts = (tags.withWatermark("timestamp", "2 seconds")
                  .groupBy(F.window("timestamp", "2 seconds"), "word").count())
        mode = "update"

    def sink(df, batch_id):
        # What the console sink shows: the first rows of the result.
        df.orderBy(F.desc("count")).limit(10).collect()
        if args.mode == "live":
            now = time.time()
            for row in df.filter(F.col("word").startswith("#probe")).select("word").collect():
                w = row["word"]
                if w in seen:
                    continue
                seen.add(w)
                try:
                    ms = int(w[len("#probe"):])
                except ValueError:
                    continue
                print(json.dumps({"probe": w[1:], "latency_ms": now * 1000 - ms}), flush=True)

    w = counts.writeStream.outputMode(mode).foreachBatch(sink).option("checkpointLocation", args.checkpoint)
    if args.trigger:
        w = w.trigger(processingTime=args.trigger)
    query = w.start()

    if args.mode == "live":
        query.awaitTermination()
        return

    end = {int(k): int(v) for k, v in json.loads(args.end).items()}
    total = sum(end.values())
    while query.isActive:
        p = query.lastProgress
        if p is not None and not isinstance(p, dict):
            p = json.loads(p.json)  # PySpark 4: a StreamingQueryProgress
        if p and caught_up(p, args.topic, end):
            break
        time.sleep(0.1)
    exc = query.exception()
    if exc is not None:
        print(json.dumps({"error": str(exc)}), flush=True)
        sys.exit(1)
    elapsed = time.time() - started
    query.stop()
    top = None
    print(json.dumps({"posts": total, "seconds": elapsed, "top": top}), flush=True)
    spark.stop()


def caught_up(progress, topic, end):
    """Whether a progress report's source end offsets reach the topic's end."""
    for src in progress.get("sources", []):
        off = src.get("endOffset")
        if isinstance(off, str):
            try:
                off = json.loads(off)
            except ValueError:
                off = ast.literal_eval(off)
        if not off or topic not in off:
            continue
        got = {int(k): int(v) for k, v in off[topic].items()}
        return all(got.get(p, -1) >= e for p, e in end.items())
    return False


if __name__ == "__main__":
    main()
