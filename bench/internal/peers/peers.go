// Package peers runs the peer benchmarks: every contender in turn against
// the same pre-filled input on one broker, timed from launch until it has
// caught up (zero lag, or its own "done" line), its process tree's peak
// RSS and CPU seconds measured, its output checked against counts computed
// independently from the input where its rules are design.md's; then, for
// the windowed contenders, produce-to-output latency at a fixed input rate
// below saturation. Report turns the runs into the table of
// docs/benchmarks.md.
package peers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/bench/internal/measure"
	"github.com/hashtrend/hashtrend/bench/internal/probe"
	"github.com/hashtrend/hashtrend/bench/internal/progress"
	"github.com/hashtrend/hashtrend/bench/internal/workload"
	"github.com/hashtrend/hashtrend/pkg/topic"
)

// Env is where the contenders are and what they run against.
type Env struct {
	Brokers     string
	Root        string // repository root
	Out         string // scratch and results (gitignored)
	DrainBin    string
	CounterBin  string
	BaselineBin string // the counter built from another commit, or ""
	KafkaSh     string
	KStreamsLib string
	Python      string // the venv's python, with pyspark
	SparkJars   string // comma-separated jars of the Spark Kafka source
	Timeout     time.Duration
	Log         *slog.Logger

	admin    *kafka.AdminClient
	progress *progress.Checker
}

