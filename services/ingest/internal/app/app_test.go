package app

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/pkg/topic"
	"github.com/hashtrend/hashtrend/services/ingest/internal/publish"
)

// keepForever is the config of test topics that hold old timestamps: the
// production retention (7 days) would delete a 2016 replay within seconds.
var keepForever = map[string]string{"retention.ms": "-1"}

// load builds the Config from the environment as the service does.
func load(t testing.TB, env map[string]string) Config {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var cfg Config
	if err := config.Load(&cfg); err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func run(t testing.TB, cfg Config) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := Run(ctx, cfg, quietLog()); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestReplayLeavesExactlyTheRecordedPostsKeyedByIDWithTheirCreatedAt(t *testing.T) {
	path := systest.SharedData(t, "tweets", "ctit-dutch-tweets.json.gz")
	// What the file holds, read without the service's decoder.
	want := map[string]time.Time{}
	for _, line := range systest.SharedLines(t, "tweets", "ctit-dutch-tweets.json.gz") {
		var tw struct {
			ID        string `json:"id_str"`
			CreatedAt string `json:"created_at"`
			MS        string `json:"timestamp_ms"`
		}
		if err := json.Unmarshal(line, &tw); err != nil {
			t.Fatal(err)
		}
		ts, err := time.Parse(time.RubyDate, tw.CreatedAt)
		if err != nil {
			t.Fatal(err)
		}
		// created_at has whole seconds; timestamp_ms is the same instant to
		// the millisecond, and the post keeps the finer one.
		if ms, err := strconv.ParseInt(tw.MS, 10, 64); err == nil {
			if exact := time.UnixMilli(ms); exact.Truncate(time.Second).Equal(ts) {
				ts = exact
			}
		}
		want[tw.ID] = ts
	}
	if len(want) != 1000 {
		t.Fatalf("the file holds %d distinct posts, expected 1000", len(want))
	}

	name := kafkatest.Topic(t, "tweets", 3, keepForever)
	began := time.Now().Add(-time.Second)
	run(t, load(t, map[string]string{
		"KAFKA_BROKERS": kafkatest.Brokers(t), "INGEST_OPS_ADDR": "off", "TOPIC_TWEETS": name,
		"INGEST_SOURCE": "file", "INGEST_FILE_PATHS": path,
	}))
	ended := time.Now().Add(time.Second)

	got := kafkatest.ReadAll(t, name, 60*time.Second)
	if len(got) != len(want) {
		t.Fatalf("%d records in the topic, want %d", len(got), len(want))
	}
	seen := map[string]bool{}
	for _, m := range got {
		key := string(m.Key)
		ts, ok := want[key]
		if !ok || seen[key] {
			t.Fatalf("unexpected or repeated key %q", key)
		}
		seen[key] = true
		// The record is stamped when produced (the retention counts from
		// it); the post keeps its own time.
		if m.Timestamp.Before(began) || m.Timestamp.After(ended) {
			t.Fatalf("post %s timestamped %s, not during the run", key, m.Timestamp)
		}
		p, err := post.Decode(m.Value)
		if err != nil || p.ID != key {
			t.Fatalf("record %s: value %v (id %q)", key, err, p.ID)
		}
		if !p.CreatedAt.Equal(ts) {
			t.Fatalf("post %s created_at %s, want %s", key, p.CreatedAt, ts)
		}
		if len(m.Headers) != 1 || m.Headers[0].Key != publish.HeaderSource || string(m.Headers[0].Value) != "twitter" {
			t.Fatalf("record %s headers %v, want source=twitter", key, m.Headers)
		}
	}
}

func TestSyntheticSourceWithAFixedSeedProducesTheSamePostsTwice(t *testing.T) {
	const n = 3000
	var runs [2]map[string]string
	for i := range runs {
		name := kafkatest.Topic(t, fmt.Sprintf("tweets%d", i), 2, keepForever)
		run(t, load(t, map[string]string{
			"KAFKA_BROKERS": kafkatest.Brokers(t), "INGEST_OPS_ADDR": "off", "TOPIC_TWEETS": name,
			"INGEST_SOURCE": "synthetic", "INGEST_SYNTHETIC_SEED": "42", "INGEST_SYNTHETIC_COUNT": fmt.Sprint(n),
			"INGEST_SYNTHETIC_START": "2025-06-01T00:00:00Z",
		}))
		runs[i] = map[string]string{}
		for _, m := range kafkatest.ReadAll(t, name, 60*time.Second) {
			runs[i][string(m.Key)] = string(m.Value)
		}
		if len(runs[i]) != n {
			t.Fatalf("run %d: %d distinct posts in the topic, want %d", i+1, len(runs[i]), n)
		}
	}
	for k, v := range runs[0] {
		if runs[1][k] != v {
			t.Fatalf("post %s differs between runs:\n%s\n%s", k, v, runs[1][k])
		}
	}
}

func TestAnExistingTopicWithTheWrongCleanupPolicyStopsTheStart(t *testing.T) {
	name := kafkatest.Topic(t, "tweets", 1, map[string]string{"cleanup.policy": "compact"})
	cfg := load(t, map[string]string{
		"KAFKA_BROKERS": kafkatest.Brokers(t), "INGEST_OPS_ADDR": "off", "TOPIC_TWEETS": name,
		"INGEST_SOURCE": "synthetic", "INGEST_SYNTHETIC_COUNT": "10",
	})
	if err := Run(t.Context(), cfg, quietLog()); err == nil {
		t.Fatal("Run produced into a compacted tweets topic")
	}
}

// BenchmarkReplay compares, in the same run on the same broker, a raw
// producer writing the recorded lines, the file source through the plain
// idempotent producer (INGEST_TRANSACTIONS=false) and through the
// transactional one with positions (the default): the cost of decoding,
// normalising and re-encoding each post, and then of the transactions.
func BenchmarkReplay(b *testing.B) {
	path := systest.SharedData(b, "tweets", "ctit-dutch-tweets.json.gz")
	const passes = 10 // 10 000 posts per iteration
	var lines [][]byte
	fh, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	zr, _ := gzip.NewReader(fh)
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	fh.Close()
	files := path
	for range passes - 1 {
		files += "," + path
	}
	brokers := kafkatest.Brokers(b)

	b.Run("raw-producer", func(b *testing.B) {
		for b.Loop() {
			name := kafkatest.Topic(b, "raw", 3, keepForever)
			start := time.Now()
			p, err := kafka.NewProducer(&kafka.ConfigMap{"bootstrap.servers": brokers, "enable.idempotence": true,
				"acks": "all", "compression.type": "lz4", "linger.ms": 5})
			if err != nil {
				b.Fatal(err)
			}
			done := make(chan kafka.Event, 1024)
			go func() {
				for range passes * len(lines) {
					<-done
				}
				close(done)
			}()
			for range passes {
				for i, l := range lines {
					m := &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &name, Partition: kafka.PartitionAny},
						Key: fmt.Appendf(nil, "%d", i), Value: l}
					for p.Produce(m, done) != nil {
						p.Flush(10)
					}
				}
			}
			p.Flush(60000)
			p.Close()
			b.ReportMetric(float64(passes*len(lines))/time.Since(start).Seconds(), "posts/s")
		}
	})
	for _, mode := range []struct{ name, transactions string }{
		{"ingest-file-plain", "false"},
		{"ingest-file-transactional", "true"},
	} {
		b.Run(mode.name, func(b *testing.B) {
			for b.Loop() {
				name := kafkatest.Topic(b, "ingest", 3, keepForever)
				cfg := load(b, map[string]string{
					"KAFKA_BROKERS": brokers, "INGEST_OPS_ADDR": "off", "TOPIC_TWEETS": name,
					"TOPIC_POSITIONS": kafkatest.Name(b, "positions"), "INGEST_TRANSACTIONS": mode.transactions,
					"INGEST_SOURCE": "file", "INGEST_FILE_PATHS": files,
				})
				start := time.Now()
				run(b, cfg)
				b.ReportMetric(float64(passes*len(lines))/time.Since(start).Seconds(), "posts/s")
			}
		})
	}
}

