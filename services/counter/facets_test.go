package main_test

import (
	"cmp"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/pkg/synthetic"
	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/pkg/systest/expect"
	"github.com/hashtrend/hashtrend/services/counter/internal/state"
)

// facetStart is the post time of the facet tests' first post.
var facetStart = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// The facet tests' post-time clock: minute buckets, no lateness (each
// partition's posts come in post-time order), and a recent window of an
// hour that holds every post of the input, so that the languages with
// facets of their own are the busiest of the whole input once it is
// closed; trending per facet on (nothing rises: the lists stay empty), so
// that its views go through the restarts too.
var facetEnv = []string{
	"COUNTER_TRENDING_BUCKET=1m", "COUNTER_TRENDING_LATENESS=0s", "COUNTER_TRENDING_RECENT=1h",
	"COUNTER_TRENDING_BASELINE=6h", "COUNTER_FACET_TRENDING=on",
}

// facetPosts are n synthetic posts spread over [facetStart,
// facetStart+10m), each given a network (four, and one the counter does
// not know) and a language tag as the networks write them, the languages
// skewed so that some are busy and the others fold.
func facetPosts(seed int64, n int) []post.Post {
	posts := synthetic.New(synthetic.Config{Seed: seed, Start: facetStart, Interval: 10 * time.Minute / time.Duration(n)}).Take(n)
	r := rand.New(rand.NewPCG(uint64(seed), 7))
	sources := []string{"bluesky", "mastodon", "x", "twitter", "synthetic"}
	langs := []struct {
		tag    string
		weight int
	}{{"en", 30}, {"ja", 18}, {"de", 12}, {"pt-BR", 10}, {"es", 8}, {"", 5}, {"qme", 4}, {"iw", 4}, {"fr", 3}, {"nl", 3}, {"EN-gb", 3}}
	total := 0
	for _, l := range langs {
		total += l.weight
	}
	for i := range posts {
		posts[i].Source = sources[r.IntN(len(sources))]
		w := r.IntN(total)
		for _, l := range langs {
			if w -= l.weight; w < 0 {
				posts[i].Lang = l.tag
				break
			}
		}
	}
	return posts
}

// closers are untagged posts at post time at, enough of them that every
// partition of the posts topic gets some and its watermark passes every
// bucket before at.
func closers(at time.Time) []post.Post {
	out := make([]post.Post, 300)
	for i := range out {
		out[i] = post.Post{ID: "closer-" + strconv.Itoa(i), Source: "x", Lang: "en", CreatedAt: at, Text: "no tags here"}
	}
	return out
}

// facetReport is what the facets topic must hold for a set of posts, all
// of whose buckets are closed, counted here from the posts: each post's
// hashtags (pkg/hashtag), its cell (pkg/facet's rule, tested on its own),
// the busiest languages by posts and the facets' tops.
type facetReport struct {
	own   map[string]bool
	tops  map[string][]snapshot.Count // facet name → top
	cells map[string]map[string]int64 // key → cell → posts
	byKey map[string]map[string]int64 // facet name → key → posts
	langs map[string]int64            // language → posts
	e     expect.Report
}

