package state

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/hashtrend/hashtrend/pkg/batch"
	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
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

// How Restore reads: chunks of up to chunkRecords records and chunkBytes of
// keys and values, restoreChunks of them in flight between the reader
// and apply.
const (
	chunkRecords  = 4096
	chunkBytes    = 512 << 10
	restoreChunks = 8
)

// Restore reads partition of topic from the beginning with a read_committed
// consumer (assigned, no group) and calls apply for each record, decoded,
// in offset order, until its position reaches the partition's end offset
// as it stood when Restore began.
//
// Reading, decoding and applying overlap: the reader copies the records
// into chunks (reader), a decoder per processor decodes them, and apply
// runs on one goroutine, chunk after chunk in the order they were read.
// A record's Key is valid only during apply. A record that does not
// decode ends the restore with its offset.
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
	r, err := openReader(readerConfig(kc, "restore"), name, partition)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	records, _, err = decodeInOrder(ctx, r, end, log, apply)
	return records, err
}

// decodeInOrder reads r up to end (end < 0: until ctx ends) and calls apply
// for each record, decoded, in offset order; it returns how many it
// applied and the offset after the last. Every chunk read is applied, even
// when ctx ends meanwhile, so that a reader that goes on later (a Tail)
// misses nothing; a record that does not decode, or an apply that fails,
// ends it with that error.
func decodeInOrder(ctx context.Context, r *reader, end int64, log *slog.Logger, apply func(Record) error) (records, next int64, err error) {
	free := make(chan *chunk, restoreChunks)
	for range restoreChunks {
		free <- newChunk(chunkBytes, chunkRecords)
	}
	g, gctx := errgroup.WithContext(ctx)
	rctx, stop := context.WithCancel(gctx) // the reader's: ends when apply fails
	defer stop()
	work := make(chan *chunk, restoreChunks)
	order := make(chan *chunk, restoreChunks)
	g.Go(func() error {
		defer close(work)
		defer close(order)
		err := r.readToEnd(rctx, end, log, free, func(c *chunk) error {
			c.done, c.err = make(chan struct{}), nil
			order <- c // never full: at most restoreChunks are out
			work <- c
			return nil
		})
		if rctx.Err() != nil && gctx.Err() == nil {
			return nil // stopped by a failed apply, which says why
		}
		return err
	})
	for range runtime.GOMAXPROCS(0) {
		g.Go(func() error {
			for c := range work {
				c.decoded = c.decoded[:0]
				c.Each(func(b batch.Record) {
					if c.err != nil {
						return
					}
					rec, err := DecodeRecord(b.Key, b.Value)
					if err != nil {
						c.err = fmt.Errorf("restore %s[%d]@%d: %w", r.name, r.partition, b.Offset, err)
						return
					}
					c.decoded = append(c.decoded, rec)
				})
				close(c.done)
			}
			return nil
		})
	}
	g.Go(func() error {
		var failed error
		for c := range order {
			<-c.done // decoders finish every chunk they are given
			if failed != nil {
				continue
			}
			for _, rec := range c.decoded {
				if failed = apply(rec); failed != nil {
					break
				}
				records++
			}
			if failed == nil && c.err != nil {
				failed = c.err
			}
			if failed != nil {
				stop()
			} else {
				next = c.Last() + 1
			}
			clear(c.decoded) // no reference into the chunk outlives it
			free <- c
		}
		return failed
	})
	return records, next, g.Wait()
}
