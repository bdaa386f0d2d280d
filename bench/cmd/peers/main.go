// Command peers runs the peer benchmarks against one broker and writes the
// result table (Markdown) and every run (JSON). bench/peers.sh prepares the
// broker and the contenders and then calls it; see docs/benchmarks.md.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/hashtrend/hashtrend/bench/internal/peers"
	"github.com/hashtrend/hashtrend/bench/internal/report"
	"github.com/hashtrend/hashtrend/bench/internal/workload"
)

func main() {
	var (
		e         peers.Env
		posts     = flag.Int("posts", 1_000_000, "posts in the short-post workload")
		longPosts = flag.Int("long-posts", 200_000, "posts in the long-post workload (0: skip)")
		longWords = flag.Int("long-words", 140, "mean words per post of the long-post workload")
		runs      = flag.Int("runs", 3, "runs per contender and workload (the table shows medians)")
		rate      = flag.Int("rate", 2000, "input rate of the latency trials, posts/s")
		latFor    = flag.Duration("latency-duration", 30*time.Second, "measured part of each latency trial")
		only      = flag.String("only", "", "regexp: run only the contenders whose name matches")
		versions  = flag.String("versions", "", "versions line for the report")
		label     = flag.String("label", "", "label of this invocation (e.g. QUICK) for the report")
	)
	flag.StringVar(&e.Brokers, "brokers", "127.0.0.1:19292", "bootstrap brokers of the benchmark broker")
	flag.StringVar(&e.Root, "root", ".", "repository root")
	flag.StringVar(&e.Out, "out", "bench/out", "scratch and results folder")
	flag.StringVar(&e.DrainBin, "drain", "bench/out/bin/drain", "the Go limit consumer")
	flag.StringVar(&e.CounterBin, "counter", "bench/out/bin/counter", "the hashtrend counter binary")
	flag.StringVar(&e.BaselineBin, "baseline", "", "a counter binary built from another commit, run as one more contender (empty: none)")
	flag.StringVar(&e.KafkaSh, "kafka-sh", "deploy/kafka/kafka.sh", "the broker script (for ConsumerPerformance)")
	flag.StringVar(&e.KStreamsLib, "kstreams-lib", "bench/out/kstreams-lib", "Kafka Streams runtime jars")
	flag.StringVar(&e.Python, "python", "bench/out/venv/bin/python", "python with pyspark")
	flag.StringVar(&e.SparkJars, "spark-jars", "", "comma-separated jars of the Spark Kafka source (spark-sql-kafka-0-10 and what pyspark lacks of its dependencies)")
	flag.DurationVar(&e.Timeout, "timeout", 20*time.Minute, "longest a single run may take")
	flag.Parse()

	e.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, &e, options{*posts, *longPosts, *longWords, *runs, *rate, *latFor, *only, *versions, *label}); err != nil {
		e.Log.Error("peers", "err", err)
		os.Exit(1)
	}
}

type options struct {
	posts, longPosts, longWords, runs, rate int
	latFor                                  time.Duration
	only, versions, label                   string
}

