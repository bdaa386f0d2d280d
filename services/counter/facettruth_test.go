package main_test

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/pkg/synthetic"
	"github.com/hashtrend/hashtrend/pkg/systest"
)

// The facet truth test: the realistic synthetic stream (three networks,
// Zipf activity, retweets, rises and flooders: pkg/synthetic) through the
// counter with a trending list per facet, each facet's lists held against
// what the generator says it made rise, where, and who flooded.
//
// Post time is shrunk so that the run is short: 15 minutes of post time
// at 100 posts a second, trending buckets of 15 s, a recent window of a
// minute against a baseline of five; a rise begins every minute and lasts
// four (its share of the posts peaks at 2 %), a flood wave begins every
// ten minutes (the generator's own schedule). The accounts write English,
// Japanese, German and Dutch, three, two, one and one in seven of them
// (synthetic.Config.Langs lists a language once per share), so that with
// two languages of facets of their own the fold is en and ja at every
// watermark, and German and Dutch fold into other.
//
// The floor is the counter's default, 25. The stream is not Poisson
// (retweets come in clusters, the busiest accounts post in bursts) and a
// baseline of one to five windows is itself noisy, so at this scale a
// facet's steady head tag sometimes reaches 25 by the definition, mostly
// in the first minutes, while the baseline still has one or two windows
// (in 25 of the seeds 1 to 44). The seed is one where it does not, and
// premises checks that from the posts before the counter runs.
const (
	truthSeed      = 16
	truthMinutes   = 15
	truthInterval  = 10 * time.Millisecond
	truthBucket    = 15 * time.Second
	truthRecent    = time.Minute
	truthBaseline  = 5 * time.Minute
	truthMin       = 5
	truthMinScore  = 25
	truthLanguages = 2
	truthRisePeak  = 0.02
	truthHead      = 3 // steady head tags per facet
)

var (
	truthStart    = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	truthNetworks = []string{"bluesky", "mastodon", "x"}
	truthOwn      = []string{"en", "ja"} // the languages with facets of their own
)

// truthEnv is the counter's trending per facet at the test's scale. The
// lists are 30 long so that a rise is not crowded out by tags that
// trended before it and are still listed while they cool; the budget per
// window is large enough that no facet's lists wait.
var truthEnv = []string{
	"COUNTER_TRENDING_BUCKET=" + truthBucket.String(), "COUNTER_TRENDING_LATENESS=0s",
	"COUNTER_TRENDING_RECENT=" + truthRecent.String(), "COUNTER_TRENDING_BASELINE=" + truthBaseline.String(),
	"COUNTER_TRENDING_MIN=" + strconv.Itoa(truthMin), "COUNTER_TRENDING_MIN_SCORE=" + strconv.Itoa(truthMinScore),
	"COUNTER_FACET_TRENDING=on", "COUNTER_FACET_LANGUAGES=" + strconv.Itoa(truthLanguages),
	"COUNTER_TOP_N=30", "COUNTER_FACET_BUDGET=262144",
}

func truthConfig(seed int64) synthetic.Config {
	return synthetic.Config{
		Seed: seed, Start: truthStart, Interval: truthInterval, Rising: -1,
		Langs:    []string{"en", "en", "en", "ja", "ja", "de", "nl"},
		Networks: truthNetworks, AuthorSkew: 1.2,
		RiseEvery: time.Minute, RiseFor: 4 * time.Minute, RisePeak: truthRisePeak, Flooders: 3,
	}
}

// truthInput is the stream, the generator's ground truth, and what the
// test computes from the posts alone with the trending definition of
// docs/counter.md: the distinct authors of the keys it checks, per facet
// and bucket.
type truthInput struct {
	posts  []post.Post
	first  time.Time // the first bucket
	closed time.Time // the closers' post time: every bucket of the posts is closed at it
	rises  []synthetic.Rise
	floods []synthetic.Flood
	head   map[string][]string                                 // facet → its steady head: the keys it mentions most that no rise or flood uses
	langs  map[string]map[time.Time]int64                      // language → bucket → posts
	cells  map[string]map[string]map[time.Time]map[string]bool // key → facet → bucket → authors
	memo   map[truthWindow]int
}

