package trend

import (
	"fmt"
	"maps"
	"math"
	"math/rand"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/services/counter/internal/hll"
)

// rpost is a post with where it came from.
type rpost struct {
	tag, author, source, lang string
	at                        time.Time
}

func (p rpost) hash() uint64 { return hll.Hash(p.source + "\x00" + p.author) }

// tdelta is what one tally window carries for the trending view: the
// cells and details of some posts of one partition, and that partition's
// watermark after them.
type tdelta struct {
	part  int32
	mark  int64
	cells []tcell
}

type tcell struct {
	key     string
	bucket  int64
	posts   int64
	authors hll.Sketch
	detail  Detail
}

// cut splits posts (in time order) over parts partitions, each keeping its
// order, and cuts them into deltas of random size interleaved at random,
// as tally instances reading at their own pace would: what a replay at
// another speed changes.
func cut(c Config, posts []rpost, parts int, seed int64, most int) []tdelta {
	r := rand.New(rand.NewSource(seed))
	queues := make([][]rpost, parts)
	for i, p := range posts {
		queues[i%parts] = append(queues[i%parts], p)
	}
	clocks := make([]Clock, parts)
	var out []tdelta
	for {
		var live []int
		for i, q := range queues {
			if len(q) > 0 {
				live = append(live, i)
			}
		}
		if len(live) == 0 {
			return out
		}
		i := live[r.Intn(len(live))]
		n := min(len(queues[i]), 1+r.Intn(most))
		cells := map[string]*tcell{}
		var order []string
		for _, p := range queues[i][:n] {
			b, ok := clocks[i].Admit(c, p.at)
			if !ok {
				continue
			}
			k := p.tag + "\x00" + strconv.FormatInt(b, 10)
			x := cells[k]
			if x == nil {
				x = &tcell{key: p.tag, bucket: b}
				cells[k] = x
				order = append(order, k)
			}
			x.posts++
			x.authors.Add(p.hash())
			x.detail.Add(p.hash(), Origin{p.source, p.lang})
		}
		d := tdelta{part: int32(i), mark: clocks[i].Watermark(c)}
		for _, k := range order {
			d.cells = append(d.cells, *cells[k])
		}
		out = append(out, d)
		queues[i] = queues[i][n:]
	}
}

// apply adds d to tr as rank's addTrend would, the details beside the
// cells.
func apply(tr *Tracker, d tdelta) {
	for i := range d.cells {
		c := &d.cells[i]
		tr.Add(c.key, c.bucket, c.posts, &c.authors)
		tr.AddDetail(c.key, c.bucket, &c.detail)
	}
	tr.Advance(d.part, d.mark)
}

// lifeStream is 150 minutes of posts: a background of 30 tags by 3,000
// authors, five tags that rise (one of them twice, one only in Japanese on
// Mastodon), and an account flooding a tag of its own. Each author has one
// network and language.
func lifeStream(seed int64) []rpost {
	r := rand.New(rand.NewSource(seed))
	nets, langs := []string{"bluesky", "mastodon", "x"}, []string{"en", "de", "ja"}
	who := func(a int) (string, string) { return nets[a%3], langs[(a/3)%3] }
	var out []rpost
	add := func(tag string, a int, at time.Time) {
		n, l := who(a)
		out = append(out, rpost{tag, "a" + strconv.Itoa(a), n, l, at})
	}
	for range 18_000 {
		add("t"+strconv.Itoa(int(math.Pow(r.Float64(), 3)*30)), r.Intn(3000), t0.Add(time.Duration(r.Int63n(int64(150*time.Minute)))))
	}
	burst := func(tag string, from, minutes, perMinute int, pick func() int) {
		for m := range minutes {
			for i := range perMinute {
				add(tag, pick(), t0.Add(time.Duration(from+m)*time.Minute+time.Duration(i)*time.Minute/time.Duration(perMinute)))
			}
		}
	}
	anyone := func() int { return 3000 + r.Intn(5000) }
	burst("rise0", 72, 6, 12, anyone)
	burst("rise0", 120, 5, 14, anyone) // rises twice
	burst("rise1", 80, 8, 8, anyone)
	burst("rise2", 95, 4, 20, anyone)
	burst("rise3", 105, 10, 5, anyone)
	burst("ja", 88, 8, 10, func() int { return 3000 + 9*r.Intn(500) + 7 }) // mastodon, ja
	burst("flood", 60, 80, 40, func() int { return 99_999 })
	slices.SortStableFunc(out, func(a, b rpost) int { return a.at.Compare(b.at) })
	return out
}

