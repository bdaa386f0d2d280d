package peers

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/bench/internal/measure"
	"github.com/hashtrend/hashtrend/bench/internal/progress"
	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/partition"
	"github.com/hashtrend/hashtrend/pkg/retry"
	"github.com/hashtrend/hashtrend/pkg/topic"
)

// Contender is one program under test.
type Contender struct {
	Name string
	// Windowed contenders also get a latency trial.
	Windowed bool
	// Limit marks the reference rows.
	Limit bool
	// Baseline marks the row that runs only with Env.BaselineBin.
	Baseline bool
	// launch starts the program on input topic in with names derived from
	// id; it returns the process and how to tell it has caught up.
	launch func(ctx context.Context, e *Env, in, id string, mode Mode) (*launched, error)
}

// Mode is what a launch is for.
type Mode int

const (
	// Drain: read the pre-filled topic as fast as possible.
	Drain Mode = iota
	// Live: follow a paced topic, for the latency trial.
	Live
)

// launched is a started contender.
type launched struct {
	proc *measure.Proc
	// done returns when the contender has caught up with the input's end
	// (or a result line says so) and the posts it read.
	done func(ctx context.Context) (time.Time, error)
	// output is the topic probes appear in as record keys ("" when the
	// contender reports probes on stdout).
	output string
	// counts reads the final per-key counts from the output, for the check
	// (nil when the contender's rule differs from design.md's).
	counts func(ctx context.Context) (map[string]int64, error)
	// cleanup removes the run's topics.
	topics []string
}

func (e *Env) logPath(id string) string { return filepath.Join(e.Out, "logs", id+".log") }

