package rank

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/services/counter/internal/cells"
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
	"github.com/hashtrend/hashtrend/services/counter/internal/state"
	"github.com/hashtrend/hashtrend/services/counter/internal/trend"
)

// Each tracker of the trending view (the global one and each facet's;
// the `other` facets' lists are merges made when asked, and list their
// scores without one) steps a trend.Lifecycle at every bucket end it
// closes, and keeps the details of its candidates (trend.Reasons): its
// list is the lifecycle's, each row with its episode (since, peak,
// status, decayed score) and its reason. The lifecycle is a function of the closed buckets like the
// scores, but an episode can be older than the deltas a rebuild reads
// (a tag that peaked high cools for hours), so rank checkpoints each
// tracker's lifecycle on the state topic (state.LifecycleKey), in the
// snapshot's transaction, whenever it moved (once per closed bucket).
//
// A restore makes the view's trackers with the lifecycles the state topic
// holds attached before it adds any delta: the bucket ends up to a
// lifecycle's last one (the closed buckets of the restored totals, as the
// records are written with them) do not step it again, and the ends of
// the recent window before it give the reasons the candidates the
// uninterrupted run had (trend.Tracker.Attach). A warm standby's view
// takes each checkpoint its state tail reads before it adds the next
// delta, which the checkpoint is never behind (trendFollower). So every
// path to a view, uninterrupted, rebuilt or kept warm, holds the same
// lifecycles at the same delta offset.

// lives makes the lifecycles and reasons of a view's trackers: a new
// lifecycle, or the one restored for the tracker's facet when there is
// one (saved until the facet's tracker is made).
type lives struct {
	cfg   trend.Config
	lc    trend.LifecycleConfig
	saved map[facet.Name]*trend.Lifecycle
}

func newLives(cfg trend.Config, lc trend.LifecycleConfig) *lives {
	return &lives{cfg: cfg, lc: lc, saved: map[facet.Name]*trend.Lifecycle{}}
}

// attach gives tr, the new tracker of facet n, its lifecycle and reasons.
func (l *lives) attach(n facet.Name, tr *trend.Tracker) {
	lc := l.saved[n]
	if lc == nil {
		lc = trend.NewLifecycle(l.cfg, l.lc)
	}
	delete(l.saved, n)
	tr.Attach(lc, trend.NewReasons(trend.DefaultCounters))
}

// tracker is the tracker of facet n (All: the global one), nil when the
// view has none.
func (v view) tracker(n facet.Name) *trend.Tracker {
	if n.IsAll() {
		return v.tr
	}
	if v.facets == nil {
		return nil
	}
	return v.facets.trackers[n]
}

// each calls fn for every tracker of the view, the global one first, then
// the facets' by name.
func (v view) each(fn func(facet.Name, *trend.Tracker)) {
	if v.tr != nil {
		fn(facet.Name{}, v.tr)
	}
	if v.facets == nil {
		return
	}
	names := make([]facet.Name, 0, len(v.facets.trackers))
	for n := range v.facets.trackers {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b facet.Name) int { return cmp.Compare(a.String(), b.String()) })
	for _, n := range names {
		fn(n, v.facets.trackers[n])
	}
}

// restore attaches the lifecycles of recs (facet → a lifecycle record's
// state, nil for a tombstone) to the view's trackers, or keeps them for
// trackers made later, and returns the last bucket end of each, what the
// state topic holds. A tracker that has closed a bucket past its
// lifecycle's last end cannot take it (the checkpoint is behind what it
// has seen): an error.
func (v view) restore(recs map[facet.Name][]byte) (map[facet.Name]time.Time, error) {
	written := make(map[facet.Name]time.Time, len(recs))
	if v.lives == nil {
		return written, nil
	}
	for n, b := range recs {
		if b == nil {
			continue
		}
		l, err := trend.DecodeLifecycle(b, v.lives.cfg, v.lives.lc)
		if err != nil {
			return nil, fmt.Errorf("lifecycle of %s: %w", n, err)
		}
		written[n] = l.At()
		tr := v.tracker(n)
		if tr == nil {
			v.lives.saved[n] = l
			continue
		}
		if c := tr.Closed(); c.After(l.At()) {
			return nil, fmt.Errorf("lifecycle of %s: its checkpoint ends at %s, the buckets are closed to %s", n, l.At(), c)
		}
		tr.Attach(l, tr.Reasons())
	}
	return written, nil
}

// lifeRecord is a lifecycle record for the state topic, and the bucket
// end its lifecycle is at.
type lifeRecord struct {
	facet facet.Name
	key   string
	value []byte
	at    time.Time
}

