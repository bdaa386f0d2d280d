package partition

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
)

// waitWarning is how often a read says where it stands while it is still
// below its end.
const waitWarning = 10 * time.Second

// hangingAfter is how long a read held below an end without progress
// waits before it says so as an error: the broker's
// transaction.max.timeout.ms (15 minutes by default), the longest a
// transaction may stay open before the broker aborts it. Held back longer, the transaction is most likely not open but
// hanging: the broker decided it and lost its marker on this partition
// (docs/ingest.md, "A hanging transaction"), and only an operator ends it.
const hangingAfter = 15 * time.Minute

// ReadTo hands fn each record below ends[p] of every partition p of ends
// (each must be assigned), in order within a partition, until every one
// is at its end (see the package comment); a partition already at its end
// is not waited for. A fatal client error, an error about a partition from
// the broker, or fn's error ends the read, and so does a read that makes
// no progress for Config.Stall (a *StalledError). While below an end it
// says where it stands every 10 s: at info while it moves, as a warning
// while it is held back.
func (r *Reader) ReadTo(ctx context.Context, ends map[int32]int64, fn func(Record) error) error {
	return r.records(ctx, ends, fn)
}

// Follow hands fn each record as it comes, in order within a partition,
// until ctx ends (then it returns nil) or fn or the client fails.
func (r *Reader) Follow(ctx context.Context, fn func(Record) error) error {
	return r.records(ctx, nil, fn)
}

// records is ReadTo (ends set) or Follow (ends nil) with fn called for
// every record of each chunk read.
func (r *Reader) records(ctx context.Context, ends map[int32]int64, fn func(Record) error) error {
	c := r.newChunk()
	return r.read(ctx, ends, func() *chunk { return c }, func(c *chunk) error {
		var err error
		c.each(func(rec Record) {
			if err != nil {
				return
			}
			if err = fn(rec); err == nil {
				r.parts[rec.Partition].next = rec.Offset + 1
			}
		})
		if err != nil {
			r.stale = true // the rest of the chunk was not handed over
		}
		return err
	})
}

// read is the one reading loop. It takes a chunk from next, fills it with
// the records at hand (waiting up to 100 ms), keeps those below their
// partition's end and hands the chunk to fn when it holds any, until
// every partition of ends is at its end; with ends nil it goes on until
// ctx ends, then returns nil. fn owns the chunk it is given; next is
// called once per chunk taken.
func (r *Reader) read(ctx context.Context, ends map[int32]int64, next func() *chunk, fn func(*chunk) error) error {
	follow := ends == nil
	if err := r.reassign(); err != nil {
		return err
	}
	left := map[int32]bool{}
	for p, end := range ends {
		st, ok := r.parts[p]
		if !ok {
			return fmt.Errorf("read %s[%d] to %d: not assigned", r.cfg.Topic, p, end)
		}
		if st.next < end && st.eof < end {
			left[p] = true
		}
	}
	began := time.Now()
	idle := began
	var held *holdback
	if !follow {
		held = r.newHoldback(began, ends, left)
	}
	for follow || len(left) > 0 {
		if err := ctx.Err(); err != nil {
			if follow {
				return nil
			}
			return fmt.Errorf("reading %s to its end: %w", r.cfg.Topic, err)
		}
		c := next()
		if c == nil {
			continue // next waited for a chunk and ctx ended
		}
		heard, err := r.fill(c, ends, left)
		if err != nil {
			r.stale = true // what was taken is not handed over
			return err
		}
		if held != nil {
			held.records += int64(c.len()) // fn owns c once called
		}
		if heard {
			r.back()
			idle = time.Now()
		} else if r.away && time.Since(idle) >= r.cfg.Watch.retry() {
			idle = time.Now()
			r.probe()
		}
		if err := fn(c); err != nil {
			if follow && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				return nil // fn stopped with ctx
			}
			return err
		}
		if held != nil && len(left) > 0 {
			if err := held.check(time.Now(), left); err != nil {
				return err
			}
		}
	}
	return nil
}

// fill is take and sift.
func (r *Reader) fill(c *chunk, ends map[int32]int64, left map[int32]bool) (heard bool, err error) {
	if err := r.take(c, 100); err != nil {
		return false, err
	}
	return r.sift(c, ends, left)
}

// take fills c with what the client has at hand, waiting up to timeoutMs
// for the first, and serves the client's own events (errors).
func (r *Reader) take(c *chunk, timeoutMs int) error {
	if c.b != nil {
		for ev := r.c.Poll(0); ev != nil; ev = r.c.Poll(0) {
			if err := r.event(ev); err != nil {
				return err
			}
		}
		r.q.Read(c.b, timeoutMs)
		return nil
	}
	c.msgs = c.msgs[:0]
	for ev := r.c.Poll(timeoutMs); ev != nil; ev = r.c.Poll(0) {
		switch e := ev.(type) {
		case *kafka.Message:
			c.msgs = append(c.msgs, e)
		case kafka.PartitionEOF:
			tp := kafka.TopicPartition(e)
			tp.Error = kafka.NewError(kafka.ErrPartitionEOF, "end of partition", false)
			c.msgs = append(c.msgs, &kafka.Message{TopicPartition: tp})
		default:
			if err := r.event(ev); err != nil {
				return err
			}
		}
		if len(c.msgs) >= chunkRecords {
			break
		}
		timeoutMs = 0
	}
	return nil
}