func TestConfigValidatesOnlyTheChosenSource(t *testing.T) {
	rec := systest.SharedData(t, "tweets", "ctit-dutch-tweets.json.gz")
	for _, tc := range []struct {
		name string
		env  map[string]string
		bad  string
	}{
		{"a file source with its files", map[string]string{"INGEST_SOURCE": "file", "INGEST_FILE_PATHS": rec}, ""},
		{"another source's bad setting does not matter", map[string]string{"INGEST_SOURCE": "file", "INGEST_FILE_PATHS": rec, "INGEST_SYNTHETIC_SKEW": "0.5"}, ""},
		{"the chosen source's missing setting is named", map[string]string{"INGEST_SOURCE": "file"}, "INGEST_FILE_PATHS"},
		{"x without its token", map[string]string{"INGEST_SOURCE": "x", "INGEST_X_TRACK": "go"}, "INGEST_X_BEARER_TOKEN"},
		{"an unknown source", map[string]string{"INGEST_SOURCE": "myspace"}, "INGEST_SOURCE"},
		{"a bad producer setting", map[string]string{"INGEST_COMPRESSION": "brotli"}, "INGEST_COMPRESSION"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var cfg Config
			err := config.Load(&cfg)
			var ce *config.Error
			switch {
			case tc.bad == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.bad != "" && (!errors.As(err, &ce) || ce.Var != tc.bad):
				t.Fatalf("error %v, want one naming %s", err, tc.bad)
			}
		})
	}
}

