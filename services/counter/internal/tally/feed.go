package tally

import (
	"sync"

	"github.com/hashtrend/hashtrend/services/counter/internal/kafkaio"
)

// feed hands the chunks of records the poll loop reads to a goroutine of
// their own that counts them, so that reading (librdkafka's fetch queue,
// copied out in batches) and counting (decode, hashtags, dedupe) run on
// two processors instead of taking turns on one.
//
// The stage's window state belongs to the counting goroutine between two
// calls of drain, and to the poll loop after one: the loop drains the feed
// before it touches that state (closing a window, a rebalance, a rewind),
// so the counting goroutine is idle then and every record read so far is
// counted. Records are counted in the order they were read.
//
// A chunk goes back to the free list once counted and is read into again,
// so the counting keeps nothing that aliases a chunk (add copies what it
// keeps).
type feed struct {
	todo  chan *kafkaio.Chunk // chunks to count, in reading order
	free  chan *kafkaio.Chunk // counted chunks, for reuse
	busy  sync.WaitGroup      // chunks sent and not yet counted
	ended chan struct{}
}

// The chunks: feedRecords records and, at first, feedBytes of keys and
// values each (a short post is about 250 bytes); feedDepth of them may wait
// to be counted while one is read into and one counted.
const (
	feedRecords = 2048
	feedBytes   = 512 << 10
	feedDepth   = 4
)

// startFeed starts the goroutine that calls count for every chunk sent.
func startFeed(count func(*kafkaio.Chunk)) *feed {
	f := &feed{
		todo:  make(chan *kafkaio.Chunk, feedDepth),
		free:  make(chan *kafkaio.Chunk, feedDepth+2),
		ended: make(chan struct{}),
	}
	for range feedDepth + 2 {
		f.free <- kafkaio.NewChunk(feedBytes, feedRecords)
	}
	go func() {
		defer close(f.ended)
		for c := range f.todo {
			count(c)
			f.free <- c
			f.busy.Done()
		}
	}()
	return f
}

// chunk returns a chunk to read into, waiting while every chunk is still
// to be counted. Give it back with send or unused.
func (f *feed) chunk() *kafkaio.Chunk { return <-f.free }

// send hands c to the counting goroutine.
func (f *feed) send(c *kafkaio.Chunk) {
	f.busy.Add(1)
	f.todo <- c
}

// unused gives back a chunk nothing was read into.
func (f *feed) unused(c *kafkaio.Chunk) { f.free <- c }

// drain waits until every chunk sent so far is counted.
func (f *feed) drain() { f.busy.Wait() }

// stop drains the feed and ends its goroutine.
func (f *feed) stop() {
	f.drain()
	close(f.todo)
	<-f.ended
}
