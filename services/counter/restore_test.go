package main_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/systest/expect"
	"github.com/hashtrend/hashtrend/services/counter/internal/state"
)

// TestAStalledRestoreFailsTheStageAndRecovers leaves a transaction open on
// the state partition while the counter is stopped, as a writer that
// neither commits nor aborts would: the restarted counter's restore cannot
// read past it, says where it stands once it has made no progress for
// COUNTER_RESTORE_STALL, and fails the rank stage, which the supervisor
// starts again with new clients. Nothing is published meanwhile. Once the
// transaction is aborted the restore finishes, and the counter publishes
// totals exact to the input, the aborted record in none of them.
func TestAStalledRestoreFailsTheStageAndRecovers(t *testing.T) {
	const stall = 8 * time.Second // more than the test's 6 s transaction timeout, as the counter demands
	p := newPipeline(t, 3)
	posts := syntheticPosts(61, 30_000)
	e := expect.Of(posts)
	keys, values := encoded(t, posts)
	produce(t, p.brokers, p.tweets, keys[:10_000], values[:10_000])
	snaps := follow(t, p)
	env := "COUNTER_RESTORE_STALL=" + stall.String()
	c := start(t, p, "stall", env)
	snaps.waitPosts(t, 10_000, 2*time.Minute, c)
	c.stop()

	// A total far from the truth, so that a restore that read it would
	// publish it.
	var tag string
	for k := range e.Counts {
		tag = k
		break
	}
	bogus, err := state.EncodeTotal(state.Total{Count: e.Counts[tag] + 1_000_000, Spelling: e.Spelling(tag)})
	if err != nil {
		t.Fatal(err)
	}
	open := openTransaction(t, p.brokers, p.counts, []byte(tag), bogus)

	restarted := time.Now()
	c = start(t, p, "stall", env)
	produce(t, p.brokers, p.tweets, keys[10_000:], values[10_000:])
	// The restore gave up, and the stage was started again.
	c.waitLog(stallMsg, 1, 3*time.Minute)
	c.waitMetric(`hashtrend_counter_stage_restarts_total{stage="rank"}`, func(v float64) bool { return v >= 1 }, 3*time.Minute)
	line := stallLine(t, c.Output())
	if want := fmt.Sprintf("partition=0 read_to=%d end=%d", open.offset, open.offset+1); !strings.Contains(line, want) {
		t.Fatalf("the stall says %q; want where it stands: %s", line, want)
	}
	if still := noProgress(t, line); still < stall {
		t.Fatalf("the restore failed after %s without progress, before the bound of %s: %s", still, stall, line)
	}

	aborted := time.Now()
	open.abort(t)
	snaps.waitPosts(t, int64(len(posts)), 3*time.Minute, c)
	verify(t, p, snaps, e)
	for _, s := range snaps.list() {
		if s.ProducedAt.After(restarted) && s.ProducedAt.Before(aborted) {
			t.Fatalf("batch %d published at %s, while the restore was held back by the open transaction (%s to %s)",
				s.Batch, s.ProducedAt, restarted, aborted)
		}
	}
	if !strings.Contains(c.Output(), `msg="totals restored"`) {
		t.Fatal("no restore finished, yet snapshots go on")
	}
	c.stop()
}

// stalledTxn is a transaction left open on a partition.
type stalledTxn struct {
	p      *kafka.Producer
	offset int64 // of its record
}

// openTransaction writes key and value to partition 0 of topic in a
// transaction that it leaves open, with a timeout far longer than the
// test: read_committed readers cannot read past it until abort.
func openTransaction(t *testing.T, brokers, topic string, key, value []byte) *stalledTxn {
	t.Helper()
	p, err := kafka.NewProducer(&kafka.ConfigMap{"bootstrap.servers": brokers,
		"transactional.id": topic + "-held", "transaction.timeout.ms": 600000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.InitTransactions(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	delivered := make(chan kafka.Event, 1)
	if err := p.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 0}, Key: key, Value: value}, delivered); err != nil {
		t.Fatal(err)
	}
	m := (<-delivered).(*kafka.Message)
	if m.TopicPartition.Error != nil {
		t.Fatal(m.TopicPartition.Error)
	}
	return &stalledTxn{p: p, offset: int64(m.TopicPartition.Offset)}
}

// abort ends the transaction.
func (s *stalledTxn) abort(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.p.AbortTransaction(ctx); err != nil {
		t.Fatal(err)
	}
}

// stallMsg is the message of the line a read that gives up for want of
// progress logs.
const stallMsg = `msg="reading to the end: no progress, giving up"`

// stallLine is the first line of out in which a read gave up for want of
// progress.
func stallLine(t *testing.T, out string) string {
	t.Helper()
	for l := range strings.Lines(out) {
		if strings.Contains(l, stallMsg) {
			return strings.TrimSpace(l)
		}
	}
	t.Fatalf("no read gave up for want of progress:\n%s", out)
	return ""
}

var noProgressAttr = regexp.MustCompile(`\bno_progress=(\S+)`)

// noProgress is how long the stall line says nothing moved.
func noProgress(t *testing.T, line string) time.Duration {
	t.Helper()
	m := noProgressAttr.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("the stall line says not how long nothing moved: %s", line)
	}
	d, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatalf("no_progress=%s: %v", m[1], err)
	}
	return d
}