// lifeCfg is lcfg with a short half-life, so that episodes end within the
// stream.
var lifeLC = LifecycleConfig{HalfLife: 5 * time.Minute, Peaking: 0.75}

func newLifeTracker(parts int) *Tracker {
	tr := NewTracker(lcfg, parts)
	tr.Attach(NewLifecycle(lcfg, lifeLC), NewReasons(DefaultCounters))
	return tr
}

// state is what a tracker shows at its lifecycle's bucket end: the
// lifecycle encoded and the listed tags' reasons.
type state struct {
	life    string
	reasons map[string]Reason
}

func stateOf(t *testing.T, tr *Tracker) state {
	t.Helper()
	b, err := tr.Lifecycle().Encode()
	if err != nil {
		t.Fatal(err)
	}
	s := state{life: string(b), reasons: map[string]Reason{}}
	list, _ := tr.Trending(1000)
	for _, e := range list {
		r, ok := tr.Reason(e.Key)
		if !ok {
			t.Fatalf("no reason for listed %s", e.Key)
		}
		s.reasons[e.Key] = r
	}
	return s
}

// same compares two states; exact says the reasons' summaries were fed
// the same details in the same order (else their bounds may differ).
func same(a, b state, exact bool) error {
	if a.life != b.life {
		return fmt.Errorf("lifecycles differ:\n%s\n%s", a.life, b.life)
	}
	for k, ra := range a.reasons {
		rb := b.reasons[k]
		if !exact {
			ra.TopShareLow, ra.TopShareHigh, rb.TopShareLow, rb.TopShareHigh = 0, 0, 0, 0
		}
		if fmt.Sprint(ra) != fmt.Sprint(rb) {
			return fmt.Errorf("reason of %s:\n%+v\n%+v", k, ra, rb)
		}
	}
	return nil
}

// The same posts cut into deltas in other ways give the same lifecycle at
// every bucket end, and the same reasons but for where the summaries'
// bounds fall.
func TestTheLifecycleDoesNotDependOnHowTheInputWasCut(t *testing.T) {
	posts := lifeStream(7)
	var runs []map[int64]state
	statuses := map[string]map[Status]bool{}
	for trial := range 3 {
		tr := newLifeTracker(4)
		got := map[int64]state{}
		last := int64(0)
		for _, d := range cut(lcfg, posts, 4, int64(trial), 1+trial*400) {
			apply(tr, d)
			if l := tr.Lifecycle(); l.at != last {
				last = l.at
				got[l.at] = stateOf(t, tr)
				for _, e := range l.List(100) {
					if statuses[e.Key] == nil {
						statuses[e.Key] = map[Status]bool{}
					}
					statuses[e.Key][e.Status] = true
				}
			}
		}
		runs = append(runs, got)
	}
	common := 0
	for at, s0 := range runs[0] {
		for i := 1; i < len(runs); i++ {
			if s, ok := runs[i][at]; ok {
				common++
				if err := same(s0, s, false); err != nil {
					t.Fatalf("cut %d at %s: %v", i, time.UnixMilli(at).UTC().Format(time.TimeOnly), err)
				}
			}
		}
	}
	// The stream shows something: tags that went through every status,
	// and bucket ends in common.
	full := 0
	for _, s := range statuses {
		if len(s) == 3 {
			full++
		}
	}
	if common < 50 || full == 0 {
		t.Fatalf("%d bucket ends in common, %d tags through every status (%v)", common, full, statuses)
	}
	if _, ok := statuses["flood"]; ok {
		t.Fatal("the flooding account's tag trended")
	}
}

