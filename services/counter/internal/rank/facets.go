package rank

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
)

// facets keeps the top of every facet's running totals up to date, as
// the table keeps the top of all of them: a facet's count of a hashtag is
// the sum of the hashtag's cells that the facet holds (facet.Route), and
// counts only grow, so a hashtag enters a facet's top only when a delta
// adds to one of its cells there, which is when it is looked at.
//
// The languages with facets of their own (own) change with the language
// fold (fold.go); each change moves cells between a language's facets and
// the `other` facets, whose counts then shrink, so the tops of every
// facet are found again from every entry, in one pass, at the next
// publish (as after a restore). That happens at most once per post-time
// bucket.
type facets struct {
	n      int             // entries per top
	own    map[string]bool // languages with facets of their own
	leads  map[facet.Name]*lead
	routes [][3]*lead // cell id → the tops of its facets; rebuilt when own changes
	stale  bool       // every top must be found again
	gen    uint64     // marks the tops one count touches (lead.mark)
	acc    []*lead
}

// lead is one facet's top: the best n hashtags by their count in the
// facet, best first.
type lead struct {
	name facet.Name
	top  []ranked
	// mark and n are a count's scratch: the generation that touched this
	// top last, and the hashtag's count in the facet then.
	mark uint64
	n    int64
}

func newFacets(n int) *facets {
	return &facets{n: n, own: map[string]bool{}, leads: map[facet.Name]*lead{}}
}

// leadOf is the top of the facet named n, made when it is new.
func (f *facets) leadOf(n facet.Name) *lead {
	l := f.leads[n]
	if l == nil {
		l = &lead{name: n}
		f.leads[n] = l
	}
	return l
}

// route is the tops of cell c's facets.
func (f *facets) route(cs *cellTable, c uint32) [3]*lead {
	for int(c) >= len(f.routes) {
		var r [3]*lead
		for i, n := range facet.Route(cs.names[len(f.routes)], func(l string) bool { return f.own[l] }) {
			r[i] = f.leadOf(n)
		}
		f.routes = append(f.routes, r)
	}
	return f.routes[c]
}

// setOwn makes langs the languages with facets of their own. When they
// differ from before, every top is found again at the next look.
func (f *facets) setOwn(langs []string) {
	if len(langs) == len(f.own) {
		same := true
		for _, l := range langs {
			same = same && f.own[l]
		}
		if same {
			return
		}
	}
	clear(f.own)
	for _, l := range langs {
		f.own[l] = true
	}
	f.routes = f.routes[:0]
	clear(f.leads)
	f.stale = true
}

// counts sums entry id's cells into the tops of their facets (lead.n),
// for the tops marked with the current generation when only is set, and
// returns the tops summed. A call costs the entry's cells, whatever their
// number.
func (f *facets) counts(t *Table, id uint32, only bool) []*lead {
	f.acc = f.acc[:0]
	if !only {
		f.gen++
	}
	gen := f.gen
	t.cells.each(id, t.at(id).n, func(c uint32, k int64) {
		for _, l := range f.route(t.cells, c) {
			switch {
			case l.mark == gen && l.n >= 0:
			case l.mark == gen: // marked by the caller, not summed yet
				l.n = 0
				f.acc = append(f.acc, l)
			case only:
				continue
			default:
				l.mark, l.n = gen, 0
				f.acc = append(f.acc, l)
			}
			l.n += k
		}
	})
	return f.acc
}

// raise updates the tops of the facets whose count of entry id a delta
// count c changed.
func (f *facets) raise(t *Table, id uint32, c delta.Count) {
	if f.stale || len(c.Cells) == 0 {
		return
	}
	f.gen++
	for _, x := range c.Cells {
		for _, l := range f.route(t.cells, t.cells.id(x.Cell)) {
			l.mark, l.n = f.gen, -1 // touched by the delta, not summed
		}
	}
	for _, l := range f.counts(t, id, true) {
		f.offer(t, l, id, l.n)
	}
}

// offer puts id, whose count in l's facet is now n, where it belongs in
// l's top, if anywhere.
func (f *facets) offer(t *Table, l *lead, id uint32, n int64) {
	i := slices.IndexFunc(l.top, func(r ranked) bool { return r.id == id })
	if i < 0 {
		if len(l.top) == f.n {
			last := l.top[len(l.top)-1]
			if t.before(id, n, last.id, last.n) >= 0 {
				return
			}
			l.top = l.top[:len(l.top)-1]
		}
		l.top = append(l.top, ranked{id, n})
		i = len(l.top) - 1
	} else {
		l.top[i].n = n
	}
	for ; i > 0 && t.before(id, n, l.top[i-1].id, l.top[i-1].n) < 0; i-- {
		l.top[i], l.top[i-1] = l.top[i-1], l.top[i]
	}
}

// rebuild finds every facet's top again by looking at every entry.
func (f *facets) rebuild(t *Table) {
	for _, l := range f.leads {
		l.top = l.top[:0]
	}
	for id := range t.live {
		for _, l := range f.counts(t, id, false) {
			f.offer(t, l, id, l.n)
		}
	}
	f.stale = false
}

// FacetTops returns the top n of every facet that has a hashtag, by
// name, the facets sorted by name; nil with facets off.
func (t *Table) FacetTops() []FacetTop {
	f := t.facets
	if f == nil {
		return nil
	}
	if f.stale {
		f.rebuild(t)
	}
	out := make([]FacetTop, 0, len(f.leads))
	for _, l := range f.leads {
		if len(l.top) == 0 {
			continue
		}
		es := make([]snapshot.Entry, len(l.top))
		for i, r := range l.top {
			es[i] = t.entryOf(i, r.id, r.n)
		}
		out = append(out, FacetTop{Name: l.name, Top: es})
	}
	slices.SortFunc(out, func(a, b FacetTop) int { return strings.Compare(a.Name.String(), b.Name.String()) })
	return out
}

// FacetTop is one facet's lists: its top, and its trending list at the
// watermark, when trending per facet is on and something trends there.
type FacetTop struct {
	Name      facet.Name
	Top       []snapshot.Entry
	Trending  []snapshot.Trend
	Watermark *time.Time
}

// SetOwn makes langs the languages with facets of their own (the fold's
// choice); the others count in the `other` facets.
func (t *Table) SetOwn(langs []string) {
	if t.facets != nil {
		t.facets.setOwn(langs)
	}
}

// Own returns the languages with facets of their own, sorted.
func (t *Table) Own() []string {
	if t.facets == nil {
		return nil
	}
	out := make([]string, 0, len(t.facets.own))
	for l := range t.facets.own {
		out = append(out, l)
	}
	slices.SortFunc(out, cmp.Compare)
	return out
}