// Connect opens the admin clients.
func (e *Env) Connect() error {
	a, err := kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": e.Brokers, "client.id": "bench"})
	if err != nil {
		return err
	}
	e.admin = a
	e.progress, err = progress.NewChecker(e.Brokers)
	if err != nil {
		return err
	}
	for _, d := range []string{"logs", "state"} {
		if err := os.MkdirAll(filepath.Join(e.Out, d), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// Close releases the clients.
func (e *Env) Close() {
	if e.admin != nil {
		e.admin.Close()
	}
	if e.progress != nil {
		e.progress.Close()
	}
}

// ensure creates topics, retrying while a just-created topic is not yet
// visible to the follow-up describe.
func (e *Env) ensure(ctx context.Context, specs ...topic.Spec) error {
	var err error
	for range 20 {
		if err = topic.Ensure(ctx, e.admin, specs...); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(300 * time.Millisecond):
		}
	}
	return err
}

// Input is a pre-filled topic and what is in it.
type Input struct {
	Name   string // workload label
	Spec   workload.Spec
	Counts workload.Counts
	Fill   time.Duration
}

// Prepare creates and fills the input topic.
func (e *Env) Prepare(ctx context.Context, name string, s workload.Spec) (Input, error) {
	if err := e.ensure(ctx, topic.Spec{Name: s.Topic, Partitions: 6, ReplicationFactor: 1,
		// The synthetic posts are stamped 2024: keep them past time retention.
		Configs: map[string]string{"retention.ms": "-1"}}); err != nil {
		return Input{}, err
	}
	start := time.Now()
	c, err := workload.Fill(ctx, e.Brokers, s)
	if err != nil {
		return Input{}, fmt.Errorf("fill %s: %w", s.Topic, err)
	}
	return Input{Name: name, Spec: s, Counts: c, Fill: time.Since(start)}, nil
}

// Run is one timed run of one contender on one input.
type Run struct {
	Contender string
	Workload  string
	Seconds   float64 // launch to caught up
	Posts     int64
	Usage     measure.Usage
	Check     string
	Err       string
}

// PostsPerSec is the run's throughput.
func (r Run) PostsPerSec() float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return float64(r.Posts) / r.Seconds
}

// Throughput runs c once on in.
func (e *Env) Throughput(ctx context.Context, c Contender, in Input, n int) Run {
	id := fmt.Sprintf("b%d-%s-%d", time.Now().UnixNano()%1e9, slug(c.Name), n)
	r := Run{Contender: c.Name, Workload: in.Name, Posts: in.Counts.Posts}
	ctx, cancel := context.WithTimeout(ctx, e.Timeout)
	defer cancel()
	l, err := c.launch(ctx, e, in.Spec.Topic, id, Drain)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer e.deleteTopics(l.topics)
	at, err := l.done(ctx)
	if err == nil {
		r.Seconds = at.Sub(l.proc.Start).Seconds()
		r.Check = e.check(ctx, l, in)
	} else {
		r.Err = err.Error()
	}
	l.proc.Stop(30 * time.Second)
	r.Usage = l.proc.Usage()
	e.Log.Info("run", "contender", c.Name, "workload", in.Name, "run", n, "seconds", r.Seconds,
		"posts_per_s", int(r.PostsPerSec()), "rss_mib", r.Usage.PeakRSS>>20, "cpu_s", r.Usage.CPUSeconds,
		"check", r.Check, "err", r.Err)
	return r
}

// check compares a contender's final counts with the input's.
func (e *Env) check(ctx context.Context, l *launched, in Input) string {
	if l.counts == nil {
		return ""
	}
	// Outputs may trail the input offsets by a commit: poll for a while.
	deadline := time.Now().Add(30 * time.Second)
	var diff string
	for {
		got, err := l.counts(ctx)
		if err != nil {
			return "could not read output: " + err.Error()
		}
		diff = compare(got, in.Counts.ByKey)
		if diff == "" {
			return fmt.Sprintf("exact (%d keys)", len(got))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return "MISMATCH: " + diff
		}
		time.Sleep(time.Second)
	}
}

func compare(got, want map[string]int64) string {
	var bad []string
	for k, w := range want {
		if got[k] != w {
			bad = append(bad, fmt.Sprintf("%s=%d want %d", k, got[k], w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			bad = append(bad, fmt.Sprintf("%s=%d unexpected", k, g))
		}
	}
	if len(bad) == 0 {
		return ""
	}
	sort.Strings(bad)
	return fmt.Sprintf("%d keys differ, e.g. %v", len(bad), bad[:min(3, len(bad))])
}

// Latency is one latency trial.
type Latency struct {
	Contender string
	Rate      int
	P50, P99  time.Duration
	Seen      int
	Sent      int
	Err       string
}

// LatencySpec shapes a latency trial.
type LatencySpec struct {
	Rate       int
	Duration   time.Duration
	ProbeEvery time.Duration
	Warmup     time.Duration // longest wait for the first probe to come out
}

// Latency runs c on a paced live stream.
func (e *Env) Latency(ctx context.Context, c Contender, s LatencySpec, n int) Latency {
	id := fmt.Sprintf("l%d-%s-%d", time.Now().UnixNano()%1e9, slug(c.Name), n)
	res := Latency{Contender: c.Name, Rate: s.Rate}
	in := id + "-in"
	if err := e.ensure(ctx, topic.Spec{Name: in, Partitions: 6, ReplicationFactor: 1}); err != nil {
		res.Err = err.Error()
		return res
	}
	defer e.deleteTopics([]string{in})
	l, err := c.launch(ctx, e, in, id, Live)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer e.deleteTopics(l.topics)
	defer l.proc.Stop(30 * time.Second)

	var w *probe.Watcher
	if l.output != "" {
		if w, err = probe.Start(ctx, e.Brokers, l.output); err != nil {
			res.Err = err.Error()
			return res
		}
	} else {
		w = probe.NewWatcher()
		stop := make(chan struct{})
		defer close(stop)
		go probesOnStdout(l.proc, w, stop)
	}
	defer w.Stop()
	seen := w.Seen
	pctx, stopProducing := context.WithCancel(ctx)
	sent := make(chan workload.Sent, 1<<16)
	perr := make(chan error, 1)
	go func() {
		perr <- workload.Live(pctx, e.Brokers, workload.LiveSpec{Topic: in, Rate: s.Rate, ProbeEvery: s.ProbeEvery, Seed: 7}, sent)
	}()
	defer stopProducing()

	// Warm up until the first probe comes out: from then on it is running.
	deadline := time.Now().Add(s.Warmup)
	for len(seen()) == 0 {
		select {
		case <-l.proc.Done():
			res.Err = fmt.Sprintf("exited during warm-up: %v (%s)", l.proc.Err(), lastLines(e.logPath(id), 3))
			return res
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			res.Err = fmt.Sprintf("no probe came out within %s", s.Warmup)
			return res
		}
	}
	from := time.Now().Add(time.Second)
	time.Sleep(time.Until(from) + s.Duration)
	stopProducing()
	if err := <-perr; err != nil {
		res.Err = "producer: " + err.Error()
		return res
	}
	var measured []workload.Sent
	for len(sent) > 0 {
		p := <-sent
		if p.At.After(from) {
			measured = append(measured, p)
		}
	}
	// Give the last probes time to come out, as long as they keep coming.
	var lat []time.Duration
	for wait := time.Now().Add(15 * time.Second); time.Now().Before(wait); time.Sleep(200 * time.Millisecond) {
		got := seen()
		lat = lat[:0]
		for _, p := range measured {
			if d, ok := got[p.Key]; ok {
				lat = append(lat, d)
			}
		}
		if len(lat) == len(measured) {
			break
		}
	}
	res.Sent, res.Seen = len(measured), len(lat)
	res.P50, res.P99 = probe.Quantile(lat, 0.5), probe.Quantile(lat, 0.99)
	if res.Seen == 0 {
		res.Err = "no probe seen after warm-up"
	}
	e.Log.Info("latency", "contender", c.Name, "run", n, "rate", s.Rate, "p50", res.P50, "p99", res.P99,
		"seen", res.Seen, "sent", res.Sent, "err", res.Err)
	return res
}

func (e *Env) deleteTopics(names []string) {
	if len(names) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = e.admin.DeleteTopics(ctx, names)
}

func slug(s string) string {
	var b []byte
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b = append(b, byte(r))
		case r >= 'A' && r <= 'Z':
			b = append(b, byte(r-'A'+'a'))
		case len(b) > 0 && b[len(b)-1] != '-':
			b = append(b, '-')
		}
		if len(b) >= 24 {
			break
		}
	}
	return string(b)
}

// probesOnStdout feeds w the probe lines a contender prints itself:
// {"probe":"probe<ms>","latency_ms":L}.
func probesOnStdout(p *measure.Proc, w *probe.Watcher, stop <-chan struct{}) {
	done := 0
	for {
		out := p.Stdout()
		for ; ; done++ {
			i := strings.IndexByte(out[done:], '\n')
			if i < 0 {
				break
			}
			var m struct {
				Probe     string  `json:"probe"`
				LatencyMS float64 `json:"latency_ms"`
			}
			if json.Unmarshal([]byte(out[done:done+i]), &m) == nil && m.Probe != "" {
				w.NoteLatency(m.Probe, time.Duration(m.LatencyMS*float64(time.Millisecond)))
			}
			done += i
		}
		select {
		case <-stop:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}
