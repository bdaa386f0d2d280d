package tally

import (
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/services/counter/internal/kafkaio"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/services/counter/internal/cells"
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
	"github.com/hashtrend/hashtrend/services/counter/internal/hll"
	"github.com/hashtrend/hashtrend/services/counter/internal/trend"
)

var trendCfg = trend.Config{Bucket: time.Minute, Lateness: time.Minute, Recent: 10 * time.Minute, Baseline: time.Hour, Min: 5}

func TestBucketsCountByPostTimeBehindEachPartitionsWatermark(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	b := newBuckets(trendCfg, true, false)
	add := func(part int32, at time.Duration, author string, tags ...string) {
		p := post.Post{ID: author + at.String(), Source: "x", CreatedAt: t0.Add(at), Author: author}
		var ts []hashtag.Tag
		for _, tg := range tags {
			ts = append(ts, hashtag.Tag{Key: hashtag.Key(tg), Spelling: tg})
		}
		b.add(part, &p, ts, facet.Cell{})
	}
	add(0, 10*time.Second, "ann", "Go", "Kafka")
	add(0, 20*time.Second, "ann", "go") // the same author again
	add(0, 70*time.Second, "bob", "go") // the next bucket
	add(0, 5*time.Minute, "cy")         // no tags: moves the clock only
	add(0, 2*time.Minute, "dee", "go")  // its bucket ended before 5m - 1m: late
	add(1, 30*time.Second, "eve", "go") // partition 1 has its own clock
	add(1, 40*time.Second, "", "go")    // no author: the post is its own
	if b.late != 1 {
		t.Fatalf("late %d, want 1", b.late)
	}
	d := delta.Delta{Counts: []delta.Count{{Key: "go", N: 6}, {Key: "kafka", N: 1}}}
	b.fill(&d, map[int32]int64{0: 10, 1: 3})
	goB := d.Counts[0].Buckets
	if len(goB) != 2 || goB[0].Start != t0.UnixMilli() || goB[0].N != 4 || goB[1].N != 1 {
		t.Fatalf("go's buckets %+v", goB)
	}
	// ann twice, eve, and the authorless post: three authors in the first minute.
	if got := math.Round(goB[0].Authors.Estimate()); got != 3 {
		t.Errorf("go's first bucket has %v authors, want 3", got)
	}
	if len(d.Counts[1].Buckets) != 1 || d.Late != 1 || d.BucketMillis != 60_000 {
		t.Errorf("delta %+v", d)
	}
	want := []delta.Watermark{{Partition: 0, At: t0.Add(4 * time.Minute).UnixMilli()}, {Partition: 1, At: t0.Add(-20 * time.Second).UnixMilli()}}
	if len(d.Watermarks) != 2 || d.Watermarks[0] != want[0] || d.Watermarks[1] != want[1] {
		t.Errorf("watermarks %+v, want %+v", d.Watermarks, want)
	}
	if d.Languages != nil {
		t.Errorf("posts by language with facets off: %+v", d.Languages)
	}

	// The clock survives a commit and a new owner as offset metadata.
	md := b.metadata(0)
	if md == "" {
		t.Fatal("no metadata for partition 0")
	}
	other := newBuckets(trendCfg, true, false)
	other.load([]kafkaio.Offset{{Partition: 0, Offset: 10, Metadata: md}, {Partition: 2, Offset: 0}})
	if other.clocks[0].Newest != b.clocks[0].Newest || other.clocks[2].Newest != 0 {
		t.Fatalf("loaded clocks %+v and %+v from %q", other.clocks[0], other.clocks[2], md)
	}
	b.reset()
	if len(b.cells) != 0 || b.late != 0 || b.clocks[0] == nil {
		t.Fatalf("reset keeps cells %d, late %d, or loses the clock", len(b.cells), b.late)
	}
}

