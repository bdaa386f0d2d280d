package rank

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/pkg/partition"
	"github.com/hashtrend/hashtrend/pkg/retry"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
	"github.com/hashtrend/hashtrend/services/counter/internal/state"
	"github.com/hashtrend/hashtrend/services/counter/internal/trend"
)

// addTrend adds d's buckets, their details and d's watermarks to tr. A
// delta whose buckets have another length (written before a change of
// COUNTER_TRENDING_BUCKET) is left out of the trending view; false says
// so.
func addTrend(tr *trend.Tracker, d delta.Delta) bool {
	if d.BucketMillis == 0 && len(d.Watermarks) == 0 {
		return true // version 1, or trending off in the tally that wrote it
	}
	if d.BucketMillis != tr.Config().Bucket.Milliseconds() {
		return false
	}
	for _, c := range d.Counts {
		for i := range c.Buckets {
			b := &c.Buckets[i]
			tr.Add(c.Key, b.Start, b.N, &b.Authors)
			if det, ok := detailOf(b); ok {
				tr.AddDetail(c.Key, b.Start, &det)
			}
		}
	}
	for _, w := range d.Watermarks {
		tr.Advance(w.Partition, w.At)
	}
	return true
}

// view is what rank builds from the post time the deltas carry: the
// trending buckets (nil with trending off) and the language fold (nil
// with facets off). Both depend on which deltas were applied in which
// order only, so they are built and kept the same way.
//
// Each tracker has a lifecycle attached (lifecycle.go), made by lives.
type view struct {
	tr     *trend.Tracker
	fold   *fold
	facets *facetTrends // nil without trending per facet
	lives  *lives       // nil with trending off
}

// postTime tells whether rank keeps a view at all.
func (s *Stage) postTime() bool { return s.cfg.Trending != nil || s.cfg.Facets != nil }

// newView returns an empty view for a posts topic of the given number of
// partitions.
func (s *Stage) newView(partitions int) view {
	var v view
	if s.cfg.Trending != nil {
		v.lives = newLives(*s.cfg.Trending, s.cfg.Lifecycle)
		v.tr = trend.NewTracker(*s.cfg.Trending, partitions)
		v.lives.attach(facet.Name{}, v.tr)
	}
	if s.cfg.Facets != nil {
		v.fold = newFold(s.cfg.Facets.PostTime, s.cfg.Facets.Languages, partitions)
		if s.cfg.Trending != nil && s.cfg.Facets.Trending {
			v.facets = newFacetTrends(*s.cfg.Trending, partitions, v.lives)
		}
	}
	return v
}

// add adds d to the view; false when d's buckets have another length
// and are left out.
func (v view) add(d delta.Delta) bool {
	ok := true
	if v.tr != nil {
		ok = addTrend(v.tr, d)
	}
	if v.fold != nil {
		ok = v.fold.add(d) && ok
	}
	if v.facets != nil {
		v.facets.add(d)
	}
	return ok
}

// logArgs describes the view for a log line.
func (v view) logArgs() []any {
	var args []any
	if v.tr != nil {
		w, _ := v.tr.Watermark()
		args = append(args, "tags", v.tr.Len(), "cells", v.tr.Cells(), "watermark", w)
	}
	if v.fold != nil {
		own, at := v.fold.own()
		args = append(args, "languages", len(own), "languages_at", at)
	}
	if v.facets != nil {
		args = append(args, "facet_trackers", len(v.facets.trackers))
	}
	return args
}