type truthWindow struct {
	key, facet string
	from       time.Time
}

// truthFacets are the facets a post counts in, with the test's fold.
func truthFacets(p post.Post) [4]string {
	r := facet.Route(facet.CellOf(p.Source, p.Lang), func(l string) bool { return slices.Contains(truthOwn, l) })
	return [4]string{facet.All, r[0].String(), r[1].String(), r[2].String()}
}

// truthFold is the name a language's facets have under the test's fold.
func truthFold(l string) string {
	if slices.Contains(truthOwn, l) {
		return l
	}
	return facet.Other
}

func newTruthInput(seed int64) *truthInput {
	g := synthetic.New(truthConfig(seed))
	end := truthStart.Add(truthMinutes * time.Minute)
	in := &truthInput{first: truthStart.Truncate(truthBucket), closed: end.Add(truthBucket), head: map[string][]string{},
		langs: map[string]map[time.Time]int64{}, cells: map[string]map[string]map[time.Time]map[string]bool{}, memo: map[truthWindow]int{}}
	for p := g.Next(); p.CreatedAt.Before(end); p = g.Next() {
		in.posts = append(in.posts, p)
	}
	in.rises, in.floods = g.Rises(), g.Floods()
	watched := map[string]bool{}
	for _, r := range in.rises {
		watched[hashtag.Key(r.Tag)] = true
	}
	for _, f := range in.floods {
		watched[hashtag.Key(f.Tag)] = true
	}
	mentions := map[string]map[string]int{} // facet → key → posts
	for _, p := range in.posts {
		if in.langs[p.Lang] == nil {
			in.langs[p.Lang] = map[time.Time]int64{}
		}
		in.langs[p.Lang][p.CreatedAt.Truncate(truthBucket)]++
		for _, tg := range hashtag.Of(p) {
			if watched[tg.Key] {
				continue
			}
			for _, f := range truthFacets(p) {
				if mentions[f] == nil {
					mentions[f] = map[string]int{}
				}
				mentions[f][tg.Key]++
			}
		}
	}
	for f, m := range mentions {
		keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int {
			if m[a] != m[b] {
				return m[b] - m[a]
			}
			return strings.Compare(a, b)
		})
		in.head[f] = keys[:min(truthHead, len(keys))]
	}
	for _, keys := range in.head {
		for _, k := range keys {
			watched[k] = true
		}
	}
	for _, p := range in.posts {
		b := p.CreatedAt.Truncate(truthBucket)
		for _, tg := range hashtag.Of(p) {
			if !watched[tg.Key] {
				continue
			}
			if in.cells[tg.Key] == nil {
				in.cells[tg.Key] = map[string]map[time.Time]map[string]bool{}
			}
			for _, f := range truthFacets(p) {
				if in.cells[tg.Key][f] == nil {
					in.cells[tg.Key][f] = map[time.Time]map[string]bool{}
				}
				if in.cells[tg.Key][f][b] == nil {
					in.cells[tg.Key][f][b] = map[string]bool{}
				}
				in.cells[tg.Key][f][b][p.Source+"/"+p.Author] = true
			}
		}
	}
	return in
}

// authors is the distinct authors of key in facet f over [from, from+recent).
func (in *truthInput) authors(key, f string, from time.Time) int {
	w := truthWindow{key, f, from}
	if n, ok := in.memo[w]; ok {
		return n
	}
	seen := map[string]bool{}
	for b := from; b.Before(from.Add(truthRecent)); b = b.Add(truthBucket) {
		for a := range in.cells[key][f][b] {
			seen[a] = true
		}
	}
	in.memo[w] = len(seen)
	return len(seen)
}

