package synthetic_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/synthetic"
)

// The counter's trending definition at its defaults (docs/counter.md,
// services/counter/internal/trend): distinct authors of a tag in the last
// 10 minutes of post time, against their mean per 10 minutes over the 6
// hours before, in 1-minute buckets; a score only from 5 authors, and a
// list only from a score of 25.
const (
	bucket   = time.Minute
	recent   = 10 * time.Minute
	baseline = 6 * time.Hour
	minAuth  = 5
	minScore = 25
)

// authors is, computed from the posts alone, the distinct authors of some
// keys per facet ("all", "source:<network>", "lang:<language>") and bucket.
type authors struct {
	start time.Time // the first bucket
	cells map[string]map[string]map[time.Time]map[string]bool
	memo  map[window]int // the counts of windows one recent window long
}

type window struct {
	key, facet string
	from       time.Time
}

func facetsOf(p post.Post) []string {
	return []string{"all", "source:" + p.Source, "lang:" + p.Lang}
}

func countAuthors(posts []post.Post, keys map[string]bool) *authors {
	a := &authors{start: posts[0].CreatedAt.Truncate(bucket), cells: map[string]map[string]map[time.Time]map[string]bool{}, memo: map[window]int{}}
	for _, p := range posts {
		b := p.CreatedAt.Truncate(bucket)
		for _, tg := range hashtag.Of(p) {
			if !keys[tg.Key] {
				continue
			}
			for _, f := range facetsOf(p) {
				if a.cells[tg.Key] == nil {
					a.cells[tg.Key] = map[string]map[time.Time]map[string]bool{}
				}
				if a.cells[tg.Key][f] == nil {
					a.cells[tg.Key][f] = map[time.Time]map[string]bool{}
				}
				if a.cells[tg.Key][f][b] == nil {
					a.cells[tg.Key][f][b] = map[string]bool{}
				}
				a.cells[tg.Key][f][b][p.Author] = true
			}
		}
	}
	return a
}

// in is the distinct authors of key in facet over [from, from+recent).
func (a *authors) in(key, facet string, from time.Time) int {
	w := window{key, facet, from}
	if n, ok := a.memo[w]; ok {
		return n
	}
	seen := map[string]bool{}
	for b := from; b.Before(from.Add(recent)); b = b.Add(bucket) {
		for au := range a.cells[key][facet][b] {
			seen[au] = true
		}
	}
	a.memo[w] = len(seen)
	return len(seen)
}

// score is the trending score of key in facet with the buckets before e
// closed: observed in the recent window against the mean of the baseline
// windows the stream has.
func (a *authors) score(key, facet string, e time.Time) (float64, int, float64) {
	observed := a.in(key, facet, e.Add(-recent))
	sum, n := 0, 0
	for end := e.Add(-recent); !end.Add(-recent).Before(a.start) && e.Sub(end) < recent+baseline; end = end.Add(-recent) {
		sum += a.in(key, facet, end.Add(-recent))
		n++
	}
	expected := 1.0
	if n > 0 {
		expected = max(1, float64(sum)/float64(n))
	}
	if observed < minAuth || float64(observed) <= expected {
		return 0, observed, expected
	}
	d := float64(observed) - expected
	return d * d / expected, observed, expected
}

// riseFacet is the facet a rise happens in.
func riseFacet(r synthetic.Rise) string {
	switch {
	case r.Network != "":
		return "source:" + r.Network
	case r.Lang != "":
		return "lang:" + r.Lang
	}
	return "all"
}

func inScope(r synthetic.Rise, p post.Post) bool {
	return (r.Network == "" || p.Source == r.Network) && (r.Lang == "" || p.Lang == r.Lang)
}

// stream is a demo stream with its ground truth and what the tests
// compute from its posts alone.
type stream struct {
	cfg    synthetic.Config
	posts  []post.Post
	rises  []synthetic.Rise
	floods []synthetic.Flood
	head   []string          // the ten keys with most mentions no event uses
	langOf map[string]string // a head key's main language
	a      *authors
	last   time.Time // the last bucket
}

func newStream(cfg synthetic.Config, n int) *stream {
	g := synthetic.New(cfg)
	s := &stream{cfg: g.Config(), posts: g.Take(n), rises: g.Rises(), floods: g.Floods(), langOf: map[string]string{}}
	events := map[string]bool{}
	for _, r := range s.rises {
		events[hashtag.Key(r.Tag)] = true
	}
	for _, f := range s.floods {
		events[hashtag.Key(f.Tag)] = true
	}
	mentions, langs := map[string]int{}, map[string]map[string]int{}
	for _, p := range s.posts {
		for _, tg := range hashtag.Of(p) {
			if !events[tg.Key] {
				mentions[tg.Key]++
				if langs[tg.Key] == nil {
					langs[tg.Key] = map[string]int{}
				}
				langs[tg.Key][p.Lang]++
			}
		}
	}
	for k := range mentions {
		s.head = append(s.head, k)
	}
	slices.SortFunc(s.head, func(a, b string) int { return mentions[b] - mentions[a] })
	s.head = s.head[:10]
	keys := maps.Clone(events)
	for _, k := range s.head {
		keys[k] = true
		s.langOf[k] = top(langs[k])
	}
	s.a = countAuthors(s.posts, keys)
	s.last = s.posts[len(s.posts)-1].CreatedAt.Truncate(bucket)
	return s
}

