package web

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/snapshot"
)

func snap(batch int64, top, window map[string]int64) snapshot.Snapshot {
	s := snapshot.Snapshot{Batch: batch}
	for k, n := range top {
		s.Top = append(s.Top, snapshot.Entry{Hashtag: k, Key: k, Count: n})
	}
	for k, n := range window {
		s.WindowTop = append(s.WindowTop, snapshot.Entry{Hashtag: k, Key: k, Count: n})
	}
	return s
}

func show(line []*int64) string {
	out := "["
	for i, n := range line {
		if i > 0 {
			out += " "
		}
		if n == nil {
			out += "-"
		} else {
			out += fmt.Sprint(*n)
		}
	}
	return out + "]"
}

func TestSeries(t *testing.T) {
	type m = map[string]int64
	for _, tc := range []struct {
		name   string
		recent []snapshot.Snapshot
		want   map[string]string
	}{{
		name:   "one snapshot tells nothing but its own window top",
		recent: []snapshot.Snapshot{snap(7, m{"a": 50, "b": 40}, m{"a": 3})},
		want:   map[string]string{"a": "[3]", "b": "[-]"},
	}, {
		name: "consecutive batches give the growth of the running total",
		recent: []snapshot.Snapshot{
			snap(1, m{"a": 10}, nil), snap(2, m{"a": 14}, nil), snap(3, m{"a": 14}, nil), snap(4, m{"a": 20}, nil)},
		want: map[string]string{"a": "[- 4 0 6]"},
	}, {
		name: "the window's own top wins over the difference",
		recent: []snapshot.Snapshot{
			snap(1, m{"a": 10}, nil), snap(2, m{"a": 15}, m{"a": 5})},
		want: map[string]string{"a": "[- 5]"},
	}, {
		name: "a gap in the batches leaves a gap in the line",
		recent: []snapshot.Snapshot{
			snap(1, m{"a": 10}, nil), snap(2, m{"a": 12}, nil), snap(5, m{"a": 30}, nil), snap(6, m{"a": 31}, nil)},
		want: map[string]string{"a": "[- 2 - 1]"},
	}, {
		name: "a tag new to the top is unknown until it has been there twice",
		recent: []snapshot.Snapshot{
			snap(1, m{"a": 10}, nil), snap(2, m{"a": 12, "b": 11}, nil), snap(3, m{"a": 13, "b": 15}, nil)},
		want: map[string]string{"a": "[- 2 1]", "b": "[- - 4]"},
	}, {
		name: "only tags of the newest top get a line",
		recent: []snapshot.Snapshot{
			snap(1, m{"gone": 10}, nil), snap(2, m{"a": 12}, nil)},
		want: map[string]string{"a": "[- -]"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := series(tc.recent, 30)
			if len(got) != len(tc.want) {
				t.Fatalf("lines for %d tags, want %d: %v", len(got), len(tc.want), got)
			}
			for k, want := range tc.want {
				if s := show(got[k]); s != want {
					t.Errorf("%s: %s, want %s", k, s, want)
				}
			}
		})
	}
}

func TestHubKeepsTheLastWindowsAndStartsOverWhenBatchesDo(t *testing.T) {
	type m = map[string]int64
	h := NewHub(3)
	for b := int64(1); b <= 5; b++ {
		h.Publish(snap(b, m{"a": 10 * b}, nil))
	}
	v, _ := h.Latest()
	if s := show(v.Series["a"]); s != "[10 10 10]" {
		t.Fatalf("after 5 batches with 3 kept: %s, want [10 10 10]", s)
	}
	h.Publish(snap(1, m{"a": 3}, nil)) // a new run of the counter
	v, _ = h.Latest()
	if s := show(v.Series["a"]); s != "[-]" {
		t.Fatalf("after the batches started again: %s, want [-]", s)
	}
}

func TestStaleAfter(t *testing.T) {
	for _, tc := range []struct{ window, want time.Duration }{
		{2 * time.Second, 6 * time.Second},
		{500 * time.Millisecond, 5 * time.Second},
		{10 * time.Second, 30 * time.Second},
	} {
		if got := staleAfter(tc.window); got != tc.want {
			t.Errorf("staleAfter(%s) = %s, want %s", tc.window, got, tc.want)
		}
	}
}