func run(ctx context.Context, e *peers.Env, o options) error {
	if err := e.Connect(); err != nil {
		return err
	}
	defer e.Close()
	re, err := regexp.Compile(o.only)
	if err != nil {
		return fmt.Errorf("-only: %w", err)
	}
	var cs []peers.Contender
	var order, windowed []string
	for _, c := range peers.Contenders() {
		if re.MatchString(c.Name) && (!c.Baseline || e.BaselineBin != "") {
			cs = append(cs, c)
			order = append(order, c.Name)
			if c.Windowed {
				windowed = append(windowed, c.Name)
			}
		}
	}
	nonce := time.Now().Unix()
	specs := []struct {
		name string
		spec workload.Spec
	}{
		{fmt.Sprintf("short posts (%d, seed 1)", o.posts), workload.Spec{Topic: fmt.Sprintf("bench-short-%d", nonce), Posts: o.posts, Seed: 1}},
	}
	if o.longPosts > 0 {
		specs = append(specs, struct {
			name string
			spec workload.Spec
		}{fmt.Sprintf("long posts (%d, ~%d words, seed 2)", o.longPosts, o.longWords),
			workload.Spec{Topic: fmt.Sprintf("bench-long-%d", nonce), Posts: o.longPosts, Seed: 2, Words: o.longWords}})
	}

	// Warm-up: every contender once on a small topic, not measured. It
	// resolves Spark's packages and fills the page cache with the jars.
	warm, err := e.Prepare(ctx, "warm-up", workload.Spec{Topic: fmt.Sprintf("bench-warm-%d", nonce), Posts: 20_000, Seed: 3})
	if err != nil {
		return err
	}
	for _, c := range cs {
		e.Throughput(ctx, c, warm, 0)
	}

	var inputs []peers.Input
	var all []peers.Run
	for _, s := range specs {
		in, err := e.Prepare(ctx, s.name, s.spec)
		if err != nil {
			return err
		}
		e.Log.Info("filled", "topic", in.Spec.Topic, "posts", in.Counts.Posts, "bytes", in.Counts.Bytes, "took", in.Fill)
		inputs = append(inputs, in)
		// Interleave contenders within each round so that a slow spell of
		// the shared machine spreads over all of them.
		for n := 1; n <= o.runs; n++ {
			for _, c := range cs {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				all = append(all, e.Throughput(ctx, c, in, n))
			}
		}
	}
	var lats []peers.Latency
	ls := peers.LatencySpec{Rate: o.rate, Duration: o.latFor, ProbeEvery: 100 * time.Millisecond, Warmup: 3 * time.Minute}
	for n := 1; n <= o.runs; n++ {
		for _, c := range cs {
			if c.Windowed && ctx.Err() == nil {
				lats = append(lats, e.Latency(ctx, c, ls, n))
			}
		}
	}

	var md bytes.Buffer
	writeReport(&md, o, inputs, order, windowed, all, lats)
	if err := os.WriteFile(filepath.Join(e.Out, "peers.md"), md.Bytes(), 0o644); err != nil {
		return err
	}
	js, _ := json.MarshalIndent(map[string]any{"inputs": inputs, "runs": all, "latency": lats}, "", "  ")
	if err := os.WriteFile(filepath.Join(e.Out, "peers.json"), js, 0o644); err != nil {
		return err
	}
	os.Stdout.Write(md.Bytes())
	return nil
}

func writeReport(w *bytes.Buffer, o options, inputs []peers.Input, order, windowed []string, runs []peers.Run, lats []peers.Latency) {
	title := "Peer benchmarks"
	if o.label != "" {
		title += " (" + o.label + ")"
	}
	fmt.Fprintf(w, "### %s, %s\n\n", title, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "Machine: %d cores (%s), %s memory, %s. %s\n\n", runtime.NumCPU(), cpuModel(), memTotal(), kernel(), o.versions)
	fmt.Fprintf(w, "Medians of %d runs per row; spread is ±half the range of posts/s over the runs.\n\n", o.runs)
	for _, in := range inputs {
		fmt.Fprintf(w, "#### %s\n\n", in.Name)
		fmt.Fprintf(w, "%d posts, %.0f MB of post JSON (%.0f bytes/post), %d with hashtags, %d distinct keys; filled in %.1f s.\n\n",
			in.Counts.Posts, float64(in.Counts.Bytes)/1e6, float64(in.Counts.Bytes)/float64(max(in.Counts.Posts, 1)),
			in.Counts.PostsWithTags, len(in.Counts.ByKey), in.Fill.Seconds())
		var rs []peers.Run
		for _, r := range runs {
			if r.Workload == in.Name {
				rs = append(rs, r)
			}
		}
		report.Throughput(w, report.Rows(order, rs))
		fmt.Fprintln(w)
	}
	if len(lats) > 0 {
		fmt.Fprintf(w, "#### Produce-to-output latency at %d posts/s\n\n", o.rate)
		report.Latencies(w, windowed, lats)
		fmt.Fprintln(w)
	}
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			if i := strings.IndexByte(l, ':'); i >= 0 {
				return strings.TrimSpace(l[i+1:])
			}
		}
	}
	return "unknown CPU"
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	var kb int64
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "MemTotal:") {
			fmt.Sscanf(strings.TrimPrefix(l, "MemTotal:"), "%d", &kb)
		}
	}
	return fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
}

func kernel() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return "Linux " + strings.TrimSpace(string(b))
}
