package main_test

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
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
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
	"github.com/hashtrend/hashtrend/services/counter/internal/hll"
)

// The trending definition of these tests: the default bucket, lateness,
// recent window, minimum and score floor, and a 30-minute baseline, so
// that 50 minutes of post time hold a full horizon.
const (
	trendBucket = time.Minute
	trendRecent = 10 * time.Minute
	trendMin    = 5
)

var trendingEnv = []string{
	"COUNTER_TRENDING_BUCKET=1m", "COUNTER_TRENDING_LATENESS=1m", "COUNTER_TRENDING_RECENT=10m",
	"COUNTER_TRENDING_BASELINE=30m", "COUNTER_TRENDING_MIN=5", "COUNTER_TRENDING_MIN_SCORE=25",
}

var trendStart = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// risingStream is minutes of synthetic post time, 20 posts a second, with
// the generator's rising tags (four at a time, one replaced every four
// minutes), and the time each rising tag's key began to rise.
func risingStream(seed int64, minutes int) ([]post.Post, map[string]time.Time) {
	g := synthetic.New(synthetic.Config{Seed: seed, Start: trendStart, Interval: 50 * time.Millisecond, Rising: 4, DriftEvery: 4800})
	rose := map[string]time.Time{}
	posts := make([]post.Post, 0, minutes*1200)
	for range minutes * 1200 {
		p := g.Next()
		for _, r := range g.Rising() {
			if k := hashtag.Key(r); rose[k].IsZero() {
				rose[k] = p.CreatedAt
			}
		}
		posts = append(posts, p)
	}
	return posts, rose
}

// withStragglers moves every 97th post three minutes back in time where it
// stands in the stream: posts that arrive late (past the lateness).
func withStragglers(posts []post.Post) []post.Post {
	for i := 50; i < len(posts); i += 97 {
		posts[i].CreatedAt = posts[i].CreatedAt.Add(-3 * time.Minute)
	}
	return posts
}

// burst is n posts of tag spread over [from, from+d) by authors authors.
func burst(tag string, n, authors int, from time.Time, d time.Duration) []post.Post {
	out := make([]post.Post, n)
	for i := range out {
		out[i] = post.Post{ID: tag + "-" + strconv.Itoa(i), Source: "synthetic", CreatedAt: from.Add(d * time.Duration(i) / time.Duration(n)),
			Text: "look #" + tag, Author: tag + "-author-" + strconv.Itoa(i%authors)}
	}
	return out
}

// trendLists are a run's trending lists by watermark. Every snapshot with
// the same watermark must carry the same list (sameLists): closed buckets
// never change.
func trendLists(t *testing.T, snaps []snapshot.Snapshot) (map[time.Time][]snapshot.Trend, []time.Time) {
	t.Helper()
	lists := map[time.Time][]snapshot.Trend{}
	var order []time.Time
	for _, s := range snaps {
		if s.Watermark == nil {
			continue
		}
		at := s.Watermark.UTC()
		if prev, ok := lists[at]; ok {
			if !sameLists(prev, s.Trending) {
				t.Fatalf("batch %d: watermark %s with another list than before:%s", s.Batch, at, rowDiff(s.Trending, prev))
			}
			continue
		}
		if len(order) > 0 && at.Before(order[len(order)-1]) {
			t.Fatalf("batch %d: watermark %s before the previous %s", s.Batch, at, order[len(order)-1])
		}
		lists[at] = s.Trending
		order = append(order, at)
	}
	return lists, order
}

// oracle computes what the trending columns must say, exactly, from the
// input: posts per author, and per language, of a key per bucket.
type oracle struct {
	first   time.Time
	authors map[string]map[time.Time]map[string]int64
	langs   map[string]map[time.Time]map[string]int64
}

