package kafkaio

import "github.com/hashtrend/hashtrend/pkg/batch"

// Chunk is records read in one go through the consumer's batch queue
// (Consumer.Read): pkg/batch's chunk, whose records' keys and values lie
// back to back in one buffer. A chunk is reused: nothing may keep a slice
// of its records' keys or values, or a string cut from them, once it is
// read into again.
type Chunk struct{ c *batch.Chunk }

// NewChunk makes a chunk of up to records records and, at first, size
// bytes of keys and values (it grows for a record that does not fit).
func NewChunk(size, records int) *Chunk { return &Chunk{c: batch.NewChunk(size, records)} }

// Each calls fn for every record of c, in the order read, and failed for
// an error about a partition that came in its place (the client goes on
// by itself after one).
func (c *Chunk) Each(fn func(Record), failed func(partition int32, err string)) {
	c.c.Each(func(r batch.Record) {
		if r.Err != 0 {
			failed(r.Partition, string(r.Value))
			return
		}
		fn(Record{Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value})
	})
}

// Len is the number of records in c.
func (c *Chunk) Len() int { return c.c.Len() }