func facetsOf(posts []post.Post, languages, n int) facetReport {
	r := facetReport{own: map[string]bool{}, tops: map[string][]snapshot.Count{}, cells: map[string]map[string]int64{},
		byKey: map[string]map[string]int64{}, langs: map[string]int64{}, e: expect.Of(posts)}
	for _, p := range posts {
		r.langs[facet.CellOf(p.Source, p.Lang).Language]++
	}
	ls := slices.Collect(maps.Keys(r.langs))
	slices.SortFunc(ls, func(a, b string) int {
		if c := cmp.Compare(r.langs[b], r.langs[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for _, l := range ls[:min(languages, len(ls))] {
		r.own[l] = true
	}
	for _, p := range posts {
		c := facet.CellOf(p.Source, p.Lang)
		lang := c.Language
		if !r.own[lang] {
			lang = "other"
		}
		names := []string{"source:" + c.Network, "lang:" + lang, "source:" + c.Network + "/lang:" + lang}
		for _, tg := range hashtag.Of(p) {
			if r.cells[tg.Key] == nil {
				r.cells[tg.Key] = map[string]int64{}
			}
			r.cells[tg.Key][c.Network+"/"+c.Language]++
			for _, name := range names {
				if r.byKey[name] == nil {
					r.byKey[name] = map[string]int64{}
				}
				r.byKey[name][tg.Key]++
			}
		}
	}
	for name, counts := range r.byKey {
		keys := slices.Collect(maps.Keys(counts))
		slices.SortFunc(keys, func(a, b string) int {
			if c := cmp.Compare(counts[b], counts[a]); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		for _, k := range keys[:min(n, len(keys))] {
			r.tops[name] = append(r.tops[name], snapshot.Count{Hashtag: r.e.Spelling(k), Count: counts[k]})
		}
	}
	return r
}

// facetTopic reads the facets topic to its end: the last record of each
// facet, tombstones removing it.
func facetTopic(t *testing.T, p pipeline) map[string]snapshot.Facet {
	t.Helper()
	out := map[string]snapshot.Facet{}
	for _, m := range kafkatest.ReadAllFrom(t, p.brokers, p.facets, time.Minute) {
		f, ok, err := snapshot.DecodeFacet(m.Key, m.Value)
		if err != nil {
			t.Fatalf("facets topic @%d: %v", m.TopicPartition.Offset, err)
		}
		if !ok {
			delete(out, string(m.Key))
			continue
		}
		out[string(m.Key)] = f
	}
	return out
}

// checkFacets compares the facets topic and the cells of the state topic
// with the report.
func checkFacets(t *testing.T, p pipeline, want facetReport) {
	t.Helper()
	got := facetTopic(t, p)
	for name, top := range want.tops {
		if f, ok := got[name]; !ok || !slices.Equal(f.Top, top) {
			t.Errorf("facet %s: %v, want %v", name, f.Top, top)
		}
	}
	for name := range got {
		if _, ok := want.tops[name]; !ok {
			t.Errorf("facet %s has lists (%v), but no post of the input is in it", name, got[name].Top)
		}
	}
	totals := map[string]state.Total{} // the last of each key
	for _, m := range kafkatest.ReadAllFrom(t, p.brokers, p.counts, time.Minute) {
		if state.Reserved(m.Key) { // the meta record, the lifecycles
			continue
		}
		v, err := state.DecodeTotal(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		totals[string(m.Key)] = v
	}
	if len(totals) != len(want.cells) {
		t.Errorf("the state topic holds %d hashtags, want %d", len(totals), len(want.cells))
	}
	bad := 0
	for k, cells := range want.cells {
		if got := totals[k].Cells.Map(); !maps.Equal(got, cells) {
			if bad++; bad <= 5 {
				t.Errorf("state of %s: cells %v, want %v", k, got, cells)
			}
		}
	}
}

// TestFacetListsAreExactAcrossARestart counts posts of known networks and
// languages, with four languages of facets of their own and the rest in
// other; SIGKILLs the counter half way and starts a new process on the
// same topics for the rest. Every facet's top in the facets topic, and
// every hashtag's cells in the state topic, must be what the input says:
// nothing lost or counted twice by the kill, and the fold made from the
// busiest languages of the input.
func TestFacetListsAreExactAcrossARestart(t *testing.T) {
	const languages = 4
	p := newPipeline(t, 6)
	posts := facetPosts(31, 24_000)
	end := closers(facetStart.Add(20 * time.Minute))
	snaps := follow(t, p)
	env := append(slices.Clone(facetEnv), "COUNTER_FACET_LANGUAGES="+strconv.Itoa(languages))

	keys, values := encoded(t, posts[:12_000])
	produce(t, p.brokers, p.tweets, keys, values)
	c := start(t, p, "facets", env...)
	snaps.waitPosts(t, 12_000, 2*time.Minute, c)
	c.Kill()

	c = start(t, p, "facets", env...)
	keys, values = encoded(t, append(slices.Clone(posts[12_000:]), end...))
	produce(t, p.brokers, p.tweets, keys, values)
	all := int64(len(posts) + len(end))
	snaps.waitPosts(t, all, 3*time.Minute, c)
	// Every bucket of the posts is closed once the closers' watermark is
	// in a snapshot; the facets' records of the last fold are written
	// with the snapshots after it.
	awaitFacetsWritten(t, snaps, c, time.Minute)

	want := facetsOf(posts, languages, 10)
	if len(want.own) != languages || len(want.tops["lang:other"]) == 0 || len(want.tops["source:other"]) == 0 {
		t.Fatalf("the input does not exercise the fold: own %v, lang:other %v", want.own, want.tops["lang:other"])
	}
	checkFacets(t, p, want)
	verify(t, p, snaps, expect.Of(append(slices.Clone(posts), end...)))
	c.stop()
}

// TestFacetBytesPerWindowStayWithinTheBudget feeds 60,000 posts of four
// networks in 24 languages, 20 of which have facets of their own, about
// 5,000 a window, so that nearly every facet's top changes in every
// window: the worst case for what a window writes. The snapshot and the
// facet records written with it (matched by their record time, as one
// transaction writes them) must stay within COUNTER_FACET_BUDGET in every
// window, at its default of 64 KiB and at a quarter of it, where most
// facets have to wait; and once the input is counted every facet's lists
// must be the input's: the budget delays lists, it never loses them.
func TestFacetBytesPerWindowStayWithinTheBudget(t *testing.T) {
	for _, budget := range []int{64 << 10, 16 << 10} {
		t.Run(strconv.Itoa(budget), func(t *testing.T) { facetBytes(t, budget) })
	}
}

func facetBytes(t *testing.T, budget int) {
	const languages, n = 20, 60_000
	p := newPipeline(t, 6)
	posts := synthetic.New(synthetic.Config{Seed: 41, Start: facetStart, Interval: 10 * time.Minute / n}).Take(n)
	r := rand.New(rand.NewPCG(41, 8))
	networks := []string{"bluesky", "mastodon", "x", "twitter"}
	// 24 languages, the busier first.
	tags := []string{"en", "ja", "de", "pt", "es", "fr", "ko", "nl", "it", "tr", "ru", "pl", "sv", "fi", "th", "uk", "ar", "fa", "id", "zh", "ca", "cs", "da", "el"}
	for i := range posts {
		posts[i].Source = networks[r.IntN(len(networks))]
		posts[i].Lang = tags[int(float64(len(tags))*math.Pow(r.Float64(), 2.5))]
	}
	env := append(slices.Clone(facetEnv), "COUNTER_FACET_LANGUAGES="+strconv.Itoa(languages), "COUNTER_FACET_BUDGET="+strconv.Itoa(budget))
	c := start(t, p, "bytes", env...)
	c.waitPhase(time.Minute, "active")
	snaps, fed := feeding(t, p, append(slices.Clone(posts), closers(facetStart.Add(20*time.Minute))...), 1000)
	wait(t, fed, 2*time.Minute)
	snaps.waitPosts(t, int64(n+300), 3*time.Minute, c)
	awaitFacetsWritten(t, snaps, c, 2*time.Minute)

	want := facetsOf(posts, languages, 10)
	if len(want.own) != languages || len(want.tops) < 100 {
		t.Fatalf("the input has %d facets and %d languages of their own, want 20 × 4 of them", len(want.tops), len(want.own))
	}
	checkFacets(t, p, want)

	// Bytes per window: each facet record goes with the snapshot nearest
	// to it in record time (one transaction writes them within
	// milliseconds; windows are 500 ms apart).
	type window struct {
		at             time.Time
		bytes, records int
	}
	var windows []window
	for _, m := range kafkatest.ReadAllFrom(t, p.brokers, p.top, time.Minute) {
		windows = append(windows, window{at: m.Timestamp, bytes: len(m.Key) + len(m.Value)})
	}
	for _, m := range kafkatest.ReadAllFrom(t, p.brokers, p.facets, time.Minute) {
		i, _ := slices.BinarySearchFunc(windows, m.Timestamp, func(w window, at time.Time) int { return w.at.Compare(at) })
		if i == len(windows) || i > 0 && m.Timestamp.Sub(windows[i-1].at) < windows[i].at.Sub(m.Timestamp) {
			i--
		}
		windows[i].bytes += len(m.Key) + len(m.Value)
		windows[i].records++
	}
	most, sum, busy, full := 0, 0, 0, 0
	for _, w := range windows {
		most = max(most, w.bytes)
		if w.records > 0 {
			sum += w.bytes
			busy++
		}
		if w.records >= 100 {
			full++
		}
	}
	t.Logf("budget %d: %d windows, %d with facet records, %d of them with 100 or more: %d bytes on average in those, %d at most; %d facets",
		budget, len(windows), busy, full, sum/max(busy, 1), most, len(want.tops))
	if most > budget {
		t.Errorf("a window wrote %d bytes, more than the budget of %d", most, budget)
	}
	if busy < 8 {
		t.Errorf("only %d windows wrote facet records: the input did not keep the facets changing", busy)
	}
	c.stop()
}

// TestATagRisingInOneLanguageTrendsInItsFacetsOnly runs 26 minutes of
// post time: a steady crowd in English, Japanese and German on three
// networks, one tag that rises in Japanese on Bluesky only and one that
// rises in English on Mastodon only, in the last minutes. The Japanese one
// trends in lang:ja, source:bluesky and source:bluesky/lang:ja and in no
// English or Mastodon facet; the English one the other way round; and
// every row of every facet's trending list counts the facet's posts of the
// recent window exactly, and its authors within the sketch's error.
func TestATagRisingInOneLanguageTrendsInItsFacetsOnly(t *testing.T) {
	const recent = 5 * time.Minute
	p := newPipeline(t, 6)
	r := rand.New(rand.NewPCG(51, 1))
	var posts []post.Post
	add := func(at time.Time, source, lang, author, tag string) {
		posts = append(posts, post.Post{ID: "p" + strconv.Itoa(len(posts)), Source: source, Lang: lang, CreatedAt: at, Author: author,
			Text: "about #" + tag, Hashtags: []string{tag}})
	}
	networks, langs := []string{"bluesky", "mastodon", "x"}, []string{"en", "en", "ja", "ja", "de"}
	for m := range 26 {
		for i := range 120 {
			at := facetStart.Add(time.Duration(m)*time.Minute + time.Duration(i)*time.Minute/120)
			add(at, networks[r.IntN(3)], langs[r.IntN(5)], "crowd"+strconv.Itoa(r.IntN(300)), "steady"+strconv.Itoa(r.IntN(10)))
		}
		if m >= 20 {
			for i := range 12 {
				at := facetStart.Add(time.Duration(m)*time.Minute + time.Duration(i)*5*time.Second)
				add(at, "bluesky", "ja", "jp"+strconv.Itoa(m*12+i), "NihonRise")
				add(at.Add(time.Second), "mastodon", "en-GB", "gb"+strconv.Itoa(m*12+i), "EnglishRise")
			}
		}
	}
	slices.SortStableFunc(posts, func(a, b post.Post) int { return a.CreatedAt.Compare(b.CreatedAt) })
	closed := facetStart.Add(26 * time.Minute)
	keys, values := encoded(t, append(slices.Clone(posts), closers(closed)...))
	produce(t, p.brokers, p.tweets, keys, values)
	snaps := follow(t, p)
	c := start(t, p, "facet-trend", "COUNTER_TRENDING_BUCKET=1m", "COUNTER_TRENDING_LATENESS=0s", "COUNTER_TRENDING_RECENT=5m",
		"COUNTER_TRENDING_BASELINE=10m", "COUNTER_TRENDING_MIN=5", "COUNTER_TRENDING_MIN_SCORE=25", "COUNTER_FACET_LANGUAGES=3",
		"COUNTER_FACET_TRENDING=on")
	snaps.waitPosts(t, int64(len(keys)), 3*time.Minute, c)
	systest.Await(t, "a snapshot at the closers' watermark", time.Minute, func() bool {
		last, _ := snaps.last()
		return last.Watermark != nil && !last.Watermark.Before(closed)
	})
	last, _ := snaps.last()
	snaps.waitBatch(t, last.Batch+2, time.Minute, c)
	c.waitMetric("hashtrend_counter_facets_waiting", func(v float64) bool { return v == 0 }, time.Minute)

	got := facetTopic(t, p)
	trends := func(name string) []string {
		var keys []string
		for _, r := range got[name].Trending {
			keys = append(keys, r.Key)
		}
		return keys
	}
	for _, name := range []string{"lang:ja", "source:bluesky", "source:bluesky/lang:ja"} {
		if !slices.Contains(trends(name), "nihonrise") {
			t.Errorf("%s trends %v, without nihonrise", name, trends(name))
		}
	}
	for _, name := range []string{"lang:en", "source:mastodon", "source:mastodon/lang:en"} {
		if !slices.Contains(trends(name), "englishrise") {
			t.Errorf("%s trends %v, without englishrise", name, trends(name))
		}
	}
	for name := range got {
		n, _ := facet.Parse(name)
		if slices.Contains(trends(name), "nihonrise") && (n.Language != "" && n.Language != "ja" || n.Network != "" && n.Network != "bluesky") {
			t.Errorf("nihonrise, in Japanese on Bluesky only, trends in %s", name)
		}
		if slices.Contains(trends(name), "englishrise") && (n.Language != "" && n.Language != "en" || n.Network != "" && n.Network != "mastodon") {
			t.Errorf("englishrise, in English on Mastodon only, trends in %s", name)
		}
	}
	// Every row against the input: the facet's posts of the tag in the
	// recent window, exactly; its distinct authors within the sketch's
	// error.
	for name, f := range got {
		n, _ := facet.Parse(name)
		if f.Watermark != nil && !f.Watermark.Equal(closed) {
			t.Errorf("%s: trending at %s, want %s", name, f.Watermark, closed)
		}
		for _, row := range f.Trending {
			var count int64
			authors := map[string]bool{}
			for _, p := range posts {
				c := facet.CellOf(p.Source, p.Lang)
				inFacet := (n.Network == "" || n.Network == c.Network) && (n.Language == "" || n.Language == c.Language ||
					n.Language == "other" && !slices.Contains([]string{"en", "ja", "de"}, c.Language))
				if inFacet && hashtag.Key(p.Hashtags[0]) == row.Key && !p.CreatedAt.Before(closed.Add(-recent)) && p.CreatedAt.Before(closed) {
					count++
					authors[p.Author] = true
				}
			}
			if row.Count != count || math.Abs(row.Observed-float64(len(authors))) > max(1, 0.05*float64(len(authors))) {
				t.Errorf("%s #%s: %d posts, %v authors; the input has %d posts, %d authors", name, row.Key, row.Count, row.Observed, count, len(authors))
			}
		}
	}
	c.stop()
}

// awaitFacetsWritten waits until every bucket of the posts is closed (the
// closers' watermark is in a snapshot), two snapshots after it, and no
// facet's record waits for the budget any more (within budgetWait).
func awaitFacetsWritten(t *testing.T, snaps *snapshots, c *counter, budgetWait time.Duration) {
	t.Helper()
	closed := facetStart.Add(20 * time.Minute)
	systest.Await(t, "a snapshot at the closers' watermark", time.Minute, func() bool {
		last, _ := snaps.last()
		return last.Watermark != nil && !last.Watermark.Before(closed)
	})
	last, _ := snaps.last()
	snaps.waitBatch(t, last.Batch+2, time.Minute, c)
	c.waitMetric("hashtrend_counter_facets_waiting", func(v float64) bool { return v == 0 }, budgetWait)
}