func newOracle(posts []post.Post) *oracle {
	o := &oracle{authors: map[string]map[time.Time]map[string]int64{}, langs: map[string]map[time.Time]map[string]int64{}}
	for _, p := range posts {
		b := p.CreatedAt.Truncate(trendBucket)
		for _, tg := range hashtag.Of(p) {
			if o.first.IsZero() || b.Before(o.first) {
				o.first = b
			}
			if o.authors[tg.Key] == nil {
				o.authors[tg.Key], o.langs[tg.Key] = map[time.Time]map[string]int64{}, map[time.Time]map[string]int64{}
			}
			if o.authors[tg.Key][b] == nil {
				o.authors[tg.Key][b], o.langs[tg.Key][b] = map[string]int64{}, map[string]int64{}
			}
			o.authors[tg.Key][b][p.Author]++
			o.langs[tg.Key][b][facet.Language(p.Lang)]++
		}
	}
	return o
}

// posts is key's posts per author and per language in [from, to).
func (o *oracle) posts(key string, from, to time.Time) (byAuthor, byLang map[string]int64) {
	byAuthor, byLang = map[string]int64{}, map[string]int64{}
	for b := from; b.Before(to); b = b.Add(trendBucket) {
		for a, n := range o.authors[key][b] {
			byAuthor[a] += n
		}
		for l, n := range o.langs[key][b] {
			byLang[l] += n
		}
	}
	return byAuthor, byLang
}

// window is key's distinct authors and posts in [from, to).
func (o *oracle) window(key string, from, to time.Time) (int, int64) {
	byAuthor, _ := o.posts(key, from, to)
	n := int64(0)
	for _, k := range byAuthor {
		n += k
	}
	return len(byAuthor), n
}

// checkReason compares a row's reason with the input: the authors of each
// bucket of the recent window; and over the buckets its details cover,
// the posts, their languages and network (all of one), and the top five
// authors' share, which the estimate may exceed by its error at most.
func (o *oracle) checkReason(t *testing.T, at time.Time, r snapshot.Trend) int {
	t.Helper()
	why := r.Reason
	if why == nil {
		t.Errorf("at %s #%s: no reason", at.Format(time.TimeOnly), r.Key)
		return 0
	}
	near := func(got, want float64) bool { return math.Abs(got-want) <= max(1, 0.05*want) }
	if len(why.Authors) != int(trendRecent/trendBucket) {
		t.Errorf("at %s #%s: %d buckets of authors", at.Format(time.TimeOnly), r.Key, len(why.Authors))
		return 0
	}
	for i, got := range why.Authors {
		from := at.Add(-trendRecent + time.Duration(i)*trendBucket)
		if want, _ := o.window(r.Key, from, from.Add(trendBucket)); !near(float64(got), float64(want)) {
			t.Errorf("at %s #%s: %d authors in the bucket of %s, the input has %d", at.Format(time.TimeOnly), r.Key, got, from.Format(time.TimeOnly), want)
		}
	}
	if why.Covered == 0 || why.From == nil {
		return 0
	}
	byAuthor, byLang := o.posts(r.Key, *why.From, at)
	covered := int64(0)
	var counts []int64
	for _, n := range byAuthor {
		covered += n
		counts = append(counts, n)
	}
	slices.SortFunc(counts, func(a, b int64) int { return cmp.Compare(b, a) })
	top := int64(0)
	for _, n := range counts[:min(5, len(counts))] {
		top += n
	}
	share := float64(top) / float64(max(covered, 1))
	var langs []snapshot.Share
	for l, n := range byLang {
		langs = append(langs, snapshot.Share{Name: l, Posts: n})
	}
	slices.SortFunc(langs, func(a, b snapshot.Share) int {
		return cmp.Or(cmp.Compare(b.Posts, a.Posts), cmp.Compare(a.Name, b.Name))
	})
	sources := []snapshot.Share{{Name: "other", Posts: covered}}
	if why.Covered != covered || !slices.Equal(why.Langs, langs) || !slices.Equal(why.Sources, sources) ||
		share > why.TopAuthorsShare+1e-9 || share < why.TopAuthorsShare-why.TopAuthorsShareError-1e-9 {
		t.Errorf("at %s #%s since %s: covered %d, langs %v, sources %v, top share %v (error %v); the input has %d, %v, %v, %v",
			at.Format(time.TimeOnly), r.Key, why.From.Format(time.TimeOnly), why.Covered, why.Langs, why.Sources, why.TopAuthorsShare,
			why.TopAuthorsShareError, covered, langs, sources, share)
	}
	return 1
}

