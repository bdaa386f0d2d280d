package rank

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
	"github.com/hashtrend/hashtrend/services/counter/internal/trend"
)

var facetTrendCfg = trend.Config{Bucket: time.Minute, Recent: 5 * time.Minute, Baseline: 10 * time.Minute, Min: 3}

// TestEachFacetTrendsOnItsOwnPosts feeds 40 minutes of deltas whose
// buckets are by cell (a steady crowd everywhere, one tag rising in
// Japanese on Bluesky only, one rising in German everywhere) and asks for
// every facet's lists with the languages of their own changing: each list
// must be that of a tracker fed with the facet's buckets alone from the
// start, lifecycle and reason included, the folded languages' buckets in
// `other`, whatever the fold was when they arrived; a language's rows
// say in which networks the tag started.
func TestEachFacetTrendsOnItsOwnPosts(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).UnixMilli()
	networks, langs := []string{"bluesky", "mastodon", "x"}, []string{"en", "ja", "de", "fr", "es"}
	var deltas []delta.Delta
	for m := range int64(40) {
		start := t0 + m*60_000
		type tagCell struct {
			tag  string
			cell string
		}
		buckets := map[tagCell]*delta.Bucket{}
		post := func(tag string, cell facet.Cell, author string) {
			k := tagCell{tag, cell.String()}
			b := buckets[k]
			if b == nil {
				b = &delta.Bucket{Start: start, Cell: k.cell}
				buckets[k] = b
			}
			b.N++
			b.Authors.AddString(author)
		}
		for i := range 60 {
			c := facet.Cell{Network: networks[r.IntN(3)], Language: langs[r.IntN(5)]}
			post(fmt.Sprintf("steady%d", i%6), c, fmt.Sprintf("a%d", r.IntN(400)))
		}
		if m >= 25 {
			for i := range 3 * (m - 24) {
				post("nihon", facet.Cell{Network: "bluesky", Language: "ja"}, fmt.Sprintf("j%d-%d", m, i))
				post("deutsch", facet.Cell{Network: networks[i%3], Language: "de"}, fmt.Sprintf("d%d-%d", m, i))
			}
		}
		d := delta.Delta{BucketMillis: 60_000, Watermarks: []delta.Watermark{{Partition: 0, At: start + 60_000}}}
		for _, k := range slices.SortedFunc(maps.Keys(buckets), func(a, b tagCell) int {
			if c := cmp.Compare(a.tag, b.tag); c != 0 {
				return c
			}
			return cmp.Compare(a.cell, b.cell)
		}) {
			b := buckets[k]
			if n := len(d.Counts); n == 0 || d.Counts[n-1].Key != k.tag {
				d.Counts = append(d.Counts, delta.Count{Key: k.tag})
			}
			c := &d.Counts[len(d.Counts)-1]
			c.N += b.N
			c.Buckets = append(c.Buckets, *b)
		}
		deltas = append(deltas, d)
	}

	ft := newFacetTrends(facetTrendCfg, 1, newLives(facetTrendCfg, trend.LifecycleConfig{}))
	seenNihon, seenStart := false, false
	for i, d := range deltas {
		ft.add(d)
		own := []string{"en", "ja"}
		if i%2 == 1 {
			own = []string{"de", "en", "es"}
		}
		got, at := ft.lists(own, 5)
		want := oracleLists(deltas[:i+1], own)
		if len(want) > 0 && at.IsZero() {
			t.Fatalf("minute %d: no watermark", i)
		}
		for name, l := range want {
			if !reflect.DeepEqual(got[name], l) {
				t.Fatalf("minute %d, own %v: %s trends %v, want %v", i, own, name, rowKeys(got[name]), rowKeys(l))
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				t.Fatalf("minute %d: %s trends %v, want nothing", i, name, rowKeys(got[name]))
			}
		}
		for _, tr := range got[facet.Name{Network: "bluesky", Language: "ja"}] {
			seenNihon = seenNihon || tr.Key == "nihon"
		}
		for _, tr := range got[facet.Name{Language: "ja"}] {
			if tr.Key != "nihon" {
				continue
			}
			if tr.Reason == nil || len(tr.Reason.Started) != 1 || tr.Reason.Started[0].Network != "bluesky" || !tr.Reason.Started[0].Since.Equal(*tr.Since) {
				t.Fatalf("minute %d: nihon in lang:ja since %v says it started %+v, want on bluesky alone, then", i, tr.Since, tr.Reason)
			}
			seenStart = true
		}
		for _, tr := range got[facet.Name{Language: "en"}] {
			if tr.Key == "nihon" {
				t.Fatalf("minute %d: nihon, posted in Japanese only, trends in lang:en", i)
			}
		}
	}
	if !seenNihon || !seenStart {
		t.Fatal("nihon never trended in source:bluesky/lang:ja and lang:ja: the test shows nothing")
	}
}

