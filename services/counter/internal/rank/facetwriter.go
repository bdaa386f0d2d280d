package rank

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
)

// facetWriter decides which facets' records a snapshot's transaction
// writes to the facets topic: a facet's lists when they differ from what
// the topic holds for it, a tombstone for a facet the topic holds that has
// no lists any more, and no more of them than fit in the window's budget
// of bytes beside the snapshot; the facets left over wait for the next
// window, the longest waiting first. What the topic holds is known from
// what this member wrote (written, updated when a transaction commits);
// after a restore it is not known, so every facet the cells can name is
// taken to hold something else (unknown): the first windows write every
// current facet and a tombstone for every other.
type facetWriter struct {
	written map[string]string // facet name → its lists' JSON as the topic holds it
	waiting map[string]int64  // facet name → the batch since which it waits
}

// unknown stands for lists the writer does not know; no encoding is empty.
const unknown = ""

func newFacetWriter() *facetWriter {
	return &facetWriter{written: map[string]string{}, waiting: map[string]int64{}}
}

// forget makes the writer take every facet name of names to hold lists it
// does not know.
func (w *facetWriter) forget(names []string) {
	for _, n := range names {
		w.written[n] = unknown
	}
}

// facetRecord is one record for the facets topic: value nil for a
// tombstone; lists is what written holds once it is committed.
type facetRecord struct {
	key   string
	value []byte
	lists string
}

// due returns the records to write with snapshot batch (window end end)
// for the facets' tops, within budget bytes of keys and values; at least
// one when any is due, so that the lists move whatever the snapshot's
// size. waiting is how many facets are left for later windows.
func (w *facetWriter) due(tops []FacetTop, batch int64, end time.Time, budget int) (recs []facetRecord, waiting int, err error) {
	current := make(map[string]string, len(tops))
	records := make(map[string]snapshot.Facet, len(tops))
	for _, ft := range tops {
		f := snapshot.Facet{Facet: ft.Name.String(), Batch: batch, WindowEnd: end, Top: facetCounts(ft.Top), Trending: ft.Trending, Watermark: ft.Watermark}
		lists, err := json.Marshal(struct {
			Top       []snapshot.Count
			Trending  []snapshot.Trend
			Watermark *time.Time
		}{f.Top, f.Trending, f.Watermark})
		if err != nil {
			return nil, 0, err
		}
		current[f.Facet], records[f.Facet] = string(lists), f
	}
	for name, lists := range current {
		if held, ok := w.written[name]; !ok || held != lists {
			w.wait(name, batch)
		} else {
			delete(w.waiting, name)
		}
	}
	for name := range w.written {
		if _, ok := current[name]; !ok {
			w.wait(name, batch)
		}
	}
	order := make([]string, 0, len(w.waiting))
	for name := range w.waiting {
		order = append(order, name)
	}
	slices.SortFunc(order, func(a, b string) int {
		if c := cmp.Compare(w.waiting[a], w.waiting[b]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	used := 0
	for i, name := range order {
		r := facetRecord{key: name}
		if lists, ok := current[name]; ok {
			if r.value, err = snapshot.EncodeFacet(records[name]); err != nil {
				return nil, 0, err
			}
			r.lists = lists
		}
		size := len(r.key) + len(r.value)
		if i > 0 && used+size > budget {
			return recs, len(order) - i, nil
		}
		used += size
		recs = append(recs, r)
	}
	return recs, 0, nil
}

func (w *facetWriter) wait(name string, batch int64) {
	if _, ok := w.waiting[name]; !ok {
		w.waiting[name] = batch
	}
}

// committed records that recs are what the topic holds now.
func (w *facetWriter) committed(recs []facetRecord) {
	for _, r := range recs {
		delete(w.waiting, r.key)
		if r.value == nil {
			delete(w.written, r.key)
		} else {
			w.written[r.key] = r.lists
		}
	}
}

// facetCounts is a top list in the short form of facet records.
func facetCounts(es []snapshot.Entry) []snapshot.Count {
	out := make([]snapshot.Count, len(es))
	for i, e := range es {
		out[i] = snapshot.Count{Hashtag: e.Hashtag, Count: e.Count}
	}
	return out
}

// FacetNames returns the name of every facet the table's cells could
// give lists to, whichever languages have facets of their own: each
// network's, each language's and the fold's, and each pair of them.
func (t *Table) FacetNames() []string {
	if t.cells == nil {
		return nil
	}
	names := map[facet.Name]bool{}
	for _, c := range t.cells.names {
		for _, l := range []string{c.Language, facet.Other} {
			names[facet.Name{Network: c.Network}] = true
			names[facet.Name{Language: l}] = true
			names[facet.Name{Network: c.Network, Language: l}] = true
		}
	}
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n.String())
	}
	slices.Sort(out)
	return out
}
