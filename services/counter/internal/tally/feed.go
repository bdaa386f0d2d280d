package tally

import (
	"sync"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// feed hands the polled records to a goroutine of their own that counts
// them, in batches, so that polling (confluent-kafka-go's Poll: cgo calls
// and allocations per record) and counting (decode, hashtags, dedupe) run
// on two processors instead of taking turns on one.
//
// The stage's window state belongs to the counting goroutine between two
// calls of drain, and to the polling goroutine after one: the poll loop
// drains the feed before it touches that state (closing a window, a
// rebalance, a rewind), so the counting goroutine is idle then and every
// record polled so far is counted. Records are counted in the order they
// were polled, as before.
type feed struct {
	batch []*kafka.Message
	todo  chan []*kafka.Message // batches to count, in polling order
	free  chan []*kafka.Message // counted batches, for reuse
	busy  sync.WaitGroup        // batches sent and not yet counted
	ended chan struct{}
}

// feedBatch is the records sent in one go: enough that the hand-over costs
// little per record, few enough that counting starts early.
const feedBatch = 256

// feedDepth is how many batches may wait to be counted; polling waits
// beyond it.
const feedDepth = 4

// startFeed starts the goroutine that calls count for every record put.
func startFeed(count func(*kafka.Message)) *feed {
	f := &feed{
		todo:  make(chan []*kafka.Message, feedDepth),
		free:  make(chan []*kafka.Message, feedDepth+2),
		ended: make(chan struct{}),
	}
	for range feedDepth + 2 {
		f.free <- make([]*kafka.Message, 0, feedBatch)
	}
	f.batch = <-f.free
	go func() {
		defer close(f.ended)
		for b := range f.todo {
			for _, m := range b {
				count(m)
			}
			clear(b) // the records are the window's to keep, not the batch's
			f.free <- b[:0]
			f.busy.Done()
		}
	}()
	return f
}

// put adds m to the batch being filled and sends the batch when it is full.
func (f *feed) put(m *kafka.Message) {
	f.batch = append(f.batch, m)
	if len(f.batch) == cap(f.batch) {
		f.send()
	}
}

// send hands the batch being filled, if it holds any record, to the
// counting goroutine.
func (f *feed) send() {
	if len(f.batch) == 0 {
		return
	}
	f.busy.Add(1)
	f.todo <- f.batch
	f.batch = <-f.free
}

// drain sends the batch being filled and waits until every record put so
// far is counted.
func (f *feed) drain() {
	f.send()
	f.busy.Wait()
}

// stop drains the feed and ends its goroutine.
func (f *feed) stop() {
	f.drain()
	close(f.todo)
	<-f.ended
}
