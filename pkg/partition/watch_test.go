package partition_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/partition"
	"github.com/hashtrend/hashtrend/pkg/systest"
)

// watcher counts what a reader's Watch was told.
type watcher struct{ away, back, missing, found atomic.Int64 }

func (w *watcher) watch() *partition.Watch {
	return &partition.Watch{
		Away:    func(error) { w.away.Add(1) },
		Back:    func() { w.back.Add(1) },
		Missing: func(error) { w.missing.Add(1) },
		Found:   func() { w.found.Add(1) },
		Retry:   100 * time.Millisecond, Timeout: time.Second,
	}
}

// follow runs r.Follow until the test ends, counting the records handed.
func follow(t *testing.T, r *partition.Reader) *atomic.Int64 {
	var n atomic.Int64
	systest.RunUntilCleanup(t, "Follow", func(ctx context.Context) error {
		return r.Follow(ctx, func(partition.Record) error { n.Add(1); return nil })
	})
	return &n
}

// TestFollowAtTheEndIsNotAway: a follower at the end of its partition
// hears nothing for seconds, and that is not the broker being away; a
// topic created while it waited is found.
func TestFollowAtTheEndIsNotAway(t *testing.T) {
	name := kafkatest.Name(t, "watch")
	var w watcher
	cfg := config(t, name, false)
	cfg.Watch = w.watch()
	r, err := partition.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	found := make(chan int, 1)
	go func() {
		n, _ := r.WaitForTopic(t.Context())
		found <- n
	}()
	systest.Await(t, "the topic reported missing", time.Minute, func() bool { return w.missing.Load() > 0 })
	kafkatest.CreateTopic(t, name, 1, nil)
	if n := <-found; n != 1 || w.found.Load() != 1 {
		t.Fatalf("WaitForTopic = %d partitions, found told %d times; want 1 and once", n, w.found.Load())
	}
	kafkatest.Produce(t, name, kafkatest.Record{Value: []byte("1")})
	if err := r.Assign(map[int32]int64{0: partition.Beginning}); err != nil {
		t.Fatal(err)
	}
	n := follow(t, r)
	systest.Await(t, "the first record", time.Minute, func() bool { return n.Load() == 1 })
	time.Sleep(3 * time.Second)
	kafkatest.Produce(t, name, kafkatest.Record{Value: []byte("2")})
	systest.Await(t, "the second record", time.Minute, func() bool { return n.Load() == 2 })
	if w.away.Load() != 0 {
		t.Fatalf("told the broker away %d times while it answered", w.away.Load())
	}
}

// TestAnUnreachableBrokerIsAway: every failed attempt to reach a broker
// that does not listen is told to the watcher, until the context ends.
func TestAnUnreachableBrokerIsAway(t *testing.T) {
	addr := kafkatest.Unreachable(t)
	var w watcher
	r, err := partition.Open(partition.Config{Kafka: kafkaconn.Config{Brokers: addr, SecurityProtocol: "plaintext"},
		Client: "watch-test", Topic: "top-hashtags", Watch: w.watch()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := r.WaitForTopic(ctx); err == nil {
		t.Fatal("WaitForTopic found a topic on a broker that does not listen")
	}
	if w.away.Load() < 2 || w.back.Load() != 0 || w.missing.Load() != 0 {
		t.Fatalf("told away %d, back %d, missing %d times; want away at every attempt, nothing else", w.away.Load(), w.back.Load(), w.missing.Load())
	}
}