// score is key's trending score in facet f with the buckets before e
// closed, as docs/counter.md defines it, and its observed and expected
// authors; 0 while there is no baseline window yet (the list is empty).
func (in *truthInput) score(key, f string, e time.Time) (score float64, observed int, expected float64) {
	observed = in.authors(key, f, e.Add(-truthRecent))
	sum, windows := 0, 0
	for j := 1; j <= int(truthBaseline/truthRecent); j++ {
		end := e.Add(-truthRecent * time.Duration(j))
		if end.Add(-truthRecent).Before(in.first) {
			break
		}
		sum += in.authors(key, f, end.Add(-truthRecent))
		windows++
	}
	if windows == 0 {
		return 0, observed, 0
	}
	expected = max(1, float64(sum)/float64(windows))
	if observed < truthMin || float64(observed) <= expected {
		return 0, observed, expected
	}
	d := float64(observed) - expected
	return d * d / expected, observed, expected
}

// best is key's highest score in facet f at the bucket ends in (from, to],
// and where.
func (in *truthInput) best(key, f string, from, to time.Time) (score float64, at time.Time, observed int, expected float64) {
	for e := from.Truncate(truthBucket).Add(truthBucket); !e.After(to); e = e.Add(truthBucket) {
		if s, o, x := in.score(key, f, e); s > score || at.IsZero() {
			score, at, observed, expected = s, e, o, x
		}
	}
	return score, at, observed, expected
}

// listsFrom is the first bucket end at which a list can hold anything:
// one recent window and one baseline window into the stream.
func (in *truthInput) listsFrom() time.Time { return in.first.Add(2 * truthRecent) }

// checked are the rises that peak once the lists can hold anything and a
// recent window before the input ends.
func (in *truthInput) checked() []synthetic.Rise {
	var out []synthetic.Rise
	for _, r := range in.rises {
		if !r.PeakAt.IsZero() && !r.PeakAt.Before(in.listsFrom()) && r.PeakAt.Add(truthRecent).Before(in.closed) {
			out = append(out, r)
		}
	}
	return out
}

// riseEnd is where the check of a rise ends: its last post, or the end of
// the input when it runs past it.
func (in *truthInput) riseEnd(r synthetic.Rise) time.Time {
	if r.To.IsZero() || r.To.After(in.closed) {
		return in.closed
	}
	return r.To
}

// where are the facets a rise must trend in: all, its own, and those that
// split it by the other dimension, each of which holds a third of its
// authors or more (a rise in Japanese: lang:ja, each network, and each
// network's Japanese; a rise on Mastodon: source:mastodon, each language,
// and Mastodon's each language; a rise everywhere: each network and each
// language); and those it must never trend in: the other languages' for a
// rise in one language, the other networks' for a rise on one network.
func where(r synthetic.Rise) (must, never []string) {
	name := func(n, l string) string { return facet.Name{Network: n, Language: l}.String() }
	langs := append(slices.Clone(truthOwn), facet.Other)
	must = []string{facet.All}
	switch {
	case r.Lang != "":
		l := truthFold(r.Lang)
		must = append(must, name("", l))
		for _, n := range truthNetworks {
			must = append(must, name(n, ""), name(n, l))
		}
		for _, m := range langs {
			if m != l {
				never = append(never, name("", m))
				for _, n := range truthNetworks {
					never = append(never, name(n, m))
				}
			}
		}
	case r.Network != "":
		must = append(must, name(r.Network, ""))
		for _, l := range langs {
			must = append(must, name("", l), name(r.Network, l))
		}
		for _, n := range truthNetworks {
			if n != r.Network {
				never = append(never, name(n, ""))
				for _, l := range langs {
					never = append(never, name(n, l))
				}
			}
		}
	default:
		for _, n := range truthNetworks {
			must = append(must, name(n, ""))
		}
		for _, l := range langs {
			must = append(must, name("", l))
		}
	}
	return must, never
}

// truthFacetNames are the facets the fold leaves: all, the three
// networks, en, ja and other, and their pairs.
func truthFacetNames() []string {
	var out []string
	for _, n := range append([]string{""}, truthNetworks...) {
		for _, l := range append([]string{""}, append(slices.Clone(truthOwn), facet.Other)...) {
			out = append(out, facet.Name{Network: n, Language: l}.String())
		}
	}
	return out
}