func TestTheOldFileVariableStillReplaysWithADeprecationWarning(t *testing.T) {
	path := systest.SharedData(t, "tweets", "ctit-dutch-tweets.json.gz")
	name := kafkatest.Topic(t, "tweets", 1, keepForever)
	cfg := load(t, map[string]string{
		"KAFKA_BROKERS": kafkatest.Brokers(t), "INGEST_OPS_ADDR": "off", "TOPIC_TWEETS": name,
		"INGEST_SOURCE": "file", "INGEST_FILES": path,
	})
	var logs systest.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if err := Run(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !strings.Contains(logs.String(), "INGEST_FILES is deprecated, use INGEST_FILE_PATHS") {
		t.Fatalf("no deprecation warning in the log:\n%s", logs.String())
	}
	if got := len(kafkatest.ReadAll(t, name, 60*time.Second)); got != 1000 {
		t.Fatalf("%d records in the topic, the file holds 1000 posts", got)
	}
}

// TestSyntheticHistoryBeginsAHorizonBackAndReachesTheWallClock runs the
// synthetic source with a history of one minute at 500 posts a second: its
// posts begin one minute before the start, one step of post time apart,
// for at least the horizon's worth of posts (and no more than the horizon
// plus the time it took to write them), then go on stamped with the wall
// clock; created_at never goes back.
func TestSyntheticHistoryBeginsAHorizonBackAndReachesTheWallClock(t *testing.T) {
	const rate, horizon = 500, time.Minute
	step := time.Second / rate
	name := kafkatest.Topic(t, "tweets", 1, nil) // one partition: the topic's order is the source's
	cfg := load(t, map[string]string{
		"KAFKA_BROKERS": kafkatest.Brokers(t), "INGEST_OPS_ADDR": "off", "TOPIC_TWEETS": name,
		"INGEST_SOURCE": "synthetic", "INGEST_SYNTHETIC_SEED": "8",
		"INGEST_SYNTHETIC_RATE": strconv.Itoa(rate), "INGEST_SYNTHETIC_HISTORY": horizon.String(),
	})
	var logs systest.Buffer
	began := time.Now()
	stop := systest.RunInBackground(t, "ingest", func(ctx context.Context) error {
		return Run(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	})
	written := regexp.MustCompile(`msg="history written" .*posts=([0-9]+) `)
	var n int
	systest.Await(t, "the history's log line", 2*time.Minute, func() bool {
		m := written.FindStringSubmatch(logs.String())
		if m != nil {
			n, _ = strconv.Atoi(m[1])
		}
		return m != nil
	}, logs.String)
	wrote := time.Now()
	// Then live posts, at the rate: a second's worth committed.
	admin := kafkatest.Admin(t)
	systest.Await(t, "live posts after the history", time.Minute, func() bool {
		end, err := topic.EndOffsets(t.Context(), admin, name, kafka.IsolationLevelReadCommitted)
		return err == nil && end[0] >= int64(n+rate)
	})
	stop()
	stopped := time.Now()

	msgs := kafkatest.ReadAll(t, name, time.Minute)
	posts := make([]post.Post, len(msgs))
	for i, m := range msgs {
		p, err := post.Decode(m.Value)
		if err != nil {
			t.Fatalf("offset %d: %v", m.TopicPartition.Offset, err)
		}
		posts[i] = p
	}
	if min, max := int(horizon/step), int((horizon+wrote.Sub(began))/step)+1; n < min || n > max {
		t.Errorf("%d history posts; the horizon at the rate is %d, with the %s it took %d", n, min, wrote.Sub(began).Round(time.Millisecond), max)
	}
	if len(posts) < n+rate {
		t.Fatalf("%d posts in the topic, %d of them history", len(posts), n)
	}
	first := posts[0].CreatedAt
	if first.Before(began.Add(-horizon).Add(-time.Millisecond)) || first.After(wrote.Add(-horizon)) {
		t.Errorf("the first post is created at %s, not a horizon of %s before the start (%s)", first, horizon, began.UTC())
	}
	for j, p := range posts {
		if j > 0 && p.CreatedAt.Before(posts[j-1].CreatedAt) {
			t.Fatalf("post %d created at %s, before post %d at %s", j, p.CreatedAt, j-1, posts[j-1].CreatedAt)
		}
		if j >= n {
			continue
		}
		if d := p.CreatedAt.Sub(first) - time.Duration(j)*step; d < -time.Millisecond || d > time.Millisecond {
			t.Fatalf("history post %d is created %s after the first, want %s", j, p.CreatedAt.Sub(first), time.Duration(j)*step)
		}
	}
	// The history reaches the time it was written at; the live posts are
	// stamped with the wall clock as they go.
	if last := posts[n-1].CreatedAt; last.Before(began) || last.After(wrote) {
		t.Errorf("the last history post is created at %s, not between the start %s and the log line %s", last, began.UTC(), wrote.UTC())
	}
	if live := posts[len(posts)-1].CreatedAt; live.Before(wrote) || live.After(stopped) {
		t.Errorf("the last post is created at %s, not between the history's end %s and the stop %s", live, wrote.UTC(), stopped.UTC())
	}
	t.Logf("%d history posts written in %s; %d posts in all", n, wrote.Sub(began).Round(time.Millisecond), len(posts))
}