// check compares one row of the list at watermark at with the input.
func (o *oracle) check(t *testing.T, at time.Time, r snapshot.Trend, baselineWindows int) {
	t.Helper()
	observed, posts := o.window(r.Key, at.Add(-trendRecent), at)
	sum, usable := 0, 0
	for j := range baselineWindows {
		end := at.Add(-trendRecent * time.Duration(j+1))
		if end.Add(-trendRecent).Before(o.first) {
			break
		}
		a, _ := o.window(r.Key, end.Add(-trendRecent), end)
		sum += a
		usable++
	}
	expected := max(1, float64(sum)/float64(usable))
	near := func(got, want float64) bool { return math.Abs(got-want) <= max(1, 0.05*want) }
	if r.Count != posts || !near(r.Observed, float64(observed)) || !near(r.Expected, expected) {
		t.Errorf("at %s #%s: posts %d, observed %v, expected %v; the input has %d posts, %d authors, expected %.2f",
			at.Format(time.TimeOnly), r.Key, r.Count, r.Observed, r.Expected, posts, observed, expected)
	}
	// Listed: it scores at least the floor, or its peak decayed does; a
	// score needs the fewest authors; the episode is before the
	// watermark, its peak the highest score so far, decayed by the
	// default half-life from when it was reached; a tag at a new peak is
	// rising, one below 3/4 of it cooling.
	listed := r.Observed >= trendMin && r.Score >= 25 || r.Decayed >= 25
	if !listed || r.Score > 0 && r.Observed < trendMin {
		t.Errorf("at %s #%s: score %v, decayed %v with %v authors in the list", at.Format(time.TimeOnly), r.Key, r.Score, r.Decayed, r.Observed)
	}
	if r.Since == nil || r.PeakAt == nil || r.Since.After(*r.PeakAt) || r.PeakAt.After(at) || r.Score > r.Peak {
		t.Fatalf("at %s #%s: since %v, peak %v at %v, score %v", at.Format(time.TimeOnly), r.Key, r.Since, r.Peak, r.PeakAt, r.Score)
	}
	decayed := r.Peak * math.Exp2(-at.Sub(*r.PeakAt).Hours())
	status := snapshot.Peaking
	switch {
	case r.PeakAt.Equal(at):
		status = snapshot.Rising
	case r.Score < 0.75*r.Peak:
		status = snapshot.Cooling
	}
	if math.Abs(r.Decayed-decayed) > 1e-9*decayed || r.Status != status {
		t.Errorf("at %s #%s: %s, decayed %v; its peak %v at %s says %s, %v", at.Format(time.TimeOnly), r.Key, r.Status, r.Decayed,
			r.Peak, r.PeakAt.Format(time.TimeOnly), status, decayed)
	}
}

// sameLists tells whether two trending lists at one watermark are
// alike: every row the same, lifecycle and reason included, but its
// display spelling, which is the running totals' most frequent one when
// the snapshot was made, and the top authors' share, which is an estimate
// from summaries merged in the order the posts were cut into deltas (a
// Misra–Gries merge depends on it, unlike the author sketch's): two runs'
// need only bound the same true share, each being at most its error
// above it.
func sameLists(a, b []snapshot.Trend) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		ra, rb := a[i], b[i]
		ra.Hashtag, rb.Hashtag = "", ""
		if ra.Reason != nil && rb.Reason != nil {
			x, y := *ra.Reason, *rb.Reason
			if max(x.TopAuthorsShare-x.TopAuthorsShareError, y.TopAuthorsShare-y.TopAuthorsShareError) > min(x.TopAuthorsShare, y.TopAuthorsShare)+1e-9 {
				return false
			}
			x.TopAuthorsShare, x.TopAuthorsShareError, y.TopAuthorsShare, y.TopAuthorsShareError = 0, 0, 0, 0
			ra.Reason, rb.Reason = &x, &y
		}
		if !reflect.DeepEqual(ra, rb) {
			return false
		}
	}
	return true
}