// A crash at any bucket end, a restore of the lifecycle from its
// checkpoint and a rebuild of the buckets from the deltas retained give
// the same lifecycles and reasons from then on as the uninterrupted run.
func TestARestoredLifecycleGoesOnAsTheUninterruptedOne(t *testing.T) {
	posts := lifeStream(11)
	deltas := cut(lcfg, posts, 3, 5, 300)
	// The uninterrupted run's state after each delta, and the first delta
	// after which each bucket end was reached.
	tr := newLifeTracker(3)
	want := make([]state, len(deltas))
	firstAt := map[int64]int{}
	for i, d := range deltas {
		apply(tr, d)
		want[i] = stateOf(t, tr)
		if at := tr.Lifecycle().at; at != 0 {
			if _, ok := firstAt[at]; !ok {
				firstAt[at] = i
			}
		}
	}
	// The deltas retained reach back the horizon, the recent window and
	// a few buckets of lateness before the checkpoint.
	keep := (lcfg.Horizon() + lcfg.Recent + 3*lcfg.Bucket).Milliseconds()
	// Crashes at every other bucket end reached once enough is retained.
	var crashes []int64
	for _, at := range slices.Sorted(maps.Keys(firstAt)) {
		if at-keep > end(10) {
			crashes = append(crashes, at)
		}
	}
	ended, tried := 0, 0
	for n, at := range crashes {
		if n%2 != 0 {
			continue
		}
		tried++
		i, m := firstAt[at], time.UnixMilli(at).UTC().Format(time.TimeOnly)
		// The owner's checkpoint after delta i.
		owner := newLifeTracker(3)
		for _, d := range deltas[:i+1] {
			apply(owner, d)
		}
		b, err := owner.Lifecycle().Encode()
		if err != nil {
			t.Fatal(err)
		}
		ended += len(owner.Lifecycle().ended)
		l, err := DecodeLifecycle(b, lcfg, lifeLC)
		if err != nil {
			t.Fatal(err)
		}
		// The new owner: the lifecycle restored, the buckets rebuilt from
		// the deltas retained, then on with the stream.
		from := 0
		for from < i && deltas[from].mark < at-keep {
			from++
		}
		if from == 0 {
			t.Fatalf("at %s: the retained deltas reach back to the start; the test shows nothing", m)
		}
		next := NewTracker(lcfg, 3)
		next.Attach(l, NewReasons(DefaultCounters))
		for _, d := range deltas[from : i+1] {
			apply(next, d)
		}
		for j := i; j < len(deltas); j++ {
			if j > i {
				apply(next, deltas[j])
			}
			if err := same(stateOf(t, next), want[j], true); err != nil {
				t.Fatalf("restored at %s, after delta %d (%s): %v", m, j, next.Lifecycle().At().Format(time.TimeOnly), err)
			}
		}
	}
	if ended == 0 || tried < 5 {
		t.Fatalf("%d crashes, %d ended episodes in their checkpoints: the test shows less than it should", tried, ended)
	}
	t.Logf("%d crashes from %s, %d ended episodes in their checkpoints", tried, time.UnixMilli(crashes[0]).UTC().Format(time.TimeOnly), ended)
}

