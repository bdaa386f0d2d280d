package state

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/batch"
)

// reader reads one partition from its beginning, read_committed, through
// librdkafka's batch interface (package batch). A restore reads millions
// of small records; confluent-kafka-go's Poll, several cgo calls and
// allocations per record, was most of its time.
type reader struct {
	r         *batch.Partition
	name      string
	partition int32
	// eof is the offset of the last end-of-partition read (-1: none):
	// every record below it has been read.
	eof int64
}

// errPartitionEOF is librdkafka's "reached the end of the partition",
// which comes as a message with this error.
const errPartitionEOF = -191

// openReader assigns partition of the topic name to a new consumer made
// from conf (librdkafka properties; values as confluent-kafka-go takes
// them), starting at its beginning.
func openReader(conf kafka.ConfigMap, name string, partition int32) (*reader, error) {
	r, err := batch.Open(conf, name, partition)
	if err != nil {
		return nil, fmt.Errorf("restore %w", err)
	}
	return &reader{r: r, name: name, partition: partition, eof: -1}, nil
}

// Close stops the consumer and hands the memory it freed back to the system.
func (r *reader) Close() { r.r.Close() }

// chunk is records read in one go; Restore decodes them into decoded.
type chunk struct {
	*batch.Chunk
	decoded []Record
	err     error         // why decoding stopped before the end of the records
	done    chan struct{} // closed when decoded
}

func newChunk(size, records int) *chunk {
	return &chunk{Chunk: batch.NewChunk(size, records)}
}

// readToEnd fills chunks from free and hands each to fn, in offset order,
// until every record below end has been handed over (an offset at or past
// end is not); fn owns the chunk until it gives it back to free. Trailing
// transaction markers are stepped over by the end-of-partition that the
// client reports once its fetch position reaches the end: a read is done
// at a record at or past end, or at an end-of-partition at or past end,
// this read's or an earlier one's on the same reader (a Tail's CatchUp
// starts where Follow stopped, often after that end-of-partition, which
// librdkafka reports only once per offset). It says every 10 s where a read
// held below its end stands. With end < 0 it reads until ctx ends, and
// then returns nil.
//
// The position is not taken for the end: after an end-of-partition,
// librdkafka 2.2 to 2.11's batch consume reports it one past the real
// one (librdkafka#4844), which ended a read one record early.
func (r *reader) readToEnd(ctx context.Context, end int64, log *slog.Logger, free chan *chunk, fn func(*chunk) error) error {
	follow := end < 0
	if !follow && r.eof >= end {
		return nil
	}
	began := time.Now()
	warned := began
	for {
		var c *chunk
		select {
		case c = <-free:
		case <-ctx.Done():
		}
		if err := ctx.Err(); err != nil {
			if follow {
				return nil
			}
			return fmt.Errorf("reading %s to its end: %w", r.name, err)
		}
		r.r.Read(c.Chunk, 100)
		done, err := r.sift(c, end, log)
		if err != nil {
			return err
		}
		if c.Len() > 0 {
			if err := fn(c); err != nil {
				return err
			}
		} else {
			free <- c
		}
		if done {
			return nil
		}
		if !follow && time.Since(warned) >= 10*time.Second {
			warned = time.Now()
			log.Warn("reading to the end: still below it", "topic", r.name, "partition", r.partition,
				"position", r.r.Position(), "end", end, "waited", time.Since(began).Round(time.Second))
		}
	}
}

// sift keeps, of the records just read into c, those before end (every
// record when end < 0), notes the end-of-partition offsets, and reports
// whether the end is reached. An error from the broker about the
// partition, or a fatal one, is returned; the client's passing errors (a
// broker down, a timeout) are logged, as it retries by itself.
func (r *reader) sift(c *chunk, end int64, log *slog.Logger) (done bool, err error) {
	c.Filter(func(rec batch.Record) bool {
		switch {
		case err != nil:
		case rec.Err == errPartitionEOF:
			r.eof = max(r.eof, rec.Offset)
			done = done || end >= 0 && r.eof >= end
		case rec.Err != 0:
			if msg, fatal := r.r.Fatal(); fatal {
				err = fmt.Errorf("read %s: %s", r.name, msg)
			} else if rec.Err > 0 {
				err = fmt.Errorf("read %s[%d]: %s", r.name, r.partition, rec.Value)
			} else {
				log.Warn("reading the state topic", "topic", r.name, "partition", r.partition, "err", string(rec.Value))
			}
		case end < 0 || rec.Offset < end:
			done = done || end >= 0 && rec.Offset+1 >= end
			return true
		default:
			done = true // written since the end was taken: all before it came
		}
		return false
	})
	if err != nil {
		return false, err
	}
	return done, nil
}