// rowDiff is the rows of two lists that differ, as JSON, for a message.
func rowDiff(a, b []snapshot.Trend) string {
	var out strings.Builder
	for i := range max(len(a), len(b)) {
		var ra, rb snapshot.Trend
		if i < len(a) {
			ra = a[i]
		}
		if i < len(b) {
			rb = b[i]
		}
		if !reflect.DeepEqual(ra, rb) {
			ja, _ := json.Marshal(ra)
			jb, _ := json.Marshal(rb)
			fmt.Fprintf(&out, "\n    row %d: %s\n        vs %s", i+1, ja, jb)
		}
	}
	return out.String()
}

// rowsOf describes a trending list with the lifecycles, for a message.
func rowsOf(l []snapshot.Trend) string {
	var b strings.Builder
	for _, r := range l {
		fmt.Fprintf(&b, "%s(%s %.1f", r.Key, r.Status, r.Score)
		if r.Since != nil {
			fmt.Fprintf(&b, " since %s peak %.1f at %s", r.Since.Format(time.TimeOnly), r.Peak, r.PeakAt.Format(time.TimeOnly))
		}
		b.WriteString(") ")
	}
	return b.String()
}

func keysOf(l []snapshot.Trend) []string {
	out := make([]string, len(l))
	for i, r := range l {
		out[i] = r.Key
	}
	return out
}

// TestTrendingFindsTheRisingTagsNotTheSteadyHead runs 50 minutes of post
// time with the generator's rising tags through the counter: each tag that
// begins to rise trends within one recent window, the head of the Zipf
// distribution never does, nor a new tag posted 1,000 times by one author;
// the same 1,000 posts by 50 authors do. Every row of every list says what
// the input says (posts exactly, authors and expectation within the
// sketch's error).
func TestTrendingFindsTheRisingTagsNotTheSteadyHead(t *testing.T) {
	p := newPipeline(t, 6)
	posts, rose := risingStream(21, 50)
	flood := burst("floodtrend", 1000, 1, trendStart.Add(30*time.Minute), 5*time.Minute)
	crowd := burst("crowdtrend", 1000, 50, trendStart.Add(30*time.Minute), 5*time.Minute)
	posts = append(append(posts, flood...), crowd...)
	slices.SortStableFunc(posts, func(a, b post.Post) int { return a.CreatedAt.Compare(b.CreatedAt) })
	keys, values := encoded(t, posts)
	snaps := follow(t, p)
	c := start(t, p, "trend", trendingEnv...)
	// About half a minute of post time per batch, so that most buckets
	// close in a snapshot of their own.
	wait(t, feed(p.brokers, p.tweets, keys, values, 600, 200*time.Millisecond), 4*time.Minute)
	snaps.waitPosts(t, int64(len(posts)), 4*time.Minute, c)
	c.stop()

	lists, order := trendLists(t, snaps.list())
	if len(order) < 10 {
		t.Fatalf("trending lists at %d watermarks, want at least 10: %v", len(order), order)
	}
	final := order[len(order)-1]
	if final.Before(trendStart.Add(47 * time.Minute)) {
		t.Fatalf("the last watermark is %s, the input runs to %s", final, posts[len(posts)-1].CreatedAt)
	}
	o := newOracle(posts)
	in := map[string][]time.Time{} // key → watermarks at which it trends
	explained := 0
	for _, at := range order {
		for _, r := range lists[at] {
			in[r.Key] = append(in[r.Key], at)
			o.check(t, at, r, 3)
			explained += o.checkReason(t, at, r)
		}
	}
	if explained == 0 {
		t.Error("no row's reason covers any post: the authors summaries did not reach rank")
	}

	// Rising tags that began after the first 20 minutes (the warm-up of a
	// 10-minute window over one baseline window), early enough for a
	// whole recent window before the end.
	checked := 0
	for k, began := range rose {
		if began.Before(trendStart.Add(20*time.Minute)) || began.Add(trendRecent).After(final) {
			continue
		}
		checked++
		ok := slices.ContainsFunc(in[k], func(at time.Time) bool { return at.After(began) && !at.After(began.Add(trendRecent)) })
		if !ok {
			t.Errorf("#%s began to rise at %s and did not trend by %s (trending at %v)", k, began.Format(time.TimeOnly),
				began.Add(trendRecent).Format(time.TimeOnly), in[k])
		}
	}
	if checked < 3 {
		t.Fatalf("only %d rising tags to check", checked)
	}

	// The head: the ten most used keys that never rose.
	counts := map[string]int64{}
	for _, p := range posts {
		for _, tg := range hashtag.Of(p) {
			counts[tg.Key]++
		}
	}
	var head []string
	for k := range counts {
		if rose[k].IsZero() && k != "crowdtrend" && k != "floodtrend" {
			head = append(head, k)
		}
	}
	slices.SortFunc(head, func(a, b string) int { return int(counts[b] - counts[a]) })
	for _, k := range head[:10] {
		if len(in[k]) > 0 {
			t.Errorf("#%s (%d posts, steady) trends at %v", k, counts[k], in[k])
		}
	}
	if len(in["floodtrend"]) > 0 {
		t.Errorf("1,000 posts by one author trend at %v", in["floodtrend"])
	}
	if len(in["crowdtrend"]) == 0 {
		t.Errorf("1,000 posts by 50 authors never trend")
	}
	t.Logf("%d watermarks; %d rising tags checked; %d reasons checked; at %s: %v", len(order), checked, explained, final.Format(time.TimeOnly), keysOf(lists[final]))
}