func TestAReasonSaysWhyByHand(t *testing.T) {
	// Minutes 60–69 (the recent window at minute 70): the tag "why" by 8
	// authors, one of whom ("flood") posts 4 times a minute; the others
	// once in some minutes. A filler tag gives history.
	recent := t0.Add(60 * time.Minute)
	nets := map[string]string{"flood": "x", "b": "bluesky", "c": "bluesky", "d": "mastodon"}
	langs := map[string]string{"flood": "en", "b": "ja", "c": "en", "d": "de"}
	var posts []rpost
	for w := range 7 {
		for i := range 3 {
			posts = append(posts, rpost{"filler", fmt.Sprintf("f%d-%d", w, i), "x", "en", t0.Add(time.Duration(w*10+i*3) * time.Minute)})
		}
	}
	authors := []string{"flood", "b", "c", "d", "e", "f", "g", "h"}
	perMinute := map[int][]string{}
	for m := range 10 {
		perMinute[m] = []string{"flood", "flood", "flood", "flood"}
		for i, a := range authors[1:] {
			if (m+i)%3 == 0 {
				perMinute[m] = append(perMinute[m], a)
			}
		}
	}
	for m := range 10 {
		for i, a := range perMinute[m] {
			n, l := nets[a], langs[a]
			if n == "" {
				n, l = "mastodon", "en"
			}
			posts = append(posts, rpost{"why", a, n, l, recent.Add(time.Duration(m)*time.Minute + time.Duration(i)*time.Second)})
		}
	}
	posts = append(posts, rpost{"closer", "z", "x", "en", t0.Add(70*time.Minute + lcfg.Lateness)})
	slices.SortStableFunc(posts, func(a, b rpost) int { return a.at.Compare(b.at) })

	// Min 1: the tag is a candidate from its first minute (two authors
	// against an expectation of 1), so its details cover the window.
	cfg := lcfg
	cfg.MinScore, cfg.Min = 0, 1
	tr := NewTracker(cfg, 1)
	tr.Attach(NewLifecycle(cfg, LifecycleConfig{}), NewReasons(DefaultCounters))
	for _, d := range cut(cfg, posts, 1, 1, 1) { // one post per delta
		apply(tr, d)
	}
	if _, at := tr.Trending(10); !at.Equal(t0.Add(70 * time.Minute)) {
		t.Fatalf("the list is at %s, want minute 70", at)
	}
	got, ok := tr.Reason("why")
	if !ok {
		t.Fatal("no reason for why")
	}
	// By hand, from the posts above.
	var want Reason
	distinct := map[string]bool{}
	count := map[string]int64{}
	sources, langsOf := map[string]int64{}, map[string]int64{}
	want.Authors = make([]int64, 10)
	for m := range 10 {
		seen := map[string]bool{}
		for _, a := range perMinute[m] {
			distinct[a] = true
			seen[a] = true
			count[a]++
			n, l := nets[a], langs[a]
			if n == "" {
				n, l = "mastodon", "en"
			}
			sources[n]++
			langsOf[l]++
		}
		want.Authors[m] = int64(len(seen))
	}
	for _, n := range count {
		want.Posts += n
	}
	want.Observed, want.Expected = float64(len(distinct)), 1
	want.PostsPerAuthor = float64(want.Posts) / want.Observed
	top := slices.SortedFunc(maps.Values(count), func(a, b int64) int { return int(b - a) })[:TopAuthors]
	share := 0.0
	for _, n := range top {
		share += float64(n)
	}
	share /= float64(want.Posts)
	if got.Observed != want.Observed || got.Expected != want.Expected || got.Posts != want.Posts ||
		got.PostsPerAuthor != want.PostsPerAuthor || !slices.Equal(got.Authors, want.Authors) {
		t.Fatalf("reason %+v\nwant %+v", got, want)
	}
	if got.Covered != want.Posts || !got.From.Equal(recent) {
		t.Fatalf("details cover %d posts from %s, want all %d from %s", got.Covered, got.From, want.Posts, recent)
	}
	if got.TopShareLow != share || got.TopShareHigh != share {
		t.Fatalf("top-%d share [%g, %g], want exactly %g with %d authors", TopAuthors, got.TopShareLow, got.TopShareHigh, share, len(distinct))
	}
	for _, c := range []struct {
		name string
		got  []Share
		want map[string]int64
	}{{"sources", got.Sources, sources}, {"languages", got.Langs, langsOf}} {
		if len(c.got) != len(c.want) {
			t.Fatalf("%s %+v, want %v", c.name, c.got, c.want)
		}
		for i, s := range c.got {
			if s.Posts != c.want[s.Name] || i > 0 && (s.Posts > c.got[i-1].Posts || s.Posts == c.got[i-1].Posts && s.Name < c.got[i-1].Name) {
				t.Fatalf("%s %+v, want %v, most first", c.name, c.got, c.want)
			}
		}
	}
}

