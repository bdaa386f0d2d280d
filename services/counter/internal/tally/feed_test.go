package tally

import (
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// TestFeedCountsEverythingInOrderBeforeDrainReturns puts records in runs
// of every length around the batch size and checks, after each drain, that
// exactly the records put so far were counted, in the order put. The
// counted slice is read without a lock: the race detector fails the test
// if drain returned while the counting goroutine could still write.
func TestFeedCountsEverythingInOrderBeforeDrainReturns(t *testing.T) {
	var counted []kafka.Offset
	f := startFeed(func(m *kafka.Message) { counted = append(counted, m.TopicPartition.Offset) })
	next := kafka.Offset(0)
	for _, run := range []int{0, 1, feedBatch - 1, feedBatch, feedBatch + 1, 3*feedBatch*feedDepth + 7, 2} {
		for range run {
			f.put(&kafka.Message{TopicPartition: kafka.TopicPartition{Offset: next}})
			next++
		}
		if run%2 == 1 {
			f.send() // a partial batch sent early changes nothing
		}
		f.drain()
		if len(counted) != int(next) {
			t.Fatalf("after a run of %d: %d records counted, want %d", run, len(counted), next)
		}
		for i, o := range counted {
			if o != kafka.Offset(i) {
				t.Fatalf("record %d counted as offset %d: out of order", i, o)
			}
		}
	}
	f.stop()
	select {
	case <-f.ended:
	default:
		t.Fatal("stop returned before the counting goroutine ended")
	}
}
