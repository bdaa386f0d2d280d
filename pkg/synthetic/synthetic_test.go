package synthetic_test

import (
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/synthetic"
)

func TestTheSameSeedGivesTheSameStreamAndAnotherSeedAnotherOne(t *testing.T) {
	a := synthetic.New(synthetic.Config{Seed: 7}).Take(3000)
	b := synthetic.New(synthetic.Config{Seed: 7}).Take(3000)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two generators with seed 7 gave different streams")
	}
	c := synthetic.New(synthetic.Config{Seed: 8}).Take(3000)
	same := 0
	for i := range a {
		if a[i].Text == c[i].Text {
			same++
		}
	}
	if same > 30 {
		t.Fatalf("seeds 7 and 8 share %d of 3000 texts", same)
	}
	if a[0].ID == c[0].ID {
		t.Fatalf("seeds 7 and 8 both start with id %s", a[0].ID)
	}
}

func TestPostsAreValidUniqueAndTimestampedFromStartByInterval(t *testing.T) {
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	g := synthetic.New(synthetic.Config{Seed: 1, Start: start, Interval: time.Second})
	ids := map[string]bool{}
	for i := range 5000 {
		p := g.Next()
		if ids[p.ID] {
			t.Fatalf("post %d repeats id %s", i, p.ID)
		}
		ids[p.ID] = true
		if want := start.Add(time.Duration(i) * time.Second); !p.CreatedAt.Equal(want) {
			t.Fatalf("post %d created at %s, want %s", i, p.CreatedAt, want)
		}
		b, err := post.Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		back, err := post.Decode(b)
		if err != nil {
			t.Fatalf("post %d does not round-trip: %v\n%s", i, err, b)
		}
		if back.ID != p.ID || back.Text != p.Text {
			t.Fatalf("post %d changed in a round trip", i)
		}
	}
	if g.Count() != 5000 {
		t.Fatalf("Count = %d, want 5000", g.Count())
	}
}

func TestEntitiesAgreeWithTheTextAndBothKindsOccur(t *testing.T) {
	g := synthetic.New(synthetic.Config{Seed: 3})
	withEntities, withoutEntities, retweets := 0, 0, 0
	originals := map[string]post.Post{}
	for range 5000 {
		p := g.Next()
		originals[p.ID] = p
		if p.RetweetOf != "" {
			retweets++
			o, ok := originals[p.RetweetOf]
			if !ok {
				t.Fatalf("retweet %s of unknown post %s", p.ID, p.RetweetOf)
			}
			if o.Text != p.Text || !reflect.DeepEqual(o.Hashtags, p.Hashtags) {
				t.Fatalf("retweet %s does not carry its original's text and hashtags", p.ID)
			}
		}
		if p.Hashtags == nil {
			withoutEntities++
			continue
		}
		withEntities++
		fromEntities := hashtag.Of(p)
		q := p
		q.Hashtags = nil
		fromText := hashtag.Of(q)
		if !reflect.DeepEqual(fromEntities, fromText) {
			t.Fatalf("post %s: entities give %v, the text %v\n%s", p.ID, fromEntities, fromText, p.Text)
		}
	}
	for name, n := range map[string]int{"with entities": withEntities, "without": withoutEntities, "retweets": retweets} {
		if n < 300 {
			t.Errorf("only %d of 5000 posts %s", n, name)
		}
	}
}

func TestTagPopularityIsSkewedAndSpellingsVary(t *testing.T) {
	g := synthetic.New(synthetic.Config{Seed: 11, Rising: -1})
	counts := map[string]int{}
	spellings := map[string]map[string]bool{}
	tagged := 0
	const n = 20000
	for range n {
		tags := hashtag.Of(g.Next())
		if len(tags) > 0 {
			tagged++
		}
		for _, tg := range tags {
			counts[tg.Key]++
			if spellings[tg.Key] == nil {
				spellings[tg.Key] = map[string]bool{}
			}
			spellings[tg.Key][tg.Spelling] = true
		}
	}
	if share := float64(tagged) / n; share < 0.3 || share > 0.6 {
		t.Errorf("%.2f of posts have hashtags, want about 0.4 (retweets repeat tagged posts)", share)
	}
	var freq []int
	for _, c := range counts {
		freq = append(freq, c)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(freq)))
	if len(freq) < 200 {
		t.Fatalf("only %d distinct tags in %d posts", len(freq), n)
	}
	if freq[0] < 10*freq[99] {
		t.Errorf("top tag %d mentions, 100th %d: not Zipf-like", freq[0], freq[99])
	}
	for _, key := range []string{"kafkasummit", "strasse", "東京", "москва"} {
		if counts[key] == 0 {
			t.Errorf("tricky tag %q never drawn", key)
		}
	}
	if len(spellings["kafkasummit"]) < 2 {
		t.Errorf("kafkasummit seen only as %v, want several spellings", spellings["kafkasummit"])
	}
}

func TestRisingTagsDriftSoTheLeadersChange(t *testing.T) {
	g := synthetic.New(synthetic.Config{Seed: 5, RisingShare: 0.5, DriftEvery: 200})
	top := func() map[string]bool {
		counts := map[string]int{}
		for range 1000 {
			for _, tg := range hashtag.Of(g.Next()) {
				counts[tg.Key]++
			}
		}
		keys := make([]string, 0, len(counts))
		for k := range counts {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			return counts[keys[i]] > counts[keys[j]] || counts[keys[i]] == counts[keys[j]] && keys[i] < keys[j]
		})
		out := map[string]bool{}
		for _, k := range keys[:10] {
			out[k] = true
		}
		return out
	}
	first := top()
	for range 5 {
		top()
	}
	last := top()
	kept := 0
	for k := range last {
		if first[k] {
			kept++
		}
	}
	if kept == 10 {
		t.Fatalf("the top 10 did not change over 6000 posts: %v", last)
	}
}

func TestWallClockStampsPostsWithTheCurrentTime(t *testing.T) {
	before := time.Now().Add(-time.Millisecond)
	p := synthetic.New(synthetic.Config{Seed: 1, WallClock: true}).Next()
	if p.CreatedAt.Before(before) || p.CreatedAt.After(time.Now().Add(time.Millisecond)) {
		t.Fatalf("created_at %s is not now", p.CreatedAt)
	}
}

func BenchmarkNext(b *testing.B) {
	g := synthetic.New(synthetic.Config{Seed: 1})
	b.ReportAllocs()
	for b.Loop() {
		g.Next()
	}
}

func TestRisingNamesTheTagsBeingDrawnAndMovesWithTheDrift(t *testing.T) {
	g := synthetic.New(synthetic.Config{Seed: 6, Rising: 3, RisingShare: 0.9, DriftEvery: 100})
	before := g.Rising()
	if len(before) != 3 {
		t.Fatalf("Rising = %v, want 3 tags", before)
	}
	rising := map[string]bool{}
	for _, r := range before {
		rising[hashtag.Key(r)] = true
	}
	in, all := 0, 0
	for range 100 {
		for _, tg := range hashtag.Of(g.Next()) {
			all++
			if rising[tg.Key] {
				in++
			}
		}
	}
	if all == 0 || float64(in)/float64(all) < 0.7 {
		t.Fatalf("%d of %d tags drawn are the rising %v", in, all, before)
	}
	g.Next() // post 100: the oldest is replaced
	after := g.Rising()
	if after[0] != before[1] || after[1] != before[2] || after[2] == before[2] {
		t.Fatalf("after one drift Rising = %v, was %v", after, before)
	}
}