// cells folds a run's deltas into each key's posts and author sketch per
// bucket, and counts the late posts.
func cells(t *testing.T, p pipeline) (map[string]string, int64) {
	t.Helper()
	type cell struct {
		n  int64
		sk hll.Sketch
	}
	all := map[string]*cell{}
	late := int64(0)
	for _, m := range kafkatest.ReadAllFrom(t, p.brokers, p.deltas, 60*time.Second) {
		d, err := delta.Decode(m.Value)
		if err != nil {
			t.Fatalf("deltas@%d: %v", m.TopicPartition.Offset, err)
		}
		late += d.Late
		for _, c := range d.Counts {
			for i := range c.Buckets {
				b := &c.Buckets[i]
				k := c.Key + "@" + strconv.FormatInt(b.Start, 10)
				if all[k] == nil {
					all[k] = &cell{}
				}
				all[k].n += b.N
				all[k].sk.Merge(&b.Authors)
			}
		}
	}
	out := make(map[string]string, len(all))
	for k, c := range all {
		b, _ := c.sk.MarshalText()
		out[k] = fmt.Sprintf("%d %s", c.n, b)
	}
	return out, late
}

// sameTrending checks that two runs of one input hold the same buckets and
// publish the same list wherever both published one for a watermark, at
// least minCommon of them, the last one included.
func sameTrending(t *testing.T, a, b pipeline, sa, sb *snapshots, minCommon int) {
	t.Helper()
	ca, la := cells(t, a)
	cb, lb := cells(t, b)
	if len(ca) == 0 {
		t.Fatal("no trending buckets in the deltas")
	}
	diff := 0
	for k, v := range ca {
		if cb[k] != v {
			if diff++; diff <= 5 {
				t.Errorf("bucket %s: %.60s in one run, %.60s in the other", k, v, cb[k])
			}
		}
	}
	if diff > 0 || len(ca) != len(cb) || la != lb || la == 0 {
		t.Fatalf("%d of %d tag-buckets differ (%d in the other run); late posts %d and %d", diff, len(ca), len(cb), la, lb)
	}
	listsA, orderA := trendLists(t, sa.list())
	listsB, orderB := trendLists(t, sb.list())
	common, explained := 0, 0
	for _, at := range orderA {
		lb, ok := listsB[at]
		if !ok {
			continue
		}
		common++
		for _, r := range lb {
			if r.Reason != nil && r.Reason.Covered > 0 {
				explained++
			}
		}
		if !sameLists(listsA[at], lb) {
			t.Errorf("at %s: %s", at.Format(time.TimeOnly), rowDiff(listsA[at], lb))
		}
	}
	if len(orderA) == 0 || len(orderB) == 0 || orderA[len(orderA)-1] != orderB[len(orderB)-1] || common < minCommon || explained == 0 {
		t.Fatalf("watermarks %v and %v: %d in common, the last one not, or no reason with details (%d)", orderA, orderB, common, explained)
	}
	last := orderA[len(orderA)-1]
	if len(listsA[last]) == 0 {
		t.Fatalf("nothing trends at the last watermark %s: the comparison shows nothing", last)
	}
	t.Logf("%d tag-buckets, %d late posts alike; %d of %d and %d watermarks in common; at %s: %v",
		len(ca), la, common, len(orderA), len(orderB), last.Format(time.TimeOnly), keysOf(listsA[last]))
}