func TestACandidatesDetailsBeginWhenItBecomesOne(t *testing.T) {
	// "late" is posted by one author once a minute from minute 50 (no
	// score: one author), and by 10 more a minute from minute 62: it
	// scores from minute 63 (the bucket end after its first busy minute),
	// so its details begin with minute 62's bucket.
	var posts []rpost
	for w := range 7 {
		for i := range 3 {
			posts = append(posts, rpost{"filler", fmt.Sprintf("f%d-%d", w, i), "x", "en", t0.Add(time.Duration(w*10+i*3) * time.Minute)})
		}
	}
	var inWindow, covered int64
	for m := 50; m < 70; m++ {
		authors := []string{"lone"}
		if m >= 62 {
			for i := range 10 {
				authors = append(authors, fmt.Sprintf("l%d-%d", m, i))
			}
		}
		for i, a := range authors {
			posts = append(posts, rpost{"late", a, "bluesky", "en", t0.Add(time.Duration(m)*time.Minute + time.Duration(i)*time.Second)})
			if m >= 60 {
				inWindow++
			}
			if m >= 62 {
				covered++
			}
		}
	}
	posts = append(posts, rpost{"closer", "z", "x", "en", t0.Add(70*time.Minute + lcfg.Lateness)})
	slices.SortStableFunc(posts, func(a, b rpost) int { return a.at.Compare(b.at) })
	tr := NewTracker(lcfg, 1)
	r := NewReasons(DefaultCounters)
	tr.Attach(nil, r) // reasons without a lifecycle: candidates by score alone
	for _, d := range cut(lcfg, posts, 1, 1, 50) {
		apply(tr, d)
	}
	got, ok := tr.Reason("late")
	if !ok || !got.From.Equal(t0.Add(62*time.Minute)) || got.Covered != covered || got.Posts != inWindow {
		t.Fatalf("reason %+v, want details from minute 62 covering %d of %d posts", got, covered, inWindow)
	}
	if r.Candidates() != 1 {
		t.Fatalf("%d candidates, want late alone", r.Candidates())
	}
	if _, ok := tr.Reason("nothing"); ok {
		t.Fatal("a reason for a tag never seen")
	}
}

func TestDetailsMergeWithoutSharing(t *testing.T) {
	var a, b Detail
	a.Add(1, Origin{"x", "en"})
	b.Add(1, Origin{"x", "en"})
	b.Add(2, Origin{"bluesky", "ja"})
	var sum Detail
	sum.Merge(&a)
	sum.Merge(&b)
	b.Add(3, Origin{"bluesky", "ja"})
	b.Origins[Origin{"x", "en"}] = 100
	if sum.Authors.N() != 3 || sum.Origins[Origin{"x", "en"}] != 2 || sum.Origins[Origin{"bluesky", "ja"}] != 1 {
		t.Fatalf("merged %+v", sum)
	}
	if low, _ := sum.Authors.Count(1); low != 2 {
		t.Fatalf("author 1 counted %d, want 2", low)
	}
}

