package rank

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/services/counter/internal/cells"
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
	"github.com/hashtrend/hashtrend/services/counter/internal/state"
)

// facetModel is every hashtag's posts by cell in plain maps, each facet's
// top found by adding the cells up and sorting: what the table's facet
// tops must agree with. Posts in no cell (counted before facets were on)
// are in the totals only.
type facetModel struct {
	cells map[string]map[facet.Cell]int64 // key → cell → posts
	own   map[string]bool
}

// tops is every facet's top n, as the table's FacetTops writes them.
func (m *facetModel) tops(n int, spelling func(string) string) string {
	counts := map[facet.Name]map[string]int64{}
	for k, cs := range m.cells {
		for c, p := range cs {
			lang := c.Language
			if !m.own[lang] {
				lang = facet.Other
			}
			for _, name := range []facet.Name{{Network: c.Network}, {Language: lang}, {Network: c.Network, Language: lang}} {
				if counts[name] == nil {
					counts[name] = map[string]int64{}
				}
				counts[name][k] += p
			}
		}
	}
	names := slices.SortedFunc(maps.Keys(counts), func(a, b facet.Name) int { return strings.Compare(a.String(), b.String()) })
	var b strings.Builder
	for _, name := range names {
		keys := slices.SortedFunc(maps.Keys(counts[name]), func(x, y string) int {
			if c := cmp.Compare(counts[name][y], counts[name][x]); c != 0 {
				return c
			}
			return cmp.Compare(x, y)
		})
		fmt.Fprintf(&b, "%s:", name)
		for i, k := range keys[:min(n, len(keys))] {
			fmt.Fprintf(&b, " %d:%s=%d", i+1, spelling(k), counts[name][k])
		}
		b.WriteString("\n")
	}
	return b.String()
}