// TestTrendingIsTheSameAfterACrash runs one input through two counters;
// one is killed with SIGKILL mid-run and restarted. Both hold the same
// buckets, and publish the same trending list for every watermark both
// published.
func TestTrendingIsTheSameAfterACrash(t *testing.T) {
	posts, _ := risingStream(23, 40)
	posts = withStragglers(posts)
	a, b := newPipeline(t, 3), newPipeline(t, 3)
	keys, values := encoded(t, posts)
	sa, sb := follow(t, a), follow(t, b)
	fedA := feed(a.brokers, a.tweets, keys, values, 1000, 100*time.Millisecond)
	fedB := feed(b.brokers, b.tweets, keys, values, 1000, 100*time.Millisecond)
	ca := start(t, a, "steady", trendingEnv...)
	cb := start(t, b, "crash", trendingEnv...)
	cb.waitCommitted("rank", 6, 2*time.Minute)
	time.Sleep(time.Duration(rand.Int64N(1000)) * time.Millisecond) // somewhere mid-window
	cb.Kill()
	if last, _ := sb.last(); last.Posts >= int64(len(posts)) {
		t.Fatalf("killed after counting all %d posts: not mid-run", last.Posts)
	}
	cb = start(t, b, "crash", trendingEnv...)
	wait(t, fedA, 3*time.Minute)
	wait(t, fedB, 3*time.Minute)
	sa.waitPosts(t, int64(len(posts)), 4*time.Minute, ca)
	sb.waitPosts(t, int64(len(posts)), 4*time.Minute, cb)
	ca.stop()
	cb.stop()
	// The restarted counter's buckets come from its warm standby's copy,
	// caught up to the restored totals: the same list as the steady one
	// shows that copy is exact.
	if !strings.Contains(cb.Output(), "trending buckets caught up from the warm standby") {
		t.Fatal("the restarted counter did not catch its trending buckets up from its warm standby")
	}
	sameTrending(t, a, b, sa, sb, 2)
}

