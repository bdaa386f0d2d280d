package follow_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/services/printer/internal/follow"
)

// values collects what the follower hands over.
type values struct {
	mu sync.Mutex
	v  []string
}

func (v *values) add(r follow.Record) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.v = append(v.v, string(r.Value))
	return nil
}

func (v *values) get() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.v...)
}

func run(t *testing.T, cfg follow.Config, h follow.Handler) (*follow.Follower, *systest.Buffer) {
	t.Helper()
	log := &systest.Buffer{}
	f := follow.New(cfg, slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	systest.RunUntilCleanup(t, "Run", func(ctx context.Context) error { return f.Run(ctx, h) })
	return f, log
}

// transactions writes each batch in its own transaction, committing or
// aborting it.
func transactions(t *testing.T, topic string, commit bool, batches ...[]string) {
	t.Helper()
	p := kafkatest.TransactionalProducer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, batch := range batches {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		delivered := make(chan kafka.Event, len(batch))
		for _, v := range batch {
			if err := p.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 0}, Value: []byte(v)}, delivered); err != nil {
				t.Fatal(err)
			}
		}
		for range batch {
			if m := (<-delivered).(*kafka.Message); m.TopicPartition.Error != nil {
				t.Fatalf("delivery: %v", m.TopicPartition.Error)
			}
		}
		var err error
		if commit {
			err = p.CommitTransaction(ctx)
		} else {
			err = p.AbortTransaction(ctx)
		}
		if err != nil {
			t.Fatalf("end transaction (commit %v): %v", commit, err)
		}
	}
}

func cfg(t *testing.T, topic string, from follow.From) follow.Config {
	return follow.Config{
		Kafka: kafkaconn.Config{Brokers: kafkatest.Brokers(t), SecurityProtocol: "plaintext", Replication: 1},
		Topic: topic, From: from, Retry: 200 * time.Millisecond,
	}
}

func TestLatestLooksPastTransactionMarkersAndAbortedRecords(t *testing.T) {
	topic := kafkatest.Topic(t, "top-hashtags", 1, nil)
	transactions(t, topic, true, []string{"s1"}, []string{"s2"})
	// 25 aborted transactions of two records each and their markers: 75
	// offsets after the last committed record, more than the first look back.
	var aborted [][]string
	for range 25 {
		aborted = append(aborted, []string{"aborted", "aborted"})
	}
	transactions(t, topic, false, aborted...)

	var got values
	f, log := run(t, cfg(t, topic, follow.Latest), got.add)
	systest.Await(t, "the latest committed record", time.Minute, func() bool { return len(got.get()) >= 1 }, log.String)
	if v := oneMore(t, f, log, topic, &got, "s3"); strings.Join(v, ",") != "s2,s3" {
		t.Fatalf("handed %v, want [s2 s3]", v)
	}
}

// oneMore waits until f is ready, commits one more record, value, waits
// until f has handed it too, and returns all f handed.
func oneMore(t *testing.T, f *follow.Follower, log *systest.Buffer, topic string, got *values, value string) []string {
	t.Helper()
	n := len(got.get())
	systest.Await(t, "readiness", time.Minute, func() bool { return f.Ready() == nil }, log.String)
	transactions(t, topic, true, []string{value})
	systest.Await(t, "the next committed record", time.Minute, func() bool { return len(got.get()) > n }, log.String)
	return got.get()
}

func TestLatestOfATopicHoldingOnlyAbortedRecordsShowsNothingUntilANewOne(t *testing.T) {
	topic := kafkatest.Topic(t, "top-hashtags", 1, nil)
	transactions(t, topic, false, []string{"aborted"}, []string{"aborted"})
	var got values
	f, log := run(t, cfg(t, topic, follow.Latest), got.add)
	if v := oneMore(t, f, log, topic, &got, "s1"); strings.Join(v, ",") != "s1" {
		t.Fatalf("handed %v, want [s1]", v)
	}
}

func TestAnUnreachableBrokerIsReportedOnce(t *testing.T) {
	addr := kafkatest.Unreachable(t)
	c := follow.Config{
		Kafka: kafkaconn.Config{Brokers: addr, SecurityProtocol: "plaintext", Replication: 1},
		Topic: "top-hashtags", Retry: 100 * time.Millisecond, Timeout: 500 * time.Millisecond,
	}
	var got values
	f, log := run(t, c, got.add)
	const said = "broker unreachable; retrying"
	systest.Await(t, "the report", time.Minute, func() bool { return strings.Contains(log.String(), said) }, log.String)
	// Several more attempts fail; none may repeat the report.
	systest.Await(t, "a third failed attempt", time.Minute, func() bool { return strings.Contains(log.String(), "attempt=3 ") }, log.String)
	if err := f.Ready(); err == nil || !strings.Contains(err.Error(), "broker unreachable") {
		t.Fatalf("Ready() = %v, want broker unreachable", err)
	}
	if n := strings.Count(log.String(), said); n != 1 {
		t.Fatalf("reported %d times, want once:\n%s", n, log.String())
	}
	if strings.Contains(log.String(), "level=ERROR") {
		t.Fatalf("client noise in the log:\n%s", log.String())
	}
}

func TestParseFrom(t *testing.T) {
	for in, want := range map[string]follow.From{"latest": follow.Latest, "beginning": follow.Beginning} {
		if got, err := follow.ParseFrom(in); err != nil || got != want {
			t.Errorf("ParseFrom(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := follow.ParseFrom("earliest"); err == nil {
		t.Error("ParseFrom(earliest) accepted a value that is not latest or beginning")
	}
}
