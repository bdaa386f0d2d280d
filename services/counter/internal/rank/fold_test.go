package rank

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
	"github.com/hashtrend/hashtrend/services/counter/internal/trend"
)

var foldCfg = trend.Config{Bucket: time.Minute, Recent: 3 * time.Minute}

const minute = int64(60_000)

// langs is a delta of posts by language in the bucket starting at
// minute m, with partition watermarks after it.
func langs(m int64, posts map[string]int64, marks ...delta.Watermark) delta.Delta {
	return delta.Delta{BucketMillis: minute, Languages: []delta.Languages{{Start: m * minute, Posts: posts}}, Watermarks: marks}
}

func mark(p int32, m int64) delta.Watermark { return delta.Watermark{Partition: p, At: m * minute} }

func TestTheFoldKeepsTheBusiestLanguagesOfTheRecentWindow(t *testing.T) {
	f := newFold(foldCfg, 2, 2)
	f.add(langs(1, map[string]int64{"en": 5, "ja": 3, "de": 1}, mark(0, 2)))
	if own, at := f.own(); own != nil || !at.IsZero() {
		t.Fatalf("with one partition's watermark: %v at %v, want none", own, at)
	}
	f.add(langs(2, map[string]int64{"de": 9}, mark(1, 2)))
	// Closed: buckets before minute 2. de's posts of minute 2 do not count yet.
	if own, at := f.own(); !slices.Equal(own, []string{"en", "ja"}) || at != time.UnixMilli(2*minute).UTC() {
		t.Fatalf("at minute 2: %v at %v, want [en ja] at minute 2", own, at)
	}
	f.add(langs(3, map[string]int64{"ja": 4}, mark(0, 4), mark(1, 4)))
	if own, _ := f.own(); !slices.Equal(own, []string{"de", "ja"}) {
		t.Fatalf("at minute 4: %v, want [de ja] (de 10, ja 7, en 5)", own)
	}
	// A bucket that arrives closed is dropped: it cannot change the past.
	f.add(langs(1, map[string]int64{"en": 100}))
	if own, _ := f.own(); !slices.Equal(own, []string{"de", "ja"}) || f.dropped != 100 {
		t.Fatalf("after a closed bucket's posts: %v, dropped %d", own, f.dropped)
	}
	// Minute 1 leaves the recent window [4, 7) - 3 minutes.
	f.add(langs(5, map[string]int64{"und": 2}, mark(0, 6), mark(1, 6)))
	if own, _ := f.own(); !slices.Equal(own, []string{"ja", "und"}) {
		t.Fatalf("at minute 6: %v, want [ja und] (the window is minutes 3 to 5)", own)
	}
	// Another bucket length is left out.
	if f.add(delta.Delta{BucketMillis: 30_000, Languages: []delta.Languages{{Start: 7 * minute, Posts: map[string]int64{"fr": 50}}}}) {
		t.Fatal("a delta of another bucket length was added")
	}
}

// TestTheFoldDependsOnTheClosedBucketsOnly feeds the same posts by
// language and watermarks in two different cuts into deltas, as a replay
// at another speed would: at every watermark both choose alike.
func TestTheFoldDependsOnTheClosedBucketsOnly(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	type event struct {
		bucket int64
		lang   string
		mark   int64
	}
	var events []event
	for m := int64(0); m < 60; m++ {
		for range 20 {
			events = append(events, event{bucket: m, lang: []string{"en", "ja", "de", "es", "fr"}[r.IntN(5)] + string(rune('a'+r.IntN(3)))})
		}
		events = append(events, event{mark: m + 1})
	}
	run := func(cut int) map[time.Time][]string {
		f := newFold(foldCfg, 3, 1)
		seen := map[time.Time][]string{}
		var d delta.Delta
		flush := func() {
			f.add(d)
			if own, at := f.own(); !at.IsZero() {
				seen[at] = own
			}
			d = delta.Delta{BucketMillis: minute}
		}
		d.BucketMillis = minute
		for i, e := range events {
			if e.mark > 0 {
				d.Watermarks = []delta.Watermark{mark(0, e.mark)}
			} else {
				if len(d.Languages) == 0 || d.Languages[len(d.Languages)-1].Start != e.bucket*minute {
					d.Languages = append(d.Languages, delta.Languages{Start: e.bucket * minute, Posts: map[string]int64{}})
				}
				d.Languages[len(d.Languages)-1].Posts[e.lang]++
			}
			if i%cut == cut-1 {
				flush()
			}
		}
		flush()
		return seen
	}
	a, b := run(7), run(53)
	for at, own := range a {
		if other, ok := b[at]; ok && !slices.Equal(own, other) {
			t.Fatalf("at %v: %v in one cut, %v in the other", at, own, other)
		}
	}
	if len(a) < 10 || len(b) < 10 {
		t.Fatalf("only %d and %d watermarks compared", len(a), len(b))
	}
}
