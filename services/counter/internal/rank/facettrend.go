package rank

import (
	"slices"
	"strings"
	"time"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
	"github.com/hashtrend/hashtrend/services/counter/internal/trend"
)

// facetTrends is the trending view of every facet: a trend.Tracker per
// network, per language and per pair of them, fed with the buckets of
// the cells it holds (the deltas' buckets are by cell with facets on) and
// with every watermark, so each closes its buckets where the global view
// does. Languages are kept as the posts had them, never folded: the
// lists of `lang:other` and of each network's `other` are made when they
// are asked for, from the merge of the folded languages' trackers
// (trend.Merge), so that a change of the fold moves no bucket. Like the
// global view it depends on the deltas applied and their order only, and
// is rebuilt from the deltas topic, or kept by the warm standby, with it.
// Each tracker steps a lifecycle of its own (lifecycle.go), whether its
// language is folded or not, so a language that enters the busiest lists
// its episodes as they are, not from then on.
//
// Each bucket of a hashtag is held four times in all: in the global view
// and in its network's, its language's and the pair's.
type facetTrends struct {
	cfg        trend.Config
	partitions int
	trackers   map[facet.Name]*trend.Tracker // never a folded name
	marks      map[int32]int64               // every watermark seen, for trackers made later
	lives      *lives                        // makes each tracker's lifecycle; nil: none

	// The lists of the last ask, for the closed bucket and the languages
	// with facets of their own they were made for.
	at     time.Time
	own    string
	cached map[facet.Name][]snapshot.Trend
}

func newFacetTrends(cfg trend.Config, partitions int, l *lives) *facetTrends {
	return &facetTrends{cfg: cfg, partitions: partitions, trackers: map[facet.Name]*trend.Tracker{}, marks: map[int32]int64{}, lives: l}
}

// tracker is the tracker of the facet named n, made when it is new: it
// has seen every watermark before its first bucket, as if it had been
// there from the start (a bucket that closed before is dropped by it as
// by the global view), and steps its lifecycle to the bucket end they
// close.
func (f *facetTrends) tracker(n facet.Name) *trend.Tracker {
	tr := f.trackers[n]
	if tr == nil {
		tr = trend.NewTracker(f.cfg, f.partitions)
		if f.lives != nil {
			f.lives.attach(n, tr)
		}
		for p, w := range f.marks {
			tr.Advance(p, w)
		}
		f.trackers[n] = tr
	}
	return tr
}

// add adds d's buckets of cells, with their details, to their facets'
// trackers, then d's watermarks to every tracker. A delta of another
// bucket length is left out (addTrend says so for the global view);
// buckets without a cell (from a tally with facets off) are in no facet.
func (f *facetTrends) add(d delta.Delta) {
	if d.BucketMillis != f.cfg.Bucket.Milliseconds() {
		return
	}
	for _, c := range d.Counts {
		for i := range c.Buckets {
			b := &c.Buckets[i]
			if b.Cell == "" {
				continue
			}
			cell, err := facet.ParseCell(b.Cell)
			if err != nil {
				continue // the decoder checked it
			}
			det, explained := detailOf(b)
			for _, n := range [3]facet.Name{{Network: cell.Network}, {Language: cell.Language}, {Network: cell.Network, Language: cell.Language}} {
				tr := f.tracker(n)
				tr.Add(c.Key, b.Start, b.N, &b.Authors)
				if explained {
					tr.AddDetail(c.Key, b.Start, &det)
				}
			}
		}
	}
	for _, w := range d.Watermarks {
		if w.At > f.marks[w.Partition] {
			f.marks[w.Partition] = w.At
		}
		for _, tr := range f.trackers {
			tr.Advance(w.Partition, w.At)
		}
	}
}

// networks is the lifecycles of the networks' facets of language lang
// ("": of every language), by network: where a tag of lang's facet (or
// of all) started first.
func (f *facetTrends) networks(lang string) map[string]*trend.Lifecycle {
	out := map[string]*trend.Lifecycle{}
	for n, tr := range f.trackers {
		if n.Network != "" && n.Language == lang && tr.Lifecycle() != nil {
			out[n.Network] = tr.Lifecycle()
		}
	}
	return out
}

// lists returns the trending rows (trend rows, unspelled) of every facet
// that has a tracker, the languages not in own folded into `other`, and
// the end of the last closed bucket they are at; nil before the stream
// has a watermark. A facet with a tracker lists its lifecycle's rows, a
// language's with where each tag started first among its networks' pairs;
// an `other` facet, a merge made for the ask, its scores' rows, without
// an episode: the languages it holds change with the fold from one
// bucket to the next.
func (f *facetTrends) lists(own []string, n int) (map[facet.Name][]snapshot.Trend, time.Time) {
	var at time.Time
	for _, tr := range f.trackers {
		if t := tr.Closed(); t.After(at) {
			at = t
		}
	}
	if at.IsZero() {
		return nil, at
	}
	key := strings.Join(own, ",")
	if at.Equal(f.at) && key == f.own && f.cached != nil {
		return f.cached, at
	}
	isOwn := func(l string) bool { return slices.Contains(own, l) }
	out := map[facet.Name][]snapshot.Trend{}
	folded := map[facet.Name][]*trend.Tracker{} // an `other` facet → the trackers it merges
	for name, tr := range f.trackers {
		if name.Language == "" || isOwn(name.Language) {
			var byNetwork map[string]*trend.Lifecycle
			if name.Network == "" {
				byNetwork = f.networks(name.Language)
			}
			if l, _ := rows(tr, n, byNetwork); len(l) > 0 {
				out[name] = l
			}
			continue
		}
		other := facet.Name{Network: name.Network, Language: facet.Other}
		folded[other] = append(folded[other], tr)
	}
	for name, trs := range folded {
		if l, _ := rows(trend.Merge(f.cfg, trs...), n, nil); len(l) > 0 {
			out[name] = l
		}
	}
	f.at, f.own, f.cached = at, key, out
	return out, at
}
