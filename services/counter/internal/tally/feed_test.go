package tally

import (
	"testing"

	"github.com/hashtrend/hashtrend/services/counter/internal/kafkaio"
)

// TestFeedCountsEverythingInOrderBeforeDrainReturns sends runs of chunks
// shorter and longer than the feed's depth and checks, after each drain,
// that exactly the chunks sent so far were counted, in the order sent. The
// counted slice is read without a lock: the race detector fails the test
// if drain returned while the counting goroutine could still write.
func TestFeedCountsEverythingInOrderBeforeDrainReturns(t *testing.T) {
	var counted []*kafkaio.Chunk
	f := startFeed(func(c *kafkaio.Chunk) { counted = append(counted, c) })
	var sent []*kafkaio.Chunk
	for _, run := range []int{0, 1, feedDepth - 1, feedDepth, feedDepth + 1, 5*feedDepth + 3, 2} {
		for i := range run {
			c := f.chunk()
			if i%3 == 2 {
				f.unused(c) // nothing read: never counted
				continue
			}
			sent = append(sent, c)
			f.send(c)
		}
		f.drain()
		if len(counted) != len(sent) {
			t.Fatalf("after a run of %d: %d chunks counted, want %d", run, len(counted), len(sent))
		}
		for i := range sent {
			if counted[i] != sent[i] {
				t.Fatalf("chunk %d counted out of order", i)
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
