package partition

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// holdback watches a read to an end (ReadTo, Decode with ends) while it is
// below it: every 10 s (waitWarning) it says where each partition left
// stands, as a progress line at info when the read moved since the last
// one, else as a warning that it is held back (an error once that has
// lasted longer than a transaction may stay open); with Config.Stall set,
// a read that made no progress for that long logs where it stands and
// ends with a *StalledError.
type holdback struct {
	r       *Reader
	ends    map[int32]int64
	began   time.Time
	said    time.Time // the last line said, or began
	records int64     // read so far, below the ends
	g       *progress
}

func (r *Reader) newHoldback(now time.Time, ends map[int32]int64, left map[int32]bool) *holdback {
	h := &holdback{r: r, ends: ends, began: now, said: now, g: newProgress(now)}
	for p := range left {
		h.g.observe(p, r.parts[p].pos(), now)
	}
	return h
}

// check is called after each chunk read while partitions are left below
// their ends.
func (h *holdback) check(now time.Time, left map[int32]bool) error {
	for p := range left {
		h.g.observe(p, h.r.parts[p].pos(), now)
	}
	still := h.g.still(now)
	if h.g.stalled(now, h.r.cfg.Stall) {
		var first error
		for _, p := range slices.Sorted(maps.Keys(left)) {
			e := &StalledError{Topic: h.r.cfg.Topic, Partition: p, At: h.r.parts[p].pos(), End: h.ends[p], Still: still, Records: h.records}
			h.r.log.Error("reading to the end: no progress, giving up", h.attrs(p, now, "no_progress", still.Round(time.Millisecond))...)
			if first == nil {
				first = e
			}
		}
		return first
	}
	if now.Sub(h.said) < waitWarning {
		return nil
	}
	progressed := h.g.moved.After(h.said)
	h.said = now
	for _, p := range slices.Sorted(maps.Keys(left)) {
		switch {
		case progressed:
			h.r.log.Info("reading to the end", h.attrs(p, now)...)
		case still >= hangingAfter:
			h.r.log.Error("reading to the end: still below it for longer than a transaction may stay open: "+
				"most likely a hanging transaction, which only an operator ends (kafka-transactions.sh)",
				h.attrs(p, now, "no_progress", still.Round(time.Second))...)
		default:
			// Held back, most likely by a transaction open below the end:
			// say where, so that a read that never ends is seen.
			h.r.log.Warn("reading to the end: still below it", h.attrs(p, now, "no_progress", still.Round(time.Second))...)
		}
	}
	return nil
}

// attrs says where partition p of the read stands at now, and more.
func (h *holdback) attrs(p int32, now time.Time, more ...any) []any {
	return append([]any{"topic", h.r.cfg.Topic, "partition", p, "read_to", h.r.parts[p].pos(), "end", h.ends[p],
		"records", h.records, "waited", now.Sub(h.began).Round(time.Second)}, more...)
}

// pos is how far the reading goroutine has read the partition: the offset
// after the last record taken, or the last end-of-partition, whichever is
// further.
func (st *part) pos() int64 { return max(st.taken, st.eof) }

// progress is the stall rule of a read to an end (Config.Stall): the read
// progresses while the position of a partition still below its end moves
// towards that end, which every record read does, and so does an
// end-of-partition further on (the last stable offset moving past a
// transaction that ended); it is stalled once neither happened for the
// bound. A read that is merely slow, a record now and then, is never
// stalled.
type progress struct {
	at    map[int32]int64 // the furthest position seen of each partition
	moved time.Time       // when a position last moved (or the read began)
}

func newProgress(now time.Time) *progress {
	return &progress{at: map[int32]int64{}, moved: now}
}

// observe notes that partition p stands at pos at now, and tells whether
// that is further than it stood before.
func (g *progress) observe(p int32, pos int64, now time.Time) bool {
	if last, ok := g.at[p]; ok && pos <= last {
		return false
	}
	g.at[p] = pos
	g.moved = now
	return true
}

// still is how long no position has moved, at now.
func (g *progress) still(now time.Time) time.Duration { return now.Sub(g.moved) }

// stalled tells whether no position moved for bound at now (a bound of 0
// never stalls).
func (g *progress) stalled(now time.Time, bound time.Duration) bool {
	return bound > 0 && g.still(now) >= bound
}

// StalledError ends a read to an end that made no progress for
// Config.Stall: Partition stood At (the offset after the last record read,
// or its last end-of-partition, whichever is further), below End, and
// nothing moved for Still.
type StalledError struct {
	Topic     string
	Partition int32
	At, End   int64
	Still     time.Duration
	Records   int64 // read by this read
}

func (e *StalledError) Error() string {
	return fmt.Sprintf("reading %s[%d] to %d: no progress at %d for %s (%d records read): "+
		"held back by a transaction open there, or by a broker that does not answer",
		e.Topic, e.Partition, e.End, e.At, e.Still.Round(time.Millisecond), e.Records)
}
