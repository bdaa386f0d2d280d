package partition

import (
	"context"
	"fmt"
	"runtime"

	"golang.org/x/sync/errgroup"
)

// inFlight is how many chunks Decode has between the reader and apply.
const inFlight = 8

// piece is a chunk on its way through Decode: its records decoded, where
// each came from, and why decoding stopped before the end of them.
type piece[T any] struct {
	c       *chunk
	decoded []T
	at      []at
	err     error
	done    chan struct{} // closed when decoded
}

type at struct {
	partition int32
	offset    int64
}

// Decode reads r as ReadTo does up to ends (as Follow does with ends nil,
// until ctx ends) and calls apply for each record, decoded, in order
// within a partition. It returns how many records it applied.
//
// Reading, decoding and applying overlap: the reader copies the records
// into chunks, a decoder per processor decodes them, and apply runs on one
// goroutine, chunk after chunk in the order they were read; what decode
// returns may alias the record's key and value only until apply returns.
// Every chunk read is applied, even when ctx ends meanwhile, so that a
// read that goes on later misses nothing; a record that does not decode
// (its error names its offset), or an apply that fails, ends it with that
// error, and the next read of r starts again at the record that was not
// applied.
func Decode[T any](ctx context.Context, r *Reader, ends map[int32]int64, decode func(Record) (T, error), apply func(T) error) (records int64, err error) {
	free := make(chan *piece[T], inFlight)
	for range inFlight {
		free <- &piece[T]{c: r.newChunk()}
	}
	g, gctx := errgroup.WithContext(ctx)
	rctx, stop := context.WithCancel(gctx) // the reader's: ends when apply fails
	defer stop()
	work := make(chan *piece[T], inFlight)
	order := make(chan *piece[T], inFlight)
	g.Go(func() error {
		defer close(work)
		defer close(order)
		var cur *piece[T]
		next := func() *chunk {
			select {
			case cur = <-free:
				return cur.c
			case <-rctx.Done():
				return nil
			}
		}
		err := r.read(rctx, ends, next, func(c *chunk) error {
			if c.len() == 0 {
				free <- cur
				return nil
			}
			cur.done, cur.err = make(chan struct{}), nil
			order <- cur // never full: at most inFlight are out
			work <- cur
			return nil
		})
		if rctx.Err() != nil && gctx.Err() == nil {
			return nil // stopped by a failed apply, which says why
		}
		return err
	})
	for range runtime.GOMAXPROCS(0) {
		g.Go(func() error {
			for p := range work {
				p.decoded, p.at = p.decoded[:0], p.at[:0]
				p.c.each(func(rec Record) {
					if p.err != nil {
						return
					}
					v, err := decode(rec)
					if err != nil {
						p.err = fmt.Errorf("%s[%d]@%d: %w", r.cfg.Topic, rec.Partition, rec.Offset, err)
						return
					}
					p.decoded = append(p.decoded, v)
					p.at = append(p.at, at{rec.Partition, rec.Offset})
				})
				close(p.done)
			}
			return nil
		})
	}
	unapplied := false
	g.Go(func() error {
		var failed error
		for p := range order {
			<-p.done // decoders finish every chunk they are given
			if failed == nil {
				applied := 0
				for _, v := range p.decoded {
					if failed = apply(v); failed != nil {
						break
					}
					applied++
				}
				records += int64(applied)
				r.advance(p.at[:applied])
				if failed == nil && p.err != nil {
					failed = p.err
				}
				if failed != nil {
					unapplied = true
					stop()
				}
			}
			clear(p.decoded) // no reference into the chunk outlives it
			free <- p
		}
		return failed
	})
	err = g.Wait()
	if unapplied {
		r.stale = true
	}
	return records, err
}

// advance notes the records at as handed over, in order.
func (r *Reader) advance(at []at) {
	var st *part
	for i, a := range at {
		if i == 0 || a.partition != at[i-1].partition {
			st = r.parts[a.partition]
		}
		st.next = a.offset + 1
	}
}