// ingestBinary builds the ingest service for a test that replays a
// recording through it.
func ingestBinary(t *testing.T) string {
	t.Helper()
	bin, remove, err := systest.Build("../ingest", "ingest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(remove)
	return bin
}

// recording writes posts as a Twitter v1.1 stream recording.
func recording(t *testing.T, path string, posts []post.Post) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	type tags struct {
		Hashtags []struct {
			Text string `json:"text"`
		} `json:"hashtags"`
	}
	type tweet struct {
		IDStr       string `json:"id_str"`
		TimestampMS string `json:"timestamp_ms"`
		Text        string `json:"text"`
		Lang        string `json:"lang,omitempty"`
		User        any    `json:"user"`
		Entities    *tags  `json:"entities,omitempty"`
		Retweeted   *tweet `json:"retweeted_status,omitempty"`
	}
	of := func(p post.Post, id, author string) *tweet {
		tw := &tweet{IDStr: id, TimestampMS: strconv.FormatInt(p.CreatedAt.UnixMilli(), 10), Text: p.Text, Lang: p.Lang,
			User: map[string]string{"screen_name": author}}
		if p.Hashtags != nil {
			tw.Entities = &tags{}
			for _, h := range p.Hashtags {
				tw.Entities.Hashtags = append(tw.Entities.Hashtags, struct {
					Text string `json:"text"`
				}{h})
			}
		}
		return tw
	}
	for _, p := range posts {
		tw := of(p, p.ID, p.Author)
		if p.RetweetOf != "" {
			tw.Retweeted = of(p, p.RetweetOf, "original")
		}
		b, err := json.Marshal(tw)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(append(b, '\n'))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// replay runs ingest over the recording into p's tweets topic until it
// has read the whole file.
func replay(t *testing.T, bin string, p pipeline, path string, env ...string) *exec.Cmd {
	t.Helper()
	positions := kafkatest.Name(t, "positions")
	kafkatest.DeleteAfter(t, positions)
	cmd := exec.Command(bin)
	cmd.Env = append(append(os.Environ(), "KAFKA_BROKERS="+p.brokers, "TOPIC_TWEETS="+p.tweets, "TOPIC_POSITIONS="+positions,
		"INGEST_TRANSACTIONAL_ID="+positions, "INGEST_OPS_ADDR=off", "INGEST_SOURCE=file", "INGEST_FILES="+path), env...)
	var out systest.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("ingest %s:\n%s", filepath.Base(path), out.String())
		}
	})
	return cmd
}

// TestTrendingIsTheSameAtAnyReplaySpeed replays one recording of 32
// minutes of post time through ingest at 60 times its pace and as fast as
// possible, each into its own counter: the same buckets, the same list for
// every watermark both published.
func TestTrendingIsTheSameAtAnyReplaySpeed(t *testing.T) {
	posts, _ := risingStream(22, 32)
	posts = withStragglers(posts)
	dir := t.TempDir()
	// Two copies: each replay is its own source.
	paths := []string{filepath.Join(dir, "slow.jsonl"), filepath.Join(dir, "fast.jsonl")}
	for _, path := range paths {
		recording(t, path, posts)
	}
	slow, fast := newPipeline(t, 6), newPipeline(t, 6)
	ss, sf := follow(t, slow), follow(t, fast)
	cs := start(t, slow, "slow", trendingEnv...)
	cf := start(t, fast, "fast", trendingEnv...)
	// Both counters read and publish before the first post: a fast replay
	// ends within a second, and a counter still joining its groups then
	// would take all of it into one window and publish one watermark,
	// leaving nothing to compare.
	for _, c := range []*counter{cs, cf} {
		c.waitLog("msg=\"partitions assigned\"", 1, 2*time.Minute)
		c.waitPhase(2*time.Minute, "active")
	}
	bin := ingestBinary(t)
	replay(t, bin, slow, paths[0], "INGEST_SPEED=60")
	replay(t, bin, fast, paths[1])
	ss.waitPosts(t, int64(len(posts)), 4*time.Minute, cs)
	sf.waitPosts(t, int64(len(posts)), 4*time.Minute, cf)
	cs.stop()
	cf.stop()
	// On a busy machine the fast replay may be read in one window, and
	// publish one watermark, the last: its list alone is then compared.
	// That still compares the whole run, since each row's lifecycle (since,
	// peak and when) is made of the scores at every bucket end before it.
	sameTrending(t, slow, fast, ss, sf, 1)
}