// The tracker's list with a lifecycle is Top's list at every bucket end
// the lifecycle enters a tag at: a tag enters as soon as Top lists it.
func TestATagEntersTheLifecycleWhenTopListsIt(t *testing.T) {
	posts := lifeStream(3)
	tr := newLifeTracker(2)
	checked := 0
	for _, d := range cut(lcfg, posts, 2, 9, 200) {
		apply(tr, d)
		top, at := tr.Top(1000)
		if at.IsZero() {
			continue
		}
		list, lat := tr.Trending(1000)
		if !lat.Equal(at) {
			t.Fatalf("lifecycle at %s, top at %s", lat, at)
		}
		in := map[string]Entry{}
		for _, e := range list {
			in[e.Key] = e
		}
		for _, x := range top {
			e, ok := in[x.Key]
			if !ok || e.Trend != x {
				t.Fatalf("at %s: %s in top (%+v) but listed %v as %+v", at.Format(time.TimeOnly), x.Key, x, ok, e)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("nothing listed: the test shows nothing")
	}
}

// A tag listed with no score of its own (its decayed peak holds it) is a
// candidate by being listed; if it then leaves while scoring a little,
// a restore just after must know it was listed, or its details would
// begin later than in the uninterrupted run.
func TestARestoreKnowsWhoWasListedBeforeTheCheckpoint(t *testing.T) {
	// x: 20 new authors in each of minutes 60 and 61 (listed from minute
	// 61, its peak at 62), none after until 3 in minute 72 and 7 in
	// minute 73. With a half-life of 2 minutes it is listed at 72 and 73
	// on its decayed peak alone (scoring 0) and leaves at 74, scoring
	// above 0 (10 authors against a baseline that now holds its burst)
	// but below the floor.
	var posts []rpost
	for w := range 8 {
		for i := range 3 {
			posts = append(posts, rpost{"filler", fmt.Sprintf("f%d-%d", w, i), "x", "en", t0.Add(time.Duration(w*10+i*3) * time.Minute)})
		}
	}
	for _, c := range []struct{ minute, authors int }{{60, 20}, {61, 20}, {72, 3}, {73, 7}} {
		for i := range c.authors {
			posts = append(posts, rpost{"x", fmt.Sprintf("x%d-%d", c.minute, i), "mastodon", "de", t0.Add(time.Duration(c.minute)*time.Minute + time.Duration(i)*time.Second)})
		}
	}
	for m := 73; m <= 76; m++ { // a watermark at every minute
		posts = append(posts, rpost{"tick", "z", "x", "en", t0.Add(time.Duration(m)*time.Minute + lcfg.Lateness)})
	}
	slices.SortStableFunc(posts, func(a, b rpost) int { return a.at.Compare(b.at) })
	deltas := cut(lcfg, posts, 1, 1, 1)
	lc := LifecycleConfig{HalfLife: 2 * time.Minute}

	tr := NewTracker(lcfg, 1)
	tr.Attach(NewLifecycle(lcfg, lc), NewReasons(DefaultCounters))
	for _, d := range deltas {
		apply(tr, d)
	}
	l := tr.Lifecycle()
	if !l.At().Equal(t0.Add(76 * time.Minute)) {
		t.Fatalf("the run ends at %s", l.At())
	}
	// The case is the one described: listed on its peak alone, then gone
	// while scoring.
	e72, _ := lifecycleAt(t, deltas, lc, 72)
	e74, ok74 := lifecycleAt(t, deltas, lc, 74)
	if e72.Score != 0 || !l.MemberAt("x", end(72)) || ok74 || e74.Score <= 0 || len(l.ended) != 1 {
		t.Fatalf("x at 72: %+v; at 74: %+v, listed %v; ended %+v", e72, e74, ok74, l.ended)
	}
	want, ok := tr.Reason("x")
	if !ok || want.Covered != 10 || !want.From.Equal(t0.Add(66*time.Minute)) {
		t.Fatalf("uninterrupted reason of x: %+v", want)
	}
	b, _ := l.Encode()
	restored, err := DecodeLifecycle(b, lcfg, lc)
	if err != nil {
		t.Fatal(err)
	}
	next := NewTracker(lcfg, 1)
	next.Attach(restored, NewReasons(DefaultCounters))
	for _, d := range deltas {
		apply(next, d)
	}
	if got, _ := next.Reason("x"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("restored reason of x:\n%+v\nwant\n%+v", got, want)
	}
}

// lifecycleAt is x's row in a run of deltas stopped once bucket end
// minute m is stepped.
func lifecycleAt(t *testing.T, deltas []tdelta, lc LifecycleConfig, m int) (Entry, bool) {
	t.Helper()
	tr := NewTracker(lcfg, 1)
	tr.Attach(NewLifecycle(lcfg, lc), nil)
	for _, d := range deltas {
		apply(tr, d)
		if tr.Lifecycle().at == end(m) {
			e, ok := tr.Lifecycle().Get("x")
			if !ok {
				e = Entry{Trend: tr.figures("x", tr.tags["x"], end(m), tr.usable(end(m)), &hll.Sketch{})}
			}
			return e, ok
		}
	}
	t.Fatalf("minute %d never stepped alone", m)
	return Entry{}, false
}

// Each facet's details merged from the parts a delta would carry are
// those made from the facet's posts directly: exact while the facet's
// authors fit the summary, within its bounds past it.
func TestAFacetsDetailsAreTheMergeOfItsParts(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	nets, langs := []string{"bluesky", "mastodon", "x"}, []string{"en", "ja", "de"}
	type post struct {
		author uint64
		o      Origin
	}
	for _, c := range []struct {
		name    string
		authors int
	}{{"a tag with few authors", 20}, {"a tag with more authors than counters", 2000}} {
		t.Run(c.name, func(t *testing.T) {
			var posts []post
			for range 3000 {
				a := uint64(math.Pow(r.Float64(), 2) * float64(c.authors))
				posts = append(posts, post{a*0x9E3779B97F4A7C15 + 1, Origin{nets[a%3], langs[(a/3)%3]}})
			}
			// The parts, as tally would fill them.
			byOrigin := map[Origin]*Heavy{}
			for _, p := range posts {
				if byOrigin[p.o] == nil {
					h := NewHeavy(DefaultCounters)
					byOrigin[p.o] = &h
				}
				byOrigin[p.o].Add(p.author, 1)
			}
			var parts []Part
			for _, o := range slices.SortedFunc(maps.Keys(byOrigin), func(a, b Origin) int {
				return strings.Compare(a.Source+"/"+a.Lang, b.Source+"/"+b.Lang)
			}) {
				parts = append(parts, Part{o, *byOrigin[o]})
			}
			facets := []struct {
				name string
				in   func(Origin) bool
			}{
				{"all", nil},
				{"source:bluesky", func(o Origin) bool { return o.Source == "bluesky" }},
				{"lang:ja", func(o Origin) bool { return o.Lang == "ja" }},
				{"source:bluesky/lang:ja", func(o Origin) bool { return o == Origin{"bluesky", "ja"} }},
				{"source:twitter", func(o Origin) bool { return o.Source == "twitter" }},
			}
			for _, f := range facets {
				got, ok := DetailOf(parts, f.in, DefaultCounters)
				truth := exact{}
				origins := map[Origin]int64{}
				for _, p := range posts {
					if f.in == nil || f.in(p.o) {
						truth[p.author]++
						origins[p.o]++
					}
				}
				if ok != (len(truth) > 0) || !maps.Equal(got.Origins, origins) && len(origins) > 0 {
					t.Fatalf("%s: %v, origins %v; want %v", f.name, ok, got.Origins, origins)
				}
				if !ok {
					continue
				}
				checkBounds(t, f.name, &got.Authors, truth)
				if len(truth) <= DefaultCounters && got.Authors.Err() != 0 {
					t.Fatalf("%s: %d authors, Err %d", f.name, len(truth), got.Authors.Err())
				}
			}
		})
	}
}