func rowKeys(rows []snapshot.Trend) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Key + ":" + r.Status
	}
	return out
}

// oracleLists is every facet's list after deltas, each from a tracker fed
// with the facet's buckets only, languages not in own folded into other:
// a lifecycle's rows, where each tag started first in a language among
// its networks' pairs, and in an `other` facet its scores' rows.
func oracleLists(deltas []delta.Delta, own []string) map[facet.Name][]snapshot.Trend {
	trackers := map[facet.Name]*trend.Tracker{}
	for _, d := range deltas {
		for _, c := range d.Counts {
			for _, b := range c.Buckets {
				cell, _ := facet.ParseCell(b.Cell)
				for _, n := range facet.Route(cell, func(l string) bool { return slices.Contains(own, l) }) {
					tr := trackers[n]
					if tr == nil {
						tr = trend.NewTracker(facetTrendCfg, 1)
						if n.Language != facet.Other {
							tr.Attach(trend.NewLifecycle(facetTrendCfg, trend.LifecycleConfig{}), trend.NewReasons(0))
						}
						trackers[n] = tr
					}
					authors := b.Authors
					tr.Add(c.Key, b.Start, b.N, &authors)
				}
			}
		}
		for _, w := range d.Watermarks {
			for _, tr := range trackers {
				tr.Advance(w.Partition, w.At)
			}
		}
	}
	out := map[facet.Name][]snapshot.Trend{}
	for n, tr := range trackers {
		var byNetwork map[string]*trend.Lifecycle
		if n.Network == "" && n.Language != facet.Other {
			byNetwork = map[string]*trend.Lifecycle{}
			for m, p := range trackers {
				if m.Network != "" && m.Language == n.Language {
					byNetwork[m.Network] = p.Lifecycle()
				}
			}
		}
		if l, _ := rows(tr, 5, byNetwork); len(l) > 0 {
			out[n] = l
		}
	}
	return out
}

// BenchmarkFacetTrendingMemory reports the live heap per tag-bucket of
// the trending view of 250,000 tags × 2 buckets (one author each, in one
// of 4 networks × 20 languages), without trending per facet (the global
// view only) and with it: the difference is what the facets' trackers
// cost.
func BenchmarkFacetTrendingMemory(b *testing.B) {
	const tags, buckets = 250_000, 2
	cfg := trend.Config{Bucket: time.Minute, Recent: 10 * time.Minute, Baseline: 6 * time.Hour, Min: 5}
	networks := []string{"bluesky", "mastodon", "x", "twitter"}
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).UnixMilli()
	var ds []delta.Delta
	for m := range int64(buckets) {
		d := delta.Delta{BucketMillis: 60_000, Watermarks: []delta.Watermark{{Partition: 0, At: t0 + (m+1)*60_000}}}
		for i := range tags {
			var bk delta.Bucket
			bk.Start, bk.N, bk.Cell = t0+m*60_000, 1, networks[i%4]+"/"+[]string{"en", "ja", "de", "pt", "es", "fr", "ko", "nl", "it", "tr", "ru", "pl", "sv", "fi", "th", "uk", "ar", "fa", "id", "zh"}[i%20]
			bk.Authors.AddString(fmt.Sprintf("a%d", i))
			d.Counts = append(d.Counts, delta.Count{Key: fmt.Sprintf("tag%07d", i), N: 1, Buckets: []delta.Bucket{bk}})
		}
		ds = append(ds, d)
	}
	for _, facets := range []bool{false, true} {
		b.Run(fmt.Sprintf("facets=%v", facets), func(b *testing.B) {
			var heap uint64
			for b.Loop() {
				before := liveHeap()
				v := view{tr: trend.NewTracker(cfg, 1)}
				if facets {
					v.facets = newFacetTrends(cfg, 1, nil)
				}
				for _, d := range ds {
					v.add(d)
				}
				heap = liveHeap() - before
				runtime.KeepAlive(v)
			}
			b.ReportMetric(float64(heap)/(tags*buckets), "heap-B/tag-bucket")
		})
	}
}