// peaked are the rises whose peak is in the stream, with a bucket to spare.
func (s *stream) peaked() []synthetic.Rise {
	var out []synthetic.Rise
	for _, r := range s.rises {
		if !r.PeakAt.IsZero() && r.PeakAt.Add(2*bucket).Before(s.last) {
			out = append(out, r)
		}
	}
	return out
}

func has(p post.Post, key string) bool {
	return slices.ContainsFunc(hashtag.Of(p), func(tg hashtag.Tag) bool { return tg.Key == key })
}

// The demo stream at 20 posts/s for 3 hours and at 200 posts/s for one
// (the demo's rate) against its ground truth: the rises and floods the
// generator reports, checked with what the posts say and with the
// counter's trending score computed from them.
func TestTheGroundTruthIsWhatTheStreamHolds(t *testing.T) {
	for _, tc := range []struct {
		rate  int
		hours float64
	}{{20, 3}, {200, 1}} {
		t.Run(fmt.Sprintf("%d posts per second", tc.rate), func(t *testing.T) {
			if testing.Short() && tc.rate > 20 {
				t.Skip("a million posts")
			}
			interval := time.Second / time.Duration(tc.rate)
			s := newStream(demo(11, interval), int(tc.hours*float64(time.Hour/interval)))
			kinds := map[string]int{}
			for _, r := range s.peaked() {
				kinds[riseFacet(r)[:3]]++
			}
			if kinds["all"] == 0 || kinds["lan"] == 0 || kinds["sou"] == 0 {
				t.Fatalf("the rises that peaked are not of every kind (all, lang, source): %v", kinds)
			}
			t.Run("each rise is carried by many authors where and when the generator says", s.risesAreInTheStream)
			t.Run("each rise trends in its facet soon after it starts and at its peak", s.risesTrend)
			t.Run("a rise on one network is on that network alone", s.networkRisesStayOnTheirNetwork)
			t.Run("the ten busiest steady tags never trend", s.headNeverTrends)
			t.Run("a flood is one author's, never retweeted, and never trends", s.floodsHaveOneAuthor)
			t.Logf("%d posts; %d rises, %v at their peak; %d flood waves; head %v", len(s.posts), len(s.rises), kinds, len(s.floods), s.head)
		})
	}
}

func (s *stream) risesAreInTheStream(t *testing.T) {
	for _, r := range s.rises {
		if !r.From.Equal(s.posts[r.First].CreatedAt) {
			t.Errorf("#%s: From %s, but post %d is created at %s", r.Tag, r.From, r.First, s.posts[r.First].CreatedAt)
		}
	}
	for _, r := range s.peaked() {
		key := hashtag.Key(r.Tag)
		if !r.PeakAt.Equal(s.posts[r.Peak].CreatedAt) {
			t.Errorf("#%s: PeakAt %s, but post %d is created at %s", r.Tag, r.PeakAt, r.Peak, s.posts[r.Peak].CreatedAt)
		}
		// Posts with its key up to the peak, in its scope and out of it,
		// and in as many posts before its start.
		in, out, before := 0, 0, 0
		by := map[string]bool{}
		length := r.Peak - r.First + 1
		for i := r.First - min(r.First, length); i <= r.Peak; i++ {
			switch {
			case !has(s.posts[i], key):
			case i < r.First:
				before++
			case inScope(r, s.posts[i]):
				in++
				by[s.posts[i].Author] = true
			default:
				out++
			}
		}
		// Up to its peak a rise's share grows linearly to RisePeak.
		want := s.cfg.RisePeak * float64(length) / 2
		if float64(in) < 0.7*want || len(by) < in*4/5 || out > in/10 || before > in/10 {
			t.Errorf("#%s (%s) from %s to its peak: %d posts by %d authors in its scope (want about %.0f, nearly one each), %d out of it, %d in as long before",
				r.Tag, riseFacet(r), r.From.Format(time.TimeOnly), in, len(by), want, out, before)
		}
	}
}