func tableTops(t *Table) string {
	var b strings.Builder
	for _, ft := range t.FacetTops() {
		fmt.Fprintf(&b, "%s:", ft.Name)
		for _, e := range ft.Top {
			fmt.Fprintf(&b, " %d:%s=%d", e.Rank, e.Hashtag, e.Count)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestFacetTopsAgreeWithCellsAddedUp drives a table with facets and the
// model with the same random deltas (with cells and without, as from a
// tally with facets off), restores of totals with and without cells,
// tombstones, and changes of the languages with facets of their own,
// asking for the tops in between: every facet's top must be the model's
// at every step, and the changed totals must carry the model's cells.
func TestFacetTopsAgreeWithCellsAddedUp(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tb := NewTable()
	tb.EnableFacets(5)
	m := &facetModel{cells: map[string]map[facet.Cell]int64{}, own: map[string]bool{}}
	totals := map[string]int64{}
	networks := []string{"bluesky", "mastodon", "x", "other"}
	langs := []string{"en", "ja", "de", "und", "pt"}
	randomCell := func() facet.Cell {
		return facet.Cell{Network: networks[r.IntN(len(networks))], Language: langs[r.IntN(len(langs))]}
	}
	addModel := func(key string, counts cells.Counts) {
		if m.cells[key] == nil {
			m.cells[key] = map[facet.Cell]int64{}
		}
		for _, x := range counts {
			c, _ := facet.ParseCell(x.Cell)
			m.cells[key][c] += x.N
		}
	}
	for step := range 20_000 {
		key := fmt.Sprintf("k%02d", r.IntN(60))
		switch x := r.IntN(100); {
		case x < 80: // a delta count, mostly with cells
			n := 1 + r.Int64N(4)
			c := delta.Count{Key: key, N: n, Spelling: key}
			if r.IntN(10) > 0 {
				m := map[string]int64{}
				for range n {
					m[randomCell().String()]++
				}
				c.Cells = cells.Of(m)
			}
			tb.Apply(d(c))
			addModel(key, c.Cells)
			totals[key] += n
		case x < 85: // a restored total, with cells or without
			tot := state.Total{Count: 1 + r.Int64N(40), Spelling: key}
			m.cells[key] = map[facet.Cell]int64{}
			if r.IntN(4) > 0 {
				m := map[string]int64{}
				left := tot.Count - r.Int64N(2) // some posts before facets
				for left > 0 {
					k := 1 + r.Int64N(left)
					m[randomCell().String()] += k
					left -= k
				}
				tot.Cells = cells.Of(m)
				addModel(key, tot.Cells)
			}
			b, _ := state.EncodeTotal(tot)
			if err := load(tb, []byte(key), b); err != nil {
				t.Fatal(err)
			}
			totals[key] = tot.Count
		case x < 88:
			if err := load(tb, []byte(key), nil); err != nil {
				t.Fatal(err)
			}
			delete(m.cells, key)
			delete(totals, key)
		case x < 91: // the fold chooses other languages
			var own []string
			for _, l := range langs {
				if r.IntN(2) == 0 {
					own = append(own, l)
				}
			}
			tb.SetOwn(own)
			clear(m.own)
			for _, l := range own {
				m.own[l] = true
			}
			if got := tb.Own(); !slices.Equal(got, slices.Sorted(maps.Keys(m.own))) {
				t.Fatalf("step %d: Own() = %v, want %v", step, got, own)
			}
		case x < 95:
			tb.Published(int64(step))
		default:
			if got, want := tableTops(tb), m.tops(5, func(k string) string { return k }); got != want {
				t.Fatalf("step %d: facet tops\n%s\nwant\n%s", step, got, want)
			}
		}
	}
	err := tb.Changed(func(k string, v state.Total) error {
		want := map[string]int64{}
		for c, n := range m.cells[k] {
			want[c.String()] = n
		}
		if len(want) == 0 {
			want = nil
		}
		if v.Count != totals[k] || !maps.Equal(v.Cells.Map(), want) {
			return fmt.Errorf("changed %s = %+v, want count %d, cells %v", k, v, totals[k], want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestFacetsOffKeepsNoCells: a table without facets reads totals with
// cells and deltas with cells, keeps the counts and writes no cell back,
// as the counter did before facets.
func TestFacetsOffKeepsNoCells(t *testing.T) {
	tb := NewTable()
	b, _ := state.EncodeTotal(state.Total{Count: 3, Spelling: "Go", Cells: cells.Of(map[string]int64{"x/en": 3})})
	if err := load(tb, []byte("go"), b); err != nil {
		t.Fatal(err)
	}
	tb.Apply(d(delta.Count{Key: "go", N: 2, Spelling: "Go", Cells: cells.Of(map[string]int64{"bluesky/ja": 2})}))
	err := tb.Changed(func(k string, v state.Total) error {
		if v.Count != 5 || v.Cells != nil {
			return fmt.Errorf("%s = %+v", k, v)
		}
		return nil
	})
	if err != nil || tb.FacetTops() != nil {
		t.Fatalf("Changed: %v; facet tops %v", err, tb.FacetTops())
	}
}

// TestACellListReplacedAgainAndAgainHoldsNoMore: a standby restores a
// hashtag of several cells every window; its list of cells is reused.
func TestACellListReplacedAgainAndAgainHoldsNoMore(t *testing.T) {
	tb := NewTable()
	tb.EnableFacets(10)
	for i := range 1_000 {
		multi, _ := state.EncodeTotal(state.Total{Count: int64(i + 3), Spelling: "Go", Cells: cells.Of(map[string]int64{"x/en": 1, "bluesky/ja": int64(i + 1)})})
		single, _ := state.EncodeTotal(state.Total{Count: int64(i + 1), Spelling: "Rust", Cells: cells.Of(map[string]int64{"x/en": int64(i + 1)})})
		if err := load(tb, []byte("go"), multi); err != nil {
			t.Fatal(err)
		}
		if err := load(tb, []byte("rust"), single); err != nil {
			t.Fatal(err)
		}
	}
	if len(tb.cells.lists) != 1 || len(tb.cells.names) != 2 {
		t.Fatalf("after 1,000 replacements: %d cell lists, %d cells", len(tb.cells.lists), len(tb.cells.names))
	}
	if got := tableTops(tb); !strings.Contains(got, "source:x: 1:Rust=1000 2:Go=1\n") || !strings.Contains(got, "source:bluesky: 1:Go=1000\n") {
		t.Fatalf("facet tops:\n%s", got)
	}
}

// BenchmarkFacetMemory reports the live heap per hashtag of a table of
// 1,000,000 hashtags restored from the state topic, with facets off and
// on, each hashtag in one cell, or in three (one hashtag in ten). The
// difference is what the facets cost per hashtag.
func BenchmarkFacetMemory(b *testing.B) {
	const n = 1_000_000
	for _, c := range []struct {
		name   string
		facets bool
		multi  int // every multi-th hashtag has three cells
	}{{"facets=off", false, 0}, {"facets=on/one-cell", true, 0}, {"facets=on/three-cells-in-ten", true, 10}} {
		keys, values := make([][]byte, n), make([][]byte, n)
		for i := range n {
			tot := state.Total{Count: int64(3 + i%1000), Spelling: fmt.Sprintf("Tag%08d", i)}
			if c.facets {
				tot.Cells = cells.Of(map[string]int64{"bluesky/en": tot.Count})
				if c.multi > 0 && i%c.multi == 0 {
					tot.Cells = cells.Of(map[string]int64{"bluesky/en": tot.Count - 2, "x/ja": 1, "mastodon/de": 1})
				}
			}
			keys[i] = fmt.Appendf(nil, "tag%08d", i)
			values[i], _ = state.EncodeTotal(tot)
		}
		b.Run(c.name, func(b *testing.B) {
			var heap uint64
			for b.Loop() {
				before := liveHeap()
				tb := NewTable()
				if c.facets {
					tb.EnableFacets(10)
				}
				for i := range keys {
					if err := load(tb, keys[i], values[i]); err != nil {
						b.Fatal(err)
					}
				}
				tb.Top(10)
				tb.FacetTops()
				heap = liveHeap() - before
				runtime.KeepAlive(tb)
			}
			b.ReportMetric(float64(heap)/n, "heap-B/tag")
		})
	}
}

// BenchmarkFacetWindow is one window's work on a table of 100,000
// hashtags, as BenchmarkTableWindow, with facets off and on: a delta of
// 1,000 changed keys applied (with facets, each key's posts in up to 24
// cells of 4 networks and 20 languages, the head keys in all of them),
// the top 10 and every facet's top 10 taken, the changed totals listed,
// the window closed.
func BenchmarkFacetWindow(b *testing.B) {
	const n = 100_000
	networks := []string{"bluesky", "mastodon", "x", "twitter"}
	langs := []string{"en", "ja", "de", "pt", "es", "fr", "ko", "nl", "it", "tr", "ru", "pl", "sv", "fi", "th", "uk", "ar", "fa", "id", "zh"}
	for _, facets := range []bool{false, true} {
		tb := NewTable()
		if facets {
			tb.EnableFacets(10)
			tb.SetOwn(langs)
		}
		r := rand.New(rand.NewPCG(1, 2))
		deltas := make([]delta.Delta, 64)
		for w := range deltas {
			deltas[w] = delta.Delta{Posts: 1000}
			for j := range 1000 {
				k := fmt.Sprintf("tag%08d", (w*7919+j*104729)%n)
				c := delta.Count{Key: k, N: int64(1 + j%3), Spelling: k}
				if j < 50 { // the head: many posts, every cell
					c.N = 100
				}
				if facets {
					m := map[string]int64{}
					for range c.N {
						m[networks[r.IntN(4)]+"/"+langs[r.IntN(20)]]++
					}
					c.Cells = cells.Of(m)
				}
				deltas[w].Counts = append(deltas[w].Counts, c)
			}
		}
		for w := range 64 { // every key in the table, and its cells
			tb.Apply(deltas[w])
		}
		for i := range n {
			k := fmt.Sprintf("tag%08d", i)
			c := delta.Count{Key: k, N: 1, Spelling: k}
			if facets {
				c.Cells = cells.Counts{{Cell: networks[i%4] + "/" + langs[i%20], N: 1}}
			}
			tb.Apply(d(c))
		}
		tb.Published(0)
		b.Run(fmt.Sprintf("facets=%v", facets), func(b *testing.B) {
			w := 0
			for b.Loop() {
				tb.Apply(deltas[w%len(deltas)])
				tb.Top(10)
				tb.FacetTops()
				_ = tb.Changed(func(string, state.Total) error { return nil })
				tb.Published(int64(w))
				w++
			}
		})
	}
}
