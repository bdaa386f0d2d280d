package state

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"golang.org/x/sync/errgroup"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/topic"
)

// Record is one decoded record of the state topic: a hashtag's Total, the
// meta record (Meta set), or a tombstone (Deleted).
type Record struct {
	Key     []byte
	Total   Total
	Meta    *Meta
	Deleted bool
}

// DecodeRecord decodes the record key holds value; a nil value is a
// tombstone.
func DecodeRecord(key, value []byte) (Record, error) {
	r := Record{Key: key}
	switch {
	case string(key) == MetaKey:
		m, err := DecodeMeta(value)
		if err != nil {
			return Record{}, err
		}
		r.Meta = &m
	case value == nil:
		r.Deleted = true
	default:
		t, err := DecodeTotal(value)
		if err != nil {
			return Record{}, err
		}
		r.Total = t
	}
	return r, nil
}

// batchSize is how many records a decoder takes at a time.
const batchSize = 4096

// batch is a run of consecutive records, decoded by one worker.
type batch struct {
	msgs []*kafka.Message
	recs []Record
	err  error
	done chan struct{}
}

// Restore reads partition of topic from the beginning with a read_committed
// consumer (assigned, no group) and calls apply for each record, decoded,
// in offset order, until its position reaches the partition's end offset
// as it stood when Restore began.
//
// Reading, decoding and applying overlap: the consumer's loop cuts the
// records into batches, a decoder per processor decodes them, and apply
// runs on one goroutine, batch after batch in the order they were read. A record that does not decode ends the restore with its
// offset.
//
// The end offset is the high watermark, not the last stable offset: an
// open transaction of a crashed predecessor holds the restore back until
// the transaction is resolved (at once when the predecessor's
// transactional.id was re-initialised, otherwise when it times out), so
// that its outcome is never missed.
func Restore(ctx context.Context, kc kafkaconn.Config, name string, partition int32, log *slog.Logger, apply func(Record) error) (records int64, err error) {
	end, err := endOffset(ctx, kc, name, partition, log)
	if err != nil || end == 0 {
		return 0, err
	}
	c, err := newReader(kc)
	if err != nil {
		return 0, err
	}
	defer c.Close()

	g, gctx := errgroup.WithContext(ctx)
	work := make(chan *batch, 4)
	order := make(chan *batch, 8) // bounds what is read ahead of apply
	g.Go(func() error {
		defer close(work)
		defer close(order)
		b := &batch{done: make(chan struct{})}
		send := func() error {
			select {
			case order <- b:
			case <-gctx.Done():
				return gctx.Err()
			}
			select {
			case work <- b:
			case <-gctx.Done():
				return gctx.Err()
			}
			b = &batch{done: make(chan struct{})}
			return nil
		}
		err := topic.ReadToEnd(gctx, c, name, map[int32]int64{partition: end}, log, func(m *kafka.Message) error {
			b.msgs = append(b.msgs, m)
			if len(b.msgs) < batchSize {
				return nil
			}
			return send()
		})
		if err == nil && len(b.msgs) > 0 {
			err = send()
		}
		return err
	})
	for range runtime.GOMAXPROCS(0) {
		g.Go(func() error {
			for b := range work {
				b.recs = make([]Record, 0, len(b.msgs))
				for _, m := range b.msgs {
					r, err := DecodeRecord(m.Key, m.Value)
					if err != nil {
						b.err = fmt.Errorf("restore %s[%d]@%d: %w", name, partition, m.TopicPartition.Offset, err)
						break
					}
					b.recs = append(b.recs, r)
				}
				close(b.done)
			}
			return nil
		})
	}
	g.Go(func() error {
		for b := range order {
			select {
			case <-b.done:
			case <-gctx.Done():
				return gctx.Err()
			}
			for _, r := range b.recs {
				if err := apply(r); err != nil {
					return err
				}
				records++
			}
			if b.err != nil {
				return b.err
			}
		}
		return nil
	})
	return records, g.Wait()
}