// TestWithFacetsBucketsAreByCellAndPostsByLanguage: with trending per
// facet, a tag's buckets are its posts in each cell, and with facets on
// every post that is not late is counted in its language's bucket, with
// tags or without.
func TestWithFacetsBucketsAreByCellAndPostsByLanguage(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	b := newBuckets(trendCfg, true, true)
	b.byCell = true
	add := func(at time.Duration, author string, cell facet.Cell, tags ...string) {
		p := post.Post{ID: author + at.String(), Source: cell.Network, CreatedAt: t0.Add(at), Author: author}
		var ts []hashtag.Tag
		for _, tg := range tags {
			ts = append(ts, hashtag.Tag{Key: hashtag.Key(tg), Spelling: tg})
		}
		b.add(0, &p, ts, cell)
	}
	ja, en, xEn := facet.Cell{Network: "bluesky", Language: "ja"}, facet.Cell{Network: "bluesky", Language: "en"}, facet.Cell{Network: "x", Language: "en"}
	add(10*time.Second, "ann", ja, "Go")
	add(20*time.Second, "bob", ja, "go")
	add(30*time.Second, "cy", en, "go")
	add(40*time.Second, "dee", xEn, "go", "Kafka")
	add(50*time.Second, "eve", en) // no tags: a post of its language all the same
	add(70*time.Second, "fay", ja, "go")
	add(5*time.Minute, "gus", en)       // moves the clock
	add(2*time.Minute, "hal", ja, "go") // late: in no bucket, no language
	d := delta.Delta{Counts: []delta.Count{{Key: "go", N: 6}, {Key: "kafka", N: 1}}}
	b.fill(&d, map[int32]int64{0: 8})
	type row struct {
		start int64
		cell  string
		n     int64
	}
	var got []row
	for _, bk := range d.Counts[0].Buckets {
		got = append(got, row{bk.Start, bk.Cell, bk.N})
	}
	m0, m1 := t0.UnixMilli(), t0.Add(time.Minute).UnixMilli()
	want := []row{{m0, "bluesky/en", 1}, {m0, "bluesky/ja", 2}, {m0, "x/en", 1}, {m1, "bluesky/ja", 1}}
	if !slices.Equal(got, want) {
		t.Fatalf("go's buckets %v, want %v", got, want)
	}
	if k := d.Counts[1].Buckets; len(k) != 1 || k[0].Cell != "x/en" {
		t.Fatalf("kafka's buckets %+v", k)
	}
	wantLangs := []delta.Languages{
		{Start: m0, Posts: map[string]int64{"ja": 2, "en": 3}},
		{Start: m1, Posts: map[string]int64{"ja": 1}},
		{Start: t0.Add(5 * time.Minute).UnixMilli(), Posts: map[string]int64{"en": 1}},
	}
	if !slices.EqualFunc(d.Languages, wantLangs, func(a, b delta.Languages) bool { return a.Start == b.Start && maps.Equal(a.Posts, b.Posts) }) {
		t.Errorf("languages %+v, want %+v", d.Languages, wantLangs)
	}
	b.reset()
	if len(b.cells) != 0 || len(b.langs) != 0 {
		t.Fatalf("reset keeps %d cells, %d languages", len(b.cells), len(b.langs))
	}
}

// TestWithoutTrendingPerFacetBucketsAreNotByCell: facets on, trending per
// facet off: one bucket per tag and start, as before facets.
func TestWithoutTrendingPerFacetBucketsAreNotByCell(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	b := newBuckets(trendCfg, true, true)
	for i, cell := range []facet.Cell{{Network: "x", Language: "en"}, {Network: "bluesky", Language: "ja"}} {
		p := post.Post{ID: strconv.Itoa(i), Source: cell.Network, CreatedAt: t0.Add(time.Duration(i) * time.Second), Author: strconv.Itoa(i)}
		b.add(0, &p, []hashtag.Tag{{Key: "go", Spelling: "go"}}, cell)
	}
	d := delta.Delta{Counts: []delta.Count{{Key: "go", N: 2}}}
	b.fill(&d, map[int32]int64{0: 2})
	if bs := d.Counts[0].Buckets; len(bs) != 1 || bs[0].N != 2 || bs[0].Cell != "" || len(d.Languages) != 1 {
		t.Fatalf("buckets %+v, languages %+v", bs, d.Languages)
	}
}