// resultLine waits for a JSON line holding key on p's stdout.
func resultLine(ctx context.Context, p *measure.Proc, key string) (map[string]any, time.Time, error) {
	for {
		for _, l := range strings.Split(p.Stdout(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil {
				if msg, ok := m["error"]; ok {
					return nil, time.Time{}, fmt.Errorf("%v", msg)
				}
				if _, ok := m[key]; ok {
					return m, time.Now(), nil
				}
			}
		}
		select {
		case <-p.Done():
			// One last look: the line may have come with the exit.
			for _, l := range strings.Split(p.Stdout(), "\n") {
				var m map[string]any
				if json.Unmarshal([]byte(l), &m) == nil {
					if _, ok := m[key]; ok {
						return m, p.Exited(), nil
					}
				}
			}
			return nil, time.Time{}, fmt.Errorf("exited before reporting: %v", p.Err())
		case <-ctx.Done():
			return nil, time.Time{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Contenders returns every contender in the order they run.
func Contenders() []Contender {
	return []Contender{
		{Name: "limit: Go read_committed consumer", Limit: true, launch: drainWith()},
		{Name: "limit: ConsumerPerformance", Limit: true, launch: launchConsumerPerf},
		// The limit consumer as it read before it read in batches:
		// confluent-kafka-go's Poll, one record per call.
		{Name: "Go consumer, Poll per record", launch: drainWith("-poll")},
		// And before the fetch settings were measured too: librdkafka's
		// defaults, fetch.queue.backoff.ms=1000.
		{Name: "Go consumer, librdkafka fetch defaults", launch: drainWith("-poll", "-set", "fetch.queue.backoff.ms=1000")},
		{Name: "hashtrend counter", Windowed: true, launch: counterFrom(func(e *Env) string { return e.CounterBin })},
		// The counter built from another commit (BASELINE=ref), for a
		// before and after in one run; left out without one.
		{Name: BaselineName, Baseline: true, launch: counterFrom(func(e *Env) string { return e.BaselineBin })},
		{Name: "Kafka Streams (exactly_once_v2)", Windowed: true, launch: launchKStreams},
		{Name: "Spark: tutorial Exercise 2 (complete)", Windowed: true, launch: sparkLauncher("complete")},
		{Name: "Spark: 2 s window + watermark (update)", Windowed: true, launch: sparkLauncher("window")},
	}
}

// drainWith launches bench/cmd/drain with flags (-poll, -set key=value)
// over its defaults.
func drainWith(flags ...string) func(ctx context.Context, e *Env, in, id string, _ Mode) (*launched, error) {
	return func(ctx context.Context, e *Env, in, id string, _ Mode) (*launched, error) {
		args := append([]string{"-brokers", e.Brokers, "-topic", in}, flags...)
		p, err := measure.Start(e.DrainBin, args, nil, e.logPath(id))
		if err != nil {
			return nil, err
		}
		return &launched{proc: p, done: func(ctx context.Context) (time.Time, error) {
			_, at, err := resultLine(ctx, p, "posts")
			return at, err
		}}, nil
	}
}

func launchConsumerPerf(ctx context.Context, e *Env, in, id string, _ Mode) (*launched, error) {
	end, err := e.progress.EndOffsets(ctx, in)
	if err != nil {
		return nil, err
	}
	var n int64
	for _, o := range end {
		n += o
	}
	cfg := filepath.Join(e.Out, "logs", id+".properties")
	if err := os.WriteFile(cfg, []byte("isolation.level=read_committed\nauto.offset.reset=earliest\n"), 0o644); err != nil {
		return nil, err
	}
	p, err := measure.Start(e.KafkaSh, []string{"tool", "org.apache.kafka.tools.ConsumerPerformance",
		"--bootstrap-server", e.Brokers, "--topic", in, "--num-records", strconv.FormatInt(n, 10),
		"--group", id, "--command-config", cfg, "--timeout", "60000"},
		[]string{"KAFKA_HEAP=512m"}, e.logPath(id))
	if err != nil {
		return nil, err
	}
	return &launched{proc: p, done: func(ctx context.Context) (time.Time, error) {
		if err := p.Wait(ctx); err != nil {
			return time.Time{}, fmt.Errorf("ConsumerPerformance: %w (%s)", err, lastLines(e.logPath(id), 3))
		}
		if b, _ := os.ReadFile(e.logPath(id)); strings.Contains(string(b), "Exiting before consuming") {
			return time.Time{}, fmt.Errorf("ConsumerPerformance: %s", lastLines(e.logPath(id), 2))
		}
		return p.Exited(), nil
	}}, nil
}

// BaselineName is the row of the counter built from BASELINE.
const BaselineName = "hashtrend counter, baseline build"

// counterFrom launches the counter binary bin names.
func counterFrom(bin func(*Env) string) func(ctx context.Context, e *Env, in, id string, mode Mode) (*launched, error) {
	return func(ctx context.Context, e *Env, in, id string, mode Mode) (*launched, error) {
		if mode == Drain {
			if err := startOfWindow(ctx, time.Now()); err != nil {
				return nil, err
			}
		}
		return launchCounter(ctx, e, bin(e), in, id)
	}
}

// counterWindow is the counter's window length in these runs, its default.
const counterWindow = 2 * time.Second

// launchPhase is how far into a window a drained counter is launched.
const launchPhase = 50 * time.Millisecond

// startOfWindow waits until launchPhase past the next start of a window.
//
// The counter commits what it counted at window ends (tally) and half a
// second later (rank), and windows are aligned to the epoch: "caught up"
// is the first window end plus grace after the last post was counted. A
// drain of 1.5 s launched just after a window's start is caught up at 2.5
// s, the same drain launched 0.6 s later at 4.5 s. Launched at a random
// phase, a run's time would move by a whole window with the phase, and a
// baseline and a build compared in one invocation would differ by the
// luck of their launch times. Every counter run starts at the same phase,
// so both see the same windows, and a difference between them is one of
// speed. The figure is the time a user who starts the counter at a
// window's start waits; at a random phase it would be up to one window
// more.
func startOfWindow(ctx context.Context, now time.Time) error {
	at := now.Truncate(counterWindow).Add(counterWindow + launchPhase)
	return retry.Sleep(ctx, at.Sub(now))
}

func launchCounter(ctx context.Context, e *Env, bin, in, id string) (*launched, error) {
	names := topic.Names{Tweets: in, TweetsPartitions: 6, DLQ: id + "-dlq", Deltas: id + "-deltas",
		Counts: id + "-counts", Top: id + "-top", Facets: id + "-facets"}
	if err := e.ensure(ctx, names.DLQSpec(1), names.DeltasSpec(1), names.CountsSpec(1), names.TopSpec(1), names.FacetsSpec(1)); err != nil {
		return nil, fmt.Errorf("create counter topics: %w", err)
	}
	env := []string{
		"KAFKA_BROKERS=" + e.Brokers, "TOPIC_TWEETS=" + in, "TOPIC_DLQ=" + names.DLQ,
		"TOPIC_DELTAS=" + names.Deltas, "TOPIC_COUNTS=" + names.Counts, "TOPIC_TOP=" + names.Top, "TOPIC_FACETS=" + names.Facets,
		"COUNTER_GROUP_TALLY=" + id + "-tally", "COUNTER_GROUP_RANK=" + id + "-rank",
		"COUNTER_INSTANCE_ID=" + id, "COUNTER_OPS_ADDR=off", "LOG_LEVEL=warn",
		"COUNTER_WINDOW=" + counterWindow.String(),
	}
	p, err := measure.Start(bin, nil, env, e.logPath(id))
	if err != nil {
		return nil, err
	}
	return &launched{
		proc:   p,
		output: names.Counts,
		topics: []string{names.DLQ, names.Deltas, names.Counts, names.Top, names.Facets},
		done: func(ctx context.Context) (time.Time, error) {
			return e.waitGroups(ctx, p,
				progress.Target{Group: id + "-tally", Topics: map[string]int64{in: 0}},
				progress.Target{Group: id + "-rank", Topics: map[string]int64{names.Deltas: 1}})
		},
		counts: func(ctx context.Context) (map[string]int64, error) {
			return e.readCounts(ctx, names.Counts, func(v []byte) (int64, bool) {
				var t struct {
					Count int64 `json:"count"`
				}
				return t.Count, json.Unmarshal(v, &t) == nil
			})
		},
	}, nil
}

func launchKStreams(ctx context.Context, e *Env, in, id string, mode Mode) (*launched, error) {
	out := id + "-out"
	if err := e.ensure(ctx, topic.Spec{Name: out, Partitions: 1, ReplicationFactor: 1}); err != nil {
		return nil, fmt.Errorf("create %s: %w", out, err)
	}
	state := filepath.Join(e.Out, "state", id)
	p, err := measure.Start("java", []string{"-Xmx1g", "-cp", filepath.Join(e.KStreamsLib, "*"),
		filepath.Join(e.Root, "bench", "kstreams", "HashtagCount.java"),
		e.Brokers, in, out, id, state, "2"}, nil, e.logPath(id))
	if err != nil {
		return nil, err
	}
	repartition := id + "-by-hashtag-repartition"
	changelog := id + "-hashtag-counts-changelog"
	return &launched{
		proc:   p,
		output: out,
		topics: []string{out, repartition, changelog},
		done: func(ctx context.Context) (time.Time, error) {
			return e.waitGroups(ctx, p, progress.Target{Group: id, Topics: map[string]int64{in: 0, repartition: 1}})
		},
		counts: func(ctx context.Context) (map[string]int64, error) {
			return e.readCounts(ctx, out, func(v []byte) (int64, bool) {
				if len(v) != 8 {
					return 0, false
				}
				return int64(binary.BigEndian.Uint64(v)), true
			})
		},
	}, nil
}

func sparkLauncher(variant string) func(ctx context.Context, e *Env, in, id string, mode Mode) (*launched, error) {
	return func(ctx context.Context, e *Env, in, id string, mode Mode) (*launched, error) {
		args := []string{filepath.Join(e.Root, "bench", "spark", "hashtags.py"),
			"--brokers", e.Brokers, "--topic", in, "--variant", variant,
			"--checkpoint", filepath.Join(e.Out, "state", id)}
		if mode == Live {
			args = append(args, "--mode", "live")
		} else {
			end, err := e.progress.EndOffsets(ctx, in)
			if err != nil {
				return nil, err
			}
			b, _ := json.Marshal(end)
			args = append(args, "--mode", "drain", "--end", string(b))
		}
		env := []string{"PYSPARK_SUBMIT_ARGS=--driver-memory 1g --jars " + e.SparkJars + " pyspark-shell"}
		p, err := measure.Start(e.Python, args, env, e.logPath(id))
		if err != nil {
			return nil, err
		}
		return &launched{proc: p, done: func(ctx context.Context) (time.Time, error) {
			_, at, err := resultLine(ctx, p, "seconds")
			if err != nil {
				return at, fmt.Errorf("%w (%s)", err, lastLines(e.logPath(id), 3))
			}
			return at, nil
		}}, nil
	}
}

// waitGroups waits until every target has caught up, failing early when
// the process exits.
func (e *Env) waitGroups(ctx context.Context, p *measure.Proc, targets ...progress.Target) (time.Time, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-p.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	at, err := e.progress.WaitCaughtUp(ctx, 100*time.Millisecond, targets...)
	if err != nil {
		select {
		case <-p.Done():
			return at, fmt.Errorf("exited before catching up: %v", p.Err())
		default:
		}
	}
	return at, err
}

// readCounts reads topic to its end (read_committed) and returns the last
// value per key; keys starting with '#' are metadata and skipped.
func (e *Env) readCounts(ctx context.Context, t string, decode func([]byte) (int64, bool)) (map[string]int64, error) {
	out := map[string]int64{}
	err := partition.ReadAll(ctx, partition.Config{Kafka: kafkaconn.Config{Brokers: e.Brokers, SecurityProtocol: "plaintext"},
		Client: "bench-check", Topic: t}, kafka.IsolationLevelReadUncommitted, func(m partition.Record) error {
		if k := string(m.Key); !strings.HasPrefix(k, "#") {
			if n, ok := decode(m.Value); ok {
				out[k] = n
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// lastLines returns the last n non-empty lines of a log, joined.
func lastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			keep = append(keep, l)
		}
	}
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	return strings.Join(keep, " | ")
}