func facetRecord(name string, batch int64, tags ...string) snapshot.Facet {
	f := snapshot.Facet{Facet: name, Batch: batch}
	for i, tag := range tags {
		f.Top = append(f.Top, snapshot.Count{Hashtag: tag, Count: int64(100 - i)})
	}
	return f
}

// woken tells whether page was signalled, and takes the signal.
func woken(page chan struct{}) bool {
	select {
	case <-page:
		return true
	default:
		return false
	}
}

func TestFacetListsWakeThePagesThatShowThemAndNewFacetsWakeAll(t *testing.T) {
	h := NewHub(3)
	h.Publish(snap(1, map[string]int64{"a": 1}, nil))
	all, ja, de := h.join("all"), h.join("lang:ja"), h.join("lang:de")
	names := func() string {
		v, _ := h.ViewOf("all")
		var out []string
		for _, n := range v.Facets {
			out = append(out, n.Name+"("+n.Network+","+n.Language+")")
		}
		return fmt.Sprint(out)
	}

	h.PublishFacet(facetRecord("lang:ja", 1, "雪"))
	if !woken(all) || !woken(ja) || !woken(de) {
		t.Fatal("a new facet did not wake every page (their pickers change)")
	}
	h.PublishFacet(facetRecord("source:bluesky/lang:ja", 1, "雪"))
	h.PublishFacet(facetRecord("source:bluesky", 1, "b"))
	h.PublishFacet(facetRecord("lang:de", 1, "Fußball"))
	for _, p := range []chan struct{}{all, ja, de} {
		woken(p)
	}
	if got, want := names(), "[source:bluesky(bluesky,) lang:de(,de) lang:ja(,ja) source:bluesky/lang:ja(bluesky,ja)]"; got != want {
		t.Fatalf("facets %s, want %s", got, want)
	}

	h.PublishFacet(facetRecord("lang:ja", 2, "雪", "桜"))
	if woken(all) || !woken(ja) || woken(de) {
		t.Fatal("new lists of lang:ja must wake its page only")
	}
	v, _ := h.ViewOf("lang:ja")
	if v.Facet == nil || v.Facet.Name != "lang:ja" || v.Facet.Lists == nil || v.Facet.Lists.Batch != 2 || len(v.Facet.Lists.Top) != 2 {
		t.Fatalf("lang:ja's view: %+v", v.Facet)
	}
	if v, _ := h.ViewOf("all"); v.Facet != nil {
		t.Fatalf("all's view carries a facet: %+v", v.Facet)
	}
	if v, _ := h.ViewOf("lang:fr"); v.Facet == nil || v.Facet.Name != "lang:fr" || v.Facet.Lists != nil {
		t.Fatalf("a facet without lists: %+v", v.Facet)
	}

	h.RemoveFacet("lang:ja")
	if !woken(all) || !woken(ja) || !woken(de) {
		t.Fatal("a facet gone did not wake every page")
	}
	if got, want := names(), "[source:bluesky(bluesky,) lang:de(,de) source:bluesky/lang:ja(bluesky,ja)]"; got != want {
		t.Fatalf("facets after lang:ja's tombstone %s, want %s", got, want)
	}
	if v, _ := h.ViewOf("lang:ja"); v.Facet == nil || v.Facet.Lists != nil {
		t.Fatalf("lang:ja's view after its tombstone: %+v", v.Facet)
	}
	h.RemoveFacet("lang:ja") // a tombstone of a facet the hub does not hold
	if woken(all) {
		t.Fatal("a tombstone that changes nothing woke the pages")
	}
	h.Publish(snap(2, map[string]int64{"a": 2}, nil))
	if !woken(all) || !woken(ja) || !woken(de) {
		t.Fatal("a snapshot did not wake every page")
	}
	if v, _ := h.ViewOf("all"); len(v.Facets) != 3 {
		t.Fatalf("the facets after a snapshot: %+v", v.Facets)
	}
}