// TestWithReasonsEachBucketSummarisesItsAuthors: with the reasons on, each
// bucket carries a summary of its authors of the bucket's weight, whose
// counts are the posts each author made, counted here from the input; by
// cell with trending per facet, else one bucket with its posts by cell.
func TestWithReasonsEachBucketSummarisesItsAuthors(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	type at struct {
		cell   facet.Cell
		author string
	}
	posts := map[at]int64{}
	byCell := map[string]int64{}
	fill := func(b *buckets) []delta.Bucket {
		clear(posts)
		clear(byCell)
		for i := range 40 {
			cell := facet.Cell{Network: "mastodon", Language: "de"}
			if i%4 == 0 {
				cell = facet.Cell{Network: "bluesky", Language: "en"}
			}
			author := "a" + strconv.Itoa(i%7)
			if i%3 == 0 {
				author = "flooder"
			}
			p := post.Post{ID: strconv.Itoa(i), Source: cell.Network, CreatedAt: t0.Add(time.Duration(i) * time.Second), Author: author}
			b.add(0, &p, []hashtag.Tag{{Key: "go", Spelling: "Go"}}, cell)
			posts[at{cell, author}]++
			byCell[cell.String()]++
		}
		d := delta.Delta{WindowStart: t0, WindowEnd: t0.Add(2 * time.Second), Counts: []delta.Count{{Key: "go", N: 40, Spelling: "Go", Cells: cells.Of(byCell)}}}
		b.fill(&d, map[int32]int64{0: 40})
		enc, err := delta.Encode(d)
		if err != nil {
			t.Fatal(err)
		}
		back, err := delta.Decode(enc)
		if err != nil {
			t.Fatalf("the delta does not decode: %v", err)
		}
		return back.Counts[0].Buckets
	}
	// check says whether h counts each author of the posts in holds
	// exactly (at most 8 authors: the summary has room for all).
	check := func(what string, h *trend.Heavy, in func(facet.Cell) bool) {
		t.Helper()
		mine := map[string]int64{}
		for k, n := range posts {
			if in(k.cell) {
				mine[k.cell.Network+"\x00"+k.author] += n
			}
		}
		for k, n := range mine {
			src, author, _ := strings.Cut(k, "\x00")
			lo, hi := h.Count(hllHash(&post.Post{Source: src, Author: author}))
			if lo != n || hi != n {
				t.Errorf("%s: author %s of %s counted %d..%d, posted %d", what, author, src, lo, hi, n)
			}
		}
	}

	b := newBuckets(trendCfg, true, true)
	b.byCell, b.heavy = true, true
	bs := fill(b)
	if len(bs) != 2 {
		t.Fatalf("buckets %+v, want one per cell", bs)
	}
	for _, db := range bs {
		cell, err := facet.ParseCell(db.Cell)
		if err != nil || db.Heavy == nil || db.Heavy.N() != db.N || db.Cells != nil {
			t.Fatalf("bucket %+v: cell error %v", db, err)
		}
		check(db.Cell, db.Heavy, func(c facet.Cell) bool { return c == cell })
	}

	b = newBuckets(trendCfg, true, true)
	b.heavy, b.origins = true, true
	bs = fill(b)
	if len(bs) != 1 || bs[0].Cell != "" || bs[0].Heavy == nil || !maps.Equal(bs[0].Cells.Map(), byCell) {
		t.Fatalf("buckets %+v, want one with its posts by cell %v", bs, byCell)
	}
	check("the bucket", bs[0].Heavy, func(facet.Cell) bool { return true })
}

// hllHash is the author hash the buckets give p.
func hllHash(p *post.Post) uint64 { return hll.HashBytes(appendAuthor(nil, p)) }