func (s *stream) risesTrend(t *testing.T) {
	for _, r := range s.peaked() {
		key, facet := hashtag.Key(r.Tag), riseFacet(r)
		for _, e := range []time.Time{r.From.Truncate(bucket).Add(8 * bucket), r.PeakAt.Truncate(bucket).Add(bucket)} {
			if sc, o, x := s.a.score(key, facet, e); sc < minScore {
				t.Errorf("#%s (%s, from %s) at %s: score %.1f (%d authors, %.1f expected), below the list's %d",
					r.Tag, facet, r.From.Format(time.TimeOnly), e.Format(time.TimeOnly), sc, o, x, minScore)
			}
			if r.Lang == "" {
				continue
			}
			// A rise in one language does not trend in another.
			for f := range s.a.cells[key] {
				if f != facet && strings.HasPrefix(f, "lang:") {
					if sc, o, x := s.a.score(key, f, e); sc >= minScore {
						t.Errorf("#%s rises in %s, and at %s trends in %s too: %d authors, %.1f expected", r.Tag, facet, e.Format(time.TimeOnly), f, o, x)
					}
				}
			}
		}
	}
}

func (s *stream) networkRisesStayOnTheirNetwork(t *testing.T) {
	checked := 0
	for _, r := range s.peaked() {
		if r.Network == "" {
			continue
		}
		checked++
		key := hashtag.Key(r.Tag)
		on := map[string]int{}
		last := min(r.Last, uint64(len(s.posts)-1))
		for i := r.First; i <= last; i++ {
			if has(s.posts[i], key) {
				on[s.posts[i].Source]++
			}
		}
		for _, n := range s.cfg.Networks {
			if n != r.Network && on[n]*20 > on[r.Network] {
				t.Errorf("#%s rises on %s: %v posts per network in its window", r.Tag, r.Network, on)
			}
		}
		// Elsewhere it never has the authors to trend.
		for e := r.From.Truncate(bucket).Add(bucket); !e.After(s.last) && !e.After(r.To.Add(recent)); e = e.Add(bucket) {
			for _, n := range s.cfg.Networks {
				if sc, o, x := s.a.score(key, "source:"+n, e); n != r.Network && sc >= minScore {
					t.Errorf("#%s rises on %s, and at %s trends on %s: %d authors, %.1f expected", r.Tag, r.Network, e.Format(time.TimeOnly), n, o, x)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no rise on one network reached its peak")
	}
}

func (s *stream) headNeverTrends(t *testing.T) {
	for e := s.a.start.Add(2 * recent); !e.After(s.last); e = e.Add(bucket) {
		for _, k := range s.head {
			for _, f := range []string{"all", "lang:" + s.langOf[k]} {
				if sc, o, x := s.a.score(k, f, e); sc >= minScore {
					t.Errorf("steady #%s in %s at %s: score %.1f, %d authors against %.1f expected", k, f, e.Format(time.TimeOnly), sc, o, x)
				}
			}
		}
	}
}

func (s *stream) floodsHaveOneAuthor(t *testing.T) {
	if len(s.floods) < 3 {
		t.Fatalf("%d flood waves", len(s.floods))
	}
	ids := map[string]string{} // flood post id → tag
	for _, f := range s.floods {
		key, n := hashtag.Key(f.Tag), 0
		for i := f.First; i <= min(f.Last, uint64(len(s.posts)-1)); i++ {
			if has(s.posts[i], key) {
				n++
				ids[s.posts[i].ID] = f.Tag
			}
		}
		if f.Last < uint64(len(s.posts)) && float64(n) < 0.7*s.cfg.FloodShare*float64(f.Last-f.First+1) {
			t.Errorf("flood of #%s by %s: %d posts in %d", f.Tag, f.Author, n, f.Last-f.First+1)
		}
	}
	byKey := map[string]synthetic.Flood{}
	for _, f := range s.floods {
		byKey[hashtag.Key(f.Tag)] = f
	}
	for _, p := range s.posts {
		if tag, ok := ids[p.RetweetOf]; ok {
			t.Fatalf("post %s retweets %s, a flood post of #%s", p.ID, p.RetweetOf, tag)
		}
		for _, tg := range hashtag.Of(p) {
			f, ok := byKey[tg.Key]
			if ok && (p.Author != f.Author || p.Source != f.Network || p.Lang != f.Lang || ids[p.ID] == "") {
				t.Fatalf("post %s (%s, %s, by %s) carries #%s of the flooder %s (%s, %s) outside its waves", p.ID, p.Source, p.Lang, p.Author, tg.Spelling, f.Author, f.Network, f.Lang)
			}
		}
	}
	for key, f := range byKey {
		for e := s.a.start.Add(2 * recent); !e.After(s.last); e = e.Add(bucket) {
			if sc, o, _ := s.a.score(key, "all", e); sc > 0 || o > 1 {
				t.Fatalf("the flood of #%s by %s at %s: score %.1f with %d authors", f.Tag, f.Author, e.Format(time.TimeOnly), sc, o)
			}
		}
	}
}

// top is the key of m with the largest value.
func top(m map[string]int) string {
	best := ""
	for k, v := range m {
		if best == "" || v > m[best] || v == m[best] && k < best {
			best = k
		}
	}
	return best
}