// event serves an event of the client other than a record: a fatal error
// ends the read, a refusal by the cluster with the resource it concerns;
// the broker's absence goes to the watcher; other errors are logged, as
// the client retries by itself. A reader never uses its group (Settings),
// but librdkafka looks for the group's coordinator all the same: a
// cluster that grants no right on that group refuses the look-up, which
// changes nothing for the read.
func (r *Reader) event(ev kafka.Event) error {
	if m, ok := ev.(*kafka.Message); ok {
		// Routed to the batch queue, a record never comes here: one
		// that does would be lost to the read.
		return fmt.Errorf("read %s: a record of %v came through Poll, not the batch queue", r.cfg.Topic, m.TopicPartition)
	}
	e, ok := ev.(kafka.Error)
	if !ok {
		return nil
	}
	switch {
	case e.Code() == kafka.ErrGroupAuthorizationFailed:
		r.log.Debug("the reader's unused group is not authorized", "topic", r.cfg.Topic, "err", e)
	case kafkaconn.Denied(e):
		return fmt.Errorf("read %s: %w", r.cfg.Topic, r.cfg.Kafka.Refused(e, "READ topic "+r.cfg.Topic))
	case kafkaconn.IsFatal(e):
		return fmt.Errorf("read %s: %w", r.cfg.Topic, e)
	case r.cfg.Watch != nil:
		r.watchError(e)
	default:
		r.log.Warn("reading", "topic", r.cfg.Topic, "err", e)
	}
	return nil
}

// sift keeps, of the entries just read into c, the records before their
// partition's end (every record when ends is nil), notes the
// end-of-partition offsets, and drops the partitions that reached their
// end from left; heard says that the broker answered (a record or an
// end-of-partition came). An error about a partition from the broker is
// returned (with a watcher, an unknown topic is its Missing instead); the
// client's passing errors (a broker down, a timeout) are logged, as it
// retries by itself.
func (r *Reader) sift(c *chunk, ends map[int32]int64, left map[int32]bool) (heard bool, err error) {
	c.filter(func(e entry) bool {
		st := r.parts[e.Partition]
		switch {
		case err != nil || st == nil:
		case e.err == errPartitionEOF:
			heard = true
			st.eof = max(st.eof, e.Offset)
			if end, ok := ends[e.Partition]; ok && st.eof >= end {
				delete(left, e.Partition)
			}
		case e.err != 0:
			err = r.partitionError(e)
		default:
			heard = true
			end, ok := ends[e.Partition]
			if ends != nil && (!ok || e.Offset >= end) {
				// Written since the end was taken, all before it came; a
				// later read takes it again.
				r.stale = true
				delete(left, e.Partition)
				return false
			}
			if ok && e.Offset+1 >= end {
				delete(left, e.Partition)
			}
			st.taken = e.Offset + 1
			return true
		}
		return false
	})
	return heard, err
}

// partitionError sorts an error about a partition (the client's fatal
// errors come as its events, see event).
func (r *Reader) partitionError(e entry) error {
	code := kafka.ErrorCode(e.err)
	if r.cfg.Watch != nil && (code == kafka.ErrUnknownTopicOrPart || code == kafka.ErrUnknownTopic) {
		r.cfg.Watch.missing(errors.New(e.msg))
		return nil
	}
	if ke := kafka.NewError(code, e.msg, false); kafkaconn.Denied(ke) {
		return fmt.Errorf("read %s[%d]: %w", r.cfg.Topic, e.Partition, r.cfg.Kafka.Refused(ke, "READ topic "+r.cfg.Topic))
	}
	if e.err > 0 {
		return fmt.Errorf("read %s[%d]: %s", r.cfg.Topic, e.Partition, e.msg)
	}
	r.log.Warn("reading", "topic", r.cfg.Topic, "partition", e.Partition, "err", e.msg)
	return nil
}

// ReadAll reads every partition of cfg.Topic from its beginning to its
// end offset as it stands when ReadAll begins (the high watermark with
// kafka.IsolationLevelReadUncommitted, the last stable offset with
// kafka.IsolationLevelReadCommitted), handing fn each record as ReadTo
// does, with a reader of its own.
func ReadAll(ctx context.Context, cfg Config, iso kafka.IsolationLevel, fn func(Record) error) error {
	r, err := Open(cfg, nil)
	if err != nil {
		return err
	}
	defer r.Close()
	ends, err := r.Ends(ctx, iso)
	if err != nil {
		return err
	}
	from := map[int32]int64{}
	for p := range ends {
		from[p] = Beginning
	}
	if err := r.Assign(from); err != nil {
		return err
	}
	return r.ReadTo(ctx, ends, fn)
}
