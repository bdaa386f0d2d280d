package synthetic_test

import (
	"fmt"
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
}

func facetsOf(p post.Post) []string {
	return []string{"all", "source:" + p.Source, "lang:" + p.Lang}
}

func countAuthors(posts []post.Post, keys map[string]bool) *authors {
	a := &authors{start: posts[0].CreatedAt.Truncate(bucket), cells: map[string]map[string]map[time.Time]map[string]bool{}}
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

// in is the distinct authors of key in facet over [from, to).
func (a *authors) in(key, facet string, from, to time.Time) int {
	seen := map[string]bool{}
	for b := from; b.Before(to); b = b.Add(bucket) {
		for au := range a.cells[key][facet][b] {
			seen[au] = true
		}
	}
	return len(seen)
}

// score is the trending score of key in facet with the buckets before e
// closed: observed in the recent window against the mean of the baseline
// windows the stream has.
func (a *authors) score(key, facet string, e time.Time) (float64, int, float64) {
	observed := a.in(key, facet, e.Add(-recent), e)
	sum, n := 0, 0
	for end := e.Add(-recent); !end.Add(-recent).Before(a.start) && e.Sub(end) < recent+baseline; end = end.Add(-recent) {
		sum += a.in(key, facet, end.Add(-recent), end)
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

// The rises the generator reports are in the stream, where and when it
// says, carried by many authors; each one trends in its facet by the
// counter's score within minutes of its start and at its peak, and not in
// a facet it does not rise in. The ten busiest steady tags never reach the
// list, in the whole stream or in their language; a flood has one author.
func TestRisesTrendWhereTheGeneratorSaysAndTheSteadyHeadNever(t *testing.T) {
	for _, tc := range []struct {
		rate  int
		hours float64
	}{{20, 3}, {200, 1}} {
		t.Run(fmt.Sprintf("%d posts per second", tc.rate), func(t *testing.T) {
			if testing.Short() && tc.rate > 20 {
				t.Skip("a million posts")
			}
			interval := time.Second / time.Duration(tc.rate)
			cfg := demo(11, interval)
			g := synthetic.New(cfg)
			posts := g.Take(int(tc.hours * float64(time.Hour/interval)))
			rises, floods := g.Rises(), g.Floods()
			checkTruth(t, g.Config(), posts, rises, floods)
		})
	}
}

func checkTruth(t *testing.T, cfg synthetic.Config, posts []post.Post, rises []synthetic.Rise, floods []synthetic.Flood) {
	t.Helper()
	events := map[string]bool{}
	for _, r := range rises {
		events[hashtag.Key(r.Tag)] = true
	}
	for _, f := range floods {
		events[hashtag.Key(f.Tag)] = true
	}
	// The head: the ten keys with the most mentions that no event uses,
	// and the language most of each one's mentions are in.
	mentions, langs := map[string]int{}, map[string]map[string]int{}
	for _, p := range posts {
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
	var head []string
	for k := range mentions {
		head = append(head, k)
	}
	slices.SortFunc(head, func(a, b string) int { return mentions[b] - mentions[a] })
	head = head[:10]
	keys := map[string]bool{}
	for k := range events {
		keys[k] = true
	}
	for _, k := range head {
		keys[k] = true
	}
	a := countAuthors(posts, keys)
	last := posts[len(posts)-1].CreatedAt.Truncate(bucket)

	kinds := map[string]int{}
	for _, r := range rises {
		key, facet := hashtag.Key(r.Tag), riseFacet(r)
		if !r.From.Equal(posts[r.First].CreatedAt) {
			t.Errorf("#%s: From %s, but post %d is created at %s", r.Tag, r.From, r.First, posts[r.First].CreatedAt)
		}
		if r.PeakAt.IsZero() || r.PeakAt.Add(2*bucket).After(last) {
			continue // not at its peak yet: only the rises that got there
		}
		kinds[facet[:3]]++
		if !r.PeakAt.Equal(posts[r.Peak].CreatedAt) {
			t.Errorf("#%s: PeakAt %s, but post %d is created at %s", r.Tag, r.PeakAt, r.Peak, posts[r.Peak].CreatedAt)
		}
		// In the stream: posts with its key up to the peak, in its scope
		// and out of it, and as many posts before its start.
		in, out, before := 0, 0, 0
		by := map[string]bool{}
		length := r.Peak - r.First + 1
		for i := r.First - min(r.First, length); i <= r.Peak; i++ {
			if !slices.ContainsFunc(hashtag.Of(posts[i]), func(tg hashtag.Tag) bool { return tg.Key == key }) {
				continue
			}
			switch {
			case i < r.First:
				before++
			case inScope(r, posts[i]):
				in++
				by[posts[i].Author] = true
			default:
				out++
			}
		}
		// Up to its peak a rise's share grows linearly to RisePeak.
		want := cfg.RisePeak * float64(length) / 2
		if float64(in) < 0.7*want || len(by) < in*4/5 || out > in/10 || before > in/10 {
			t.Errorf("#%s (%s) from %s to its peak: %d posts by %d authors in its scope (want about %.0f, nearly one each), %d out of it, %d in as long before",
				r.Tag, facet, r.From.Format(time.TimeOnly), in, len(by), want, out, before)
		}
		// Trending: soon after it starts, and at its peak.
		for _, e := range []time.Time{r.From.Truncate(bucket).Add(8 * bucket), r.PeakAt.Truncate(bucket).Add(bucket)} {
			if s, o, x := a.score(key, facet, e); s < minScore {
				t.Errorf("#%s (%s, from %s) at %s: score %.1f (%d authors, %.1f expected), below the list's %d",
					r.Tag, facet, r.From.Format(time.TimeOnly), e.Format(time.TimeOnly), s, o, x, minScore)
			}
			// It does not rise on the other networks, or in the other
			// languages.
			for f := range a.cells[key] {
				if facet == "all" || f == facet || !strings.HasPrefix(f, facet[:strings.Index(facet, ":")+1]) {
					continue
				}
				if s, o, x := a.score(key, f, e); s >= minScore {
					t.Errorf("#%s rises in %s, and at %s trends in %s too: %d authors, %.1f expected", r.Tag, facet, e.Format(time.TimeOnly), f, o, x)
				}
			}
		}
	}
	for _, k := range []string{"all", "lan", "sou"} {
		if kinds[k] == 0 {
			t.Errorf("no rise in a facet %s...: %v", k, kinds)
		}
	}

	// The steady head, and the floods, at every minute after the first
	// baseline window.
	for e := a.start.Add(2 * recent); !e.After(last); e = e.Add(bucket) {
		for _, k := range head {
			for _, f := range []string{"all", "lang:" + top(langs[k])} {
				if s, o, x := a.score(k, f, e); s >= minScore {
					t.Errorf("steady #%s in %s at %s: score %.1f, %d authors against %.1f expected", k, f, e.Format(time.TimeOnly), s, o, x)
				}
			}
		}
	}
	ids := map[string]string{} // flood post id → tag
	for _, f := range floods {
		key, n := hashtag.Key(f.Tag), 0
		for i := f.First; i <= min(f.Last, uint64(len(posts)-1)); i++ {
			if slices.ContainsFunc(hashtag.Of(posts[i]), func(tg hashtag.Tag) bool { return tg.Key == key }) {
				n++
				ids[posts[i].ID] = f.Tag
			}
		}
		if f.Last < uint64(len(posts)) && float64(n) < 0.7*cfg.FloodShare*float64(f.Last-f.First+1) {
			t.Errorf("flood of #%s by %s: %d posts in %d", f.Tag, f.Author, n, f.Last-f.First+1)
		}
	}
	fl := map[string]synthetic.Flood{}
	for _, f := range floods {
		fl[hashtag.Key(f.Tag)] = f
	}
	for _, p := range posts {
		if tag, ok := ids[p.RetweetOf]; ok {
			t.Fatalf("post %s retweets %s, a flood post of #%s", p.ID, p.RetweetOf, tag)
		}
		for _, tg := range hashtag.Of(p) {
			f, ok := fl[tg.Key]
			if !ok {
				continue
			}
			if p.Author != f.Author || p.Source != f.Network || p.Lang != f.Lang || ids[p.ID] == "" {
				t.Fatalf("post %s (%s, %s, by %s) carries #%s of the flooder %s (%s, %s) outside its waves", p.ID, p.Source, p.Lang, p.Author, tg.Spelling, f.Author, f.Network, f.Lang)
			}
		}
	}
	if len(floods) < 3 || len(ids) == 0 {
		t.Errorf("%d flood waves, %d flood posts", len(floods), len(ids))
	}
	t.Logf("%d posts; %d rises (%v reached their peak); %d flood waves of %d posts; head %v", len(posts), len(rises), kinds, len(floods), len(ids), head)
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
