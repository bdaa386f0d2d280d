package state_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/services/counter/internal/state"
)

func totals(from, to int, count int64) []kafkatest.Record {
	var recs []kafkatest.Record
	for i := from; i < to; i++ {
		v, _ := state.EncodeTotal(state.Total{Count: count, Spelling: "a"})
		recs = append(recs, kafkatest.Record{Key: fmt.Appendf(nil, "k%d", i%500), Value: v})
	}
	return recs
}

// TestTailFollowsThenCatchesUpWithWhatFollowed: a tail that followed part
// of the topic and stopped, then caught up with records written since,
// holds what a restore of the whole topic reads, having read only the
// records it had not.
func TestTailFollowsThenCatchesUpWithWhatFollowed(t *testing.T) {
	name := kafkatest.Topic(t, "counts", 1, nil)
	kc := kafkaconn.Config{Brokers: kafkatest.Brokers(t), SecurityProtocol: "plaintext"}
	kafkatest.Produce(t, name, totals(0, 3000, 1)...)
	tail, err := state.OpenTail(kc, name, 0, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer tail.Close()
	got := map[string]int64{}
	var seen atomic.Int64
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- tail.Follow(ctx, func(r state.Record) error {
			got[string(r.Key)] = r.Total.Count
			seen.Add(1)
			return nil
		})
	}()
	for deadline := time.Now().Add(2 * time.Minute); seen.Load() < 3000; {
		if time.Now().After(deadline) {
			t.Fatalf("the tail applied %d of 3000 records within 2 minutes", seen.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	kafkatest.Produce(t, name, totals(3000, 3700, 2)...)
	n, err := tail.CatchUp(context.Background(), func(r state.Record) error {
		got[string(r.Key)] = r.Total.Count
		return nil
	})
	if err != nil || n != 700 || tail.Records() != 3700 {
		t.Fatalf("CatchUp = %d, %v (%d in all); want the 700 written since (3700)", n, err, tail.Records())
	}
	want := map[string]int64{}
	if _, err := state.Restore(context.Background(), kc, name, 0, slog.Default(), func(r state.Record) error {
		want[string(r.Key)] = r.Total.Count
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("the tail holds %d keys, a restore %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: the tail holds %d, a restore %d", k, got[k], v)
		}
	}
}