// rebuildTrend builds the trending buckets and the language fold again
// from the deltas that the restored totals hold: the deltas topic from its
// first retained record up to a.next, with the lifecycles restored with
// the totals attached first (lifecycle.go). The deltas are exactly once,
// and the trending list and the fold depend on which deltas were applied
// in which order, not on when, so the rebuilt view is the one an
// uninterrupted run holds at the same offset. The deltas topic's
// retention must cover the trending horizon and the recent window before
// it (checked at start, see app).
func (s *Stage) rebuildTrend(a *active) error {
	start := time.Now()
	v := s.newView(s.tweetsPartitions())
	written, err := v.restore(a.table.TakeLifecycles())
	if err != nil {
		return fmt.Errorf("restore the trending lifecycles: %w", err)
	}
	skipped := 0
	n, err := s.readDeltas(a.partition, a.next, func(d delta.Delta) error {
		if !v.add(d) {
			skipped++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild the trending buckets from %s: %w", s.cfg.Deltas, err)
	}
	a.view, a.lifeWritten = v, written
	s.m.TrendingRebuild.Set(time.Since(start).Seconds())
	s.m.TrendingDeltas.Set(float64(n))
	s.log.Info("trending buckets rebuilt", append([]any{"topic", s.cfg.Deltas, "deltas", n, "lifecycles", len(written)}, append(v.logArgs(),
		"other_bucket_length", skipped, "took", time.Since(start).Round(time.Millisecond))...)...)
	return nil
}

// readDeltas applies the deltas of partition p, decoded, from
// its first retained record up to end.
func (s *Stage) readDeltas(p int32, end int64, apply func(delta.Delta) error) (int64, error) {
	if end <= 0 {
		return 0, nil
	}
	r, err := s.openReader("counter-restore", s.cfg.Deltas, p)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	return partition.Decode(s.ctx, r, map[int32]int64{p: end}, func(rec partition.Record) (delta.Delta, error) {
		return delta.Decode(rec.Value)
	}, apply)
}

// trendFollower keeps a standby's trending buckets current, the way the
// state tail keeps its totals: it follows the deltas partition
// read_committed from its beginning and adds each delta to its tracker,
// but only below bound, the delta offset that the latest meta record of
// the state topic says the owner's totals hold (the standby's state tail
// raises it). A delta at or past bound waits: whether the owner applied
// it is known only once its next snapshot commits, or, at a takeover,
// from the restored totals. At a takeover the follower is stopped and
// caught up to the restored totals' offset, so it holds exactly the
// buckets a rebuild from the beginning (rebuildTrend) builds, and reads
// only the last windows' deltas to get there.
//
// The lifecycle records the state tail reads wait in pending until the
// follower adds its next delta, and are attached first: the tail reads a
// transaction's lifecycle records before its meta record, so the view is
// never past the offset a checkpoint was written at when it takes it.
// Every record before the first meta record the tail reads (the state
// topic's compacted head: each facet's latest as of the last cleaning,
// all written with that meta record's totals or before) is attached
// before the first delta, as a rebuild attaches them; from there the
// copy steps as the owner did, and each later checkpoint it takes is
// what it holds already. (A copy that stepped lifecycles of its own up
// to within a recent window of a checkpoint would hold the same
// lifecycles once it took it, but not the same reasons: whose details
// were kept follows who was listed.)
type trendFollower struct {
	r          *partition.Reader
	topic      string
	partition  int32
	partitions int // of the posts topic, when the view was made
	v          view
	made       bool // v was made
	bound      atomic.Int64
	added      int64
	skipped    int

	mu      sync.Mutex
	pending map[facet.Name][]byte // lifecycle records not attached yet
}

// newTrendFollower starts a follower of partition p of the deltas topic.
func (s *Stage) newTrendFollower(p int32) (*trendFollower, error) {
	r, err := s.openReader("counter-trend-standby", s.cfg.Deltas, p)
	if err != nil {
		return nil, fmt.Errorf("trending standby: %w", err)
	}
	return &trendFollower{r: r, topic: s.cfg.Deltas, partition: p}, nil
}

// holds raises bound to the delta offset that a state record says the
// owner's totals hold, and keeps a lifecycle record for the next delta.
func (f *trendFollower) holds(r state.Record) {
	if r.Lifecycle != nil {
		f.mu.Lock()
		if f.pending == nil {
			f.pending = map[facet.Name][]byte{}
		}
		f.pending[r.Lifecycle.Facet] = r.Lifecycle.State
		f.mu.Unlock()
	}
	if r.Meta != nil && r.Meta.NextDelta != nil && *r.Meta.NextDelta > f.bound.Load() {
		f.bound.Store(*r.Meta.NextDelta)
	}
}

// takePending attaches the lifecycle records read since the last delta.
func (f *trendFollower) takePending() error {
	f.mu.Lock()
	recs := f.pending
	f.pending = nil
	f.mu.Unlock()
	if len(recs) == 0 {
		return nil
	}
	if _, err := f.v.restore(recs); err != nil {
		return fmt.Errorf("trending standby: %w", err)
	}
	return nil
}

// follow makes the view for the posts topic's partitions as they are
// now, asked until the broker answers (partitions, in this goroutine), then
// adds the deltas below bound as they come until ctx ends (then it returns
// nil) or a delta does not decode. Without an answer before ctx ends it
// has no view, and the assignment rebuilds.
func (f *trendFollower) follow(ctx context.Context, newView func(partitions int) view, partitions func() (int, error)) error {
	for {
		n, err := partitions()
		var ke kafka.Error
		if !errors.As(err, &ke) {
			f.partitions = n // known, or the topic does not exist yet
			break
		}
		if retry.Sleep(ctx, 200*time.Millisecond) != nil {
			return nil
		}
	}
	f.v, f.made = newView(f.partitions), true
	return f.r.Follow(ctx, func(rec partition.Record) error {
		for rec.Offset >= f.bound.Load() {
			// Not yet in the owner's totals. A delta not added here is
			// read again by the catch-up, which starts at the first one
			// not added.
			if err := retry.Sleep(ctx, 20*time.Millisecond); err != nil {
				return err
			}
		}
		return f.add(rec)
	})
}

func (f *trendFollower) add(rec partition.Record) error {
	d, err := delta.Decode(rec.Value)
	if err != nil {
		return fmt.Errorf("trending standby %s[%d]@%d: %w", f.topic, f.partition, rec.Offset, err)
	}
	if err := f.takePending(); err != nil {
		return err
	}
	if !f.v.add(d) {
		f.skipped++
	}
	f.added++
	return nil
}

// catchUp adds the deltas from where follow stopped up to end, the first
// delta the restored totals do not hold, and returns how many it added.
func (f *trendFollower) catchUp(ctx context.Context, end int64) (int64, error) {
	before := f.added
	err := f.r.ReadTo(ctx, map[int32]int64{f.partition: end}, f.add)
	return f.added - before, err
}

// takeTrend makes the trending buckets for the restored totals: from the
// warm standby's follower caught up to a.next when it has one for the same
// posts topic, else by a rebuild from the beginning. The follower takes
// the lifecycles restored with the totals first: the latest of each
// facet, which its view is not past.
func (s *Stage) takeTrend(a *active, f *trendFollower) error {
	if f == nil || !f.made || f.partition != a.partition || f.partitions != s.tweetsPartitions() {
		return s.rebuildTrend(a)
	}
	start := time.Now()
	// The restored totals' records are the latest of each facet, the
	// records still pending among them.
	f.mu.Lock()
	f.pending = nil
	f.mu.Unlock()
	lives := a.table.TakeLifecycles()
	written, err := f.v.restore(lives)
	if err != nil {
		s.log.Warn("the warm trending buckets cannot take the restored lifecycles; rebuilding them", "err", err)
		a.table.lives = lives
		return s.rebuildTrend(a)
	}
	n, err := f.catchUp(s.ctx, a.next)
	if err != nil {
		return fmt.Errorf("catch the trending buckets up with %s: %w", s.cfg.Deltas, err)
	}
	a.view, a.lifeWritten = f.v, written
	s.m.TrendingRebuild.Set(time.Since(start).Seconds())
	s.m.TrendingDeltas.Set(float64(n))
	s.log.Info("trending buckets caught up from the warm standby", append([]any{"topic", s.cfg.Deltas, "deltas", f.added, "caught_up", n, "lifecycles", len(written)}, append(f.v.logArgs(),
		"other_bucket_length", f.skipped, "took", time.Since(start).Round(time.Millisecond))...)...)
	return nil
}

// tweetsPartitions is the number of partitions of the posts topic, whose
// watermarks together make the stream's; while the topic does not exist,
// or when the broker does not answer, the number it is created with.
func (s *Stage) tweetsPartitions() int {
	n, err := s.askTweetsPartitions()
	if err != nil {
		s.log.Info("trending: posts topic not known yet, assuming its configured partitions", "topic", s.cfg.Tweets, "partitions", n, "err", err)
	}
	return n
}

// askTweetsPartitions is tweetsPartitions with the reason when it is only
// the configured number: the topic does not exist yet, or no answer.
func (s *Stage) askTweetsPartitions() (int, error) {
	n, err := s.r.Producer().Partitions(s.cfg.Tweets)
	if err != nil {
		return s.cfg.TweetsPartitions, err
	}
	return n, nil
}

// trending is the global trending list for the snapshot, spelled as the
// totals t spell it, its watermark, and until when the baseline still
// builds; nil, nil, nil before the stream has a watermark (the baseline's
// end is known once a bucket is held).
func (s *Stage) trending(a *active, t *Table) (list []snapshot.Trend, watermark, baseline *time.Time) {
	tr := a.view.tr
	if tr == nil {
		return nil, nil, nil
	}
	if u, ok := tr.BaselineUntil(); ok {
		baseline = &u
	}
	at := tr.Closed()
	if at.IsZero() {
		return nil, nil, baseline
	}
	if !at.Equal(a.rowsAt) {
		var byNetwork map[string]*trend.Lifecycle
		if a.view.facets != nil {
			byNetwork = a.view.facets.networks("")
		}
		a.rows, _ = rows(tr, s.cfg.TopN, byNetwork)
		a.rowsAt = at
	}
	if !at.Equal(s.trendAt) {
		s.trendAt = at
		s.m.TrendingCells.Set(float64(tr.Cells()))
		s.m.TrendingBytes.Set(float64(tr.Bytes()))
		s.m.TrendingMark.Set(float64(at.Unix()))
	}
	return spell(a.rows, t), &at, baseline
}

// spellingOf is key's display spelling, the one seen most often; the key
// itself when the table does not hold it.
func (t *Table) spellingOf(key string) string {
	if _, id, ok := t.keys.find([]byte(key), t.keyOf); ok {
		return t.spelling(id)
	}
	return key
}
