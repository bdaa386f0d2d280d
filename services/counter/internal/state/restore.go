package state

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"

	"golang.org/x/sync/errgroup"

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
	r, err := openReader(readerConfig(kc), name, partition)
	if err != nil {
		return 0, err
	}
	defer r.Close()

	free := make(chan *chunk, restoreChunks)
	for range restoreChunks {
		free <- newChunk(chunkBytes, chunkRecords)
	}
	g, gctx := errgroup.WithContext(ctx)
	work := make(chan *chunk, restoreChunks)
	order := make(chan *chunk, restoreChunks)
	g.Go(func() error {
		defer close(work)
		defer close(order)
		return r.readToEnd(gctx, end, log, free, func(c *chunk) error {
			c.done, c.err = make(chan struct{}), nil
			order <- c // never full: at most restoreChunks are out
			work <- c
			return nil
		})
	})
	for range runtime.GOMAXPROCS(0) {
		g.Go(func() error {
			for c := range work {
				c.decoded = c.decoded[:0]
				_ = c.each(func(offset int64, key, value []byte) error {
					r, err := DecodeRecord(key, value)
					if err != nil {
						c.err = fmt.Errorf("restore %s[%d]@%d: %w", name, partition, offset, err)
						return err
					}
					c.decoded = append(c.decoded, r)
					return nil
				})
				close(c.done)
			}
			return nil
		})
	}
	g.Go(func() error {
		for c := range order {
			select {
			case <-c.done:
			case <-gctx.Done():
				return gctx.Err()
			}
			for _, r := range c.decoded {
				if err := apply(r); err != nil {
					return err
				}
				records++
			}
			if c.err != nil {
				return c.err
			}
			clear(c.decoded) // no reference into the chunk outlives it
			free <- c
		}
		return nil
	})
	return records, g.Wait()
}