func describeRise(r synthetic.Rise) string {
	scope := "everywhere"
	switch {
	case r.Lang != "":
		scope = "in " + r.Lang
	case r.Network != "":
		scope = "on " + r.Network
	}
	return fmt.Sprintf("#%s (rising %s from %s, peak at %s)", r.Tag, scope, r.From.Format(time.TimeOnly), r.PeakAt.Format(time.TimeOnly))
}

// premises checks, from the posts alone, that the input can show what the
// test shows: checked rises of every kind (everywhere, on one network, in
// Japanese, in a folded language) and a flood wave while the lists exist;
// en and ja the busiest languages at every watermark; and, by the
// definition, every checked rise trending in each facet it must and in
// none it must not, and no facet's steady head nor any flooder's tag
// trending. A failure here is the input's (the seed, the generator), not
// the counter's.
func (in *truthInput) premises(t *testing.T) {
	t.Helper()
	kinds := map[string]int{}
	for _, r := range in.checked() {
		switch {
		case r.Lang == "ja":
			kinds["in Japanese"]++
		case r.Lang != "" && truthFold(r.Lang) == facet.Other:
			kinds["in a folded language"]++
		case r.Network != "":
			kinds["on one network"]++
		case r.Lang == "":
			kinds["everywhere"]++
		}
	}
	for _, k := range []string{"everywhere", "on one network", "in Japanese", "in a folded language"} {
		if kinds[k] == 0 {
			t.Fatalf("premise: no checked rise %s (seed %d): %v", k, truthSeed, kinds)
		}
	}
	if !slices.ContainsFunc(in.floods, func(f synthetic.Flood) bool { return f.To.IsZero() || f.To.After(in.listsFrom().Add(truthRecent)) }) {
		t.Fatalf("premise: no flood wave while the lists exist: %+v", in.floods)
	}
	for e := in.first.Add(truthBucket); !e.After(in.closed); e = e.Add(truthBucket) {
		posts := map[string]int64{}
		for l, buckets := range in.langs {
			for b := e.Add(-truthRecent); b.Before(e); b = b.Add(truthBucket) {
				posts[l] += buckets[b]
			}
		}
		if busiest := facet.Busiest(posts, truthLanguages); !slices.Equal(busiest, truthOwn) {
			t.Fatalf("premise: at %s the busiest languages are %v (posts %v), not %v", e.Format(time.TimeOnly), busiest, posts, truthOwn)
		}
	}
	for _, r := range in.checked() {
		key := hashtag.Key(r.Tag)
		must, never := where(r)
		for _, f := range must {
			if s, at, o, x := in.best(key, f, r.From, in.riseEnd(r)); s < truthMinScore {
				t.Errorf("premise: %s scores at most %.1f in %s (at %s: %d authors, %.1f expected)", describeRise(r), s, f, at.Format(time.TimeOnly), o, x)
			}
		}
		for _, f := range never {
			if s, at, o, x := in.best(key, f, in.first, in.closed); s >= truthMinScore {
				t.Errorf("premise: %s scores %.1f in %s (at %s: %d authors, %.1f expected)", describeRise(r), s, f, at.Format(time.TimeOnly), o, x)
			}
		}
	}
	for _, f := range truthFacetNames() {
		steady := slices.Clone(in.head[f])
		for _, fl := range in.floods {
			steady = append(steady, hashtag.Key(fl.Tag))
		}
		for _, k := range steady {
			if s, at, o, x := in.best(k, f, in.first, in.closed); s >= truthMinScore {
				t.Errorf("premise: #%s scores %.1f in %s (at %s: %d authors, %.1f expected)", k, s, f, at.Format(time.TimeOnly), o, x)
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// truthListing is a key's row in a facet's trending list at a watermark.
type truthListing struct {
	at  time.Time
	row snapshot.Trend
}

func (l truthListing) String() string {
	return fmt.Sprintf("%s (score %.1f, %v authors, %.1f expected, %s)", l.at.Format(time.TimeOnly), l.row.Score, l.row.Observed, l.row.Expected, l.row.Status)
}

func listings(ls []truthListing) string {
	s := make([]string, 0, 5)
	for i, l := range ls {
		if i == 4 {
			s = append(s, fmt.Sprintf("and %d more", len(ls)-4))
			break
		}
		s = append(s, l.String())
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// truthLists gathers every trending list the run published, by facet and
// key, each watermark once: the snapshots' (all) and every record on the
// facets topic. It also returns the facets that had any record, and the
// number of watermarks the snapshots published.
func truthLists(t *testing.T, p pipeline, snaps *snapshots) (lists map[string]map[string][]truthListing, named map[string]bool, watermarks int) {
	t.Helper()
	lists, named = map[string]map[string][]truthListing{}, map[string]bool{}
	add := func(f string, at time.Time, rows []snapshot.Trend) {
		if lists[f] == nil {
			lists[f] = map[string][]truthListing{}
		}
		for _, r := range rows {
			ls := lists[f][r.Key]
			if len(ls) == 0 || !ls[len(ls)-1].at.Equal(at) {
				lists[f][r.Key] = append(ls, truthListing{at, r})
			}
		}
	}
	seen := map[time.Time]bool{}
	for _, s := range snaps.list() {
		if s.Watermark != nil {
			seen[s.Watermark.UTC()] = true
			add(facet.All, s.Watermark.UTC(), s.Trending)
		}
	}
	for _, m := range kafkatest.ReadAllFrom(t, p.brokers, p.facets, time.Minute) {
		f, ok, err := snapshot.DecodeFacet(m.Key, m.Value)
		if err != nil {
			t.Fatalf("facets topic @%d: %v", m.TopicPartition.Offset, err)
		}
		named[string(m.Key)] = true
		if ok && f.Watermark != nil {
			add(f.Facet, f.Watermark.UTC(), f.Trending)
		}
	}
	return lists, named, len(seen)
}

// TestEachFacetTrendsWhatTheGeneratorMadeRise runs the realistic stream
// through the counter with a trending list per facet and reads every list
// it published (the snapshots' for all, every record of the facets topic
// for the others). Each rise the generator reports (Rises) that peaks
// while lists exist trends, between its first and its last post, in each
// facet it must (where: all, its own, and each that splits it by the
// other dimension; a rise in Dutch, a folded language, in lang:other and
// each network's other); a rise in one language never trends in another
// language's facets (Japanese never in lang:en), nor a rise on one network
// in another network's; no facet's steady head (its three busiest tags
// that no rise or flood uses) ever trends there; no flooder's tag
// (Floods) ever trends anywhere; and no facet of a folded language is
// ever written.
//
// What it catches:
//   - routing: a cell's buckets fed to a wrong facet (a network's to
//     another's, a language's to another's, a pair fed its whole network
//     or language) list a rise where it must never trend, or miss it where
//     it must (Japanese routed to lang:en: every Japanese rise is listed
//     in lang:en and missing from lang:ja);
//   - the fold: a rise in Dutch must trend in lang:other and each
//     network's other, rises in English and Japanese in facets of their
//     own, and no lang:de or lang:nl may be written: a fold that leaves a
//     folded language out of other, keeps it apart or folds the wrong
//     languages fails;
//   - flood resistance: a flooder writes 1 % of the posts, about 60 a
//     minute, all with its tag; counted by posts rather than distinct
//     authors its tag scores in the thousands in every facet it posts in.
//
// The assertions are on the union of every list a facet published over
// the run (a rise must be in one of its lists during the rise, a steady or
// flooded tag in none), so they hold whether a tag leaves the list when
// its score falls below the floor or stays listed while it cools.
// premises shows first, from the posts alone, that the input makes each
// rise trend where it must and no steady or flooded tag trend by the
// definition, so that a failure after it is the counter's.
func TestEachFacetTrendsWhatTheGeneratorMadeRise(t *testing.T) {
	in := newTruthInput(truthSeed)
	in.premises(t)
	p := newPipeline(t, 3)
	snaps := follow(t, p)
	c := start(t, p, "facet-truth", truthEnv...)
	c.waitPhase(2*time.Minute, "active")

	// One bucket of post time at a time, never more than two ahead of the
	// watermark: a snapshot's watermark moves a bucket or two, so the
	// lists of nearly every bucket are published however busy the
	// machine is.
	all := append(slices.Clone(in.posts), closers(in.closed)...)
	keys, values := encoded(t, all)
	watermark := func() time.Time {
		if s, ok := snaps.last(); ok && s.Watermark != nil {
			return s.Watermark.UTC()
		}
		return time.Time{}
	}
	for i, b := 0, in.first; i < len(all); b = b.Add(truthBucket) {
		j := i
		for j < len(all) && all[j].CreatedAt.Before(b.Add(truthBucket)) {
			j++
		}
		produce(t, p.brokers, p.tweets, keys[i:j], values[i:j])
		i = j
		if behind := b.Add(-truthBucket); behind.After(in.first) {
			systest.Await(t, "the watermark at "+behind.Format(time.TimeOnly), time.Minute, func() bool {
				if !c.Running() {
					t.Fatalf("the counter exited: %v\n%s", c.Err(), c.Output())
				}
				return !watermark().Before(behind)
			})
		}
	}
	snaps.waitPosts(t, int64(len(all)), 2*time.Minute, c)
	systest.Await(t, "a snapshot at the closers' watermark", time.Minute, func() bool { return !watermark().Before(in.closed) })
	last, _ := snaps.last()
	snaps.waitBatch(t, last.Batch+2, time.Minute, c)
	c.waitMetric("hashtrend_counter_facets_waiting", func(v float64) bool { return v == 0 }, time.Minute)
	c.stop()

	lists, named, watermarks := truthLists(t, p, snaps)
	if want := int(in.closed.Sub(in.listsFrom()) / truthBucket / 2); watermarks < want {
		t.Errorf("snapshots at %d watermarks, want at least %d: the lists of most buckets were never published", watermarks, want)
	}
	for name := range named {
		if !slices.Contains(truthFacetNames(), name) {
			t.Errorf("the facets topic has records of %s, a facet the fold (%v, the rest other) does not make", name, truthOwn)
		}
	}
	checked := 0
	for _, r := range in.checked() {
		key, end := hashtag.Key(r.Tag), in.riseEnd(r)
		must, never := where(r)
		for _, f := range must {
			checked++
			ls := lists[f][key]
			if !slices.ContainsFunc(ls, func(l truthListing) bool { return l.at.After(r.From) && !l.at.After(end) }) {
				s, at, o, x := in.best(key, f, r.From, end)
				t.Errorf("%s never trends in %s up to %s (listed %s); the input's best score there is %.1f at %s (%d authors, %.1f expected)",
					describeRise(r), f, end.Format(time.TimeOnly), listings(ls), s, at.Format(time.TimeOnly), o, x)
			}
		}
		for _, f := range never {
			if ls := lists[f][key]; len(ls) > 0 {
				t.Errorf("%s trends in %s: %s", describeRise(r), f, listings(ls))
			}
		}
	}
	for f, keys := range in.head {
		for _, k := range keys {
			if ls := lists[f][k]; len(ls) > 0 {
				s, at, o, x := in.best(k, f, in.first, in.closed)
				t.Errorf("#%s, of the steady head of %s, trends there: %s; the input's best score there is %.1f at %s (%d authors, %.1f expected)",
					k, f, listings(ls), s, at.Format(time.TimeOnly), o, x)
			}
		}
	}
	for _, fl := range in.floods {
		for _, f := range slices.Sorted(maps.Keys(lists)) {
			if ls := lists[f][hashtag.Key(fl.Tag)]; len(ls) > 0 {
				t.Errorf("#%s, flooded by %s alone (%s, %s), trends in %s: %s", fl.Tag, fl.Author, fl.Network, fl.Lang, f, listings(ls))
			}
		}
	}
	t.Logf("%d posts; %d rises checked in %d facet lists; steady head of all %v, of lang:ja %v; %d flood waves; snapshots at %d watermarks; %d facets on the topic",
		len(in.posts), len(in.checked()), checked, in.head[facet.All], in.head["lang:ja"], len(in.floods), watermarks, len(named))
}