// checkpoints returns the lifecycle records of the view's trackers whose
// lifecycle moved since the state topic's (written: facet → the last
// bucket end written). A lifecycle changes only when it steps, and every
// step moves its last bucket end, so that end tells whether it changed.
func (v view) checkpoints(written map[facet.Name]time.Time) ([]lifeRecord, error) {
	var out []lifeRecord
	var err error
	v.each(func(n facet.Name, tr *trend.Tracker) {
		l := tr.Lifecycle()
		if err != nil || l == nil || l.At().IsZero() {
			return
		}
		if w, ok := written[n]; ok && w.Equal(l.At()) {
			return
		}
		var b []byte
		if b, err = l.Encode(); err != nil {
			err = fmt.Errorf("lifecycle of %s: %w", n, err)
			return
		}
		out = append(out, lifeRecord{facet: n, key: state.LifecycleKey(n), value: b, at: l.At()})
	})
	return out, err
}

// detailOf is the reason's input from bucket b: its authors summary and
// its posts by origin (its cell's network and language, or its posts by
// cell when it is of every cell); false when the delta carries no
// summary (a tally with the reasons off, or of a version before them).
func detailOf(b *delta.Bucket) (trend.Detail, bool) { return detailFrom(b.Heavy, b.Cell, b.Cells) }

// detailFrom is the detail of a bucket of cell (empty: of every cell,
// whose posts by cell are byCell) whose authors h summarises (nil: no
// summary). The detail shares h's counters, which the reasons merge into
// their own. A bucket that says nothing of its cells has no origins.
func detailFrom(h *trend.Heavy, cell string, byCell cells.Counts) (trend.Detail, bool) {
	if h == nil || h.N() == 0 {
		return trend.Detail{}, false
	}
	d := trend.Detail{Authors: *h}
	origin := func(cell string, n int64) {
		c, err := facet.ParseCell(cell)
		if err != nil || n <= 0 {
			return // the decoder checked it
		}
		if d.Origins == nil {
			d.Origins = map[trend.Origin]int64{}
		}
		d.Origins[trend.Origin{Source: c.Network, Lang: c.Language}] += n
	}
	if cell != "" {
		origin(cell, h.N())
	}
	for _, x := range byCell {
		origin(x.Cell, x.N)
	}
	return d, true
}

// entries is tr's trending list, n rows at most, and the bucket end it is
// at: its lifecycle's, or without one (a merge of folded languages) its
// scores' as rows without an episode.
func entries(tr *trend.Tracker, n int) ([]trend.Entry, time.Time) {
	if tr.Lifecycle() != nil {
		return tr.Trending(n)
	}
	top, at := tr.Top(n)
	out := make([]trend.Entry, len(top))
	for i, t := range top {
		out[i] = trend.Entry{Trend: t, Value: t.Score}
	}
	return out, at
}

// rows is tr's trending list for a snapshot or a facet record, n rows at
// most, each with its episode (when tr has a lifecycle) and its reason,
// and the bucket end it is at. byNetwork, when set, is the lifecycles of
// the networks' facets the rows' facet is the union of (by network), for
// where each row's tag started first. Hashtag is left empty (spell).
func rows(tr *trend.Tracker, n int, byNetwork map[string]*trend.Lifecycle) ([]snapshot.Trend, time.Time) {
	es, at := entries(tr, n)
	if at.IsZero() {
		return nil, at
	}
	out := make([]snapshot.Trend, len(es))
	for i, e := range es {
		r := snapshot.Trend{Rank: i + 1, Key: e.Key, Score: e.Score, Observed: e.Observed, Expected: e.Expected, Count: e.Posts}
		if e.Status != "" {
			since, peakAt := e.Since, e.PeakAt
			r.Status, r.Since, r.Peak, r.PeakAt, r.Decayed = string(e.Status), &since, e.Peak, &peakAt, e.Decayed
		}
		if why, ok := tr.Reason(e.Key); ok {
			r.Reason = reasonOf(why, trend.Starts(e.Key, byNetwork))
		}
		out[i] = r
	}
	return out, at
}

// reasonOf is a reason in the snapshot's form; From only when details
// cover some posts.
func reasonOf(r trend.Reason, started []trend.Start) *snapshot.Reason {
	out := &snapshot.Reason{PostsPerAuthor: r.PostsPerAuthor, TopAuthorsShare: r.TopShareHigh,
		TopAuthorsShareError: r.TopShareHigh - r.TopShareLow, Covered: r.Covered, Authors: r.Authors}
	if r.Covered > 0 {
		from := r.From
		out.From = &from
	}
	for _, s := range r.Sources {
		out.Sources = append(out.Sources, snapshot.Share{Name: s.Name, Posts: s.Posts})
	}
	for _, s := range r.Langs {
		out.Langs = append(out.Langs, snapshot.Share{Name: s.Name, Posts: s.Posts})
	}
	for _, s := range started {
		out.Started = append(out.Started, snapshot.Start{Network: s.Network, Since: s.Since})
	}
	return out
}

// spell returns rows with each tag spelled as the totals t spell it.
func spell(rows []snapshot.Trend, t *Table) []snapshot.Trend {
	if rows == nil {
		return nil
	}
	out := slices.Clone(rows)
	for i := range out {
		out[i].Hashtag = t.spellingOf(out[i].Key)
	}
	return out
}
