package trend

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/services/counter/internal/hll"
)

var cfg = Config{Bucket: time.Minute, Lateness: time.Minute, Recent: 10 * time.Minute, Baseline: time.Hour, Min: 5}

// t0 is the start of the streams below: the baseline is [t0, t0+60m), the
// recent window [t0+60m, t0+70m).
var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

type post struct {
	tag, author string
	at          time.Time
}

// spread returns posts of tag by authors distinct authors (each posting
// perAuthor times), spread evenly over [from, from+d).
func spread(tag string, authors, perAuthor int, from time.Time, d time.Duration) []post {
	var out []post
	n := authors * perAuthor
	for i := range n {
		out = append(out, post{tag, tag + "-author-" + strconv.Itoa(i%authors), from.Add(d * time.Duration(i) / time.Duration(n))})
	}
	return out
}

// steady is a tag with the same authors' rate in every window.
func steady(tag string, perWindow int) []post {
	var out []post
	for w := range 7 {
		// New authors each window: the same number of distinct authors.
		for i := range perWindow {
			out = append(out, post{tag, fmt.Sprintf("%s-%d-%d", tag, w, i), t0.Add(time.Duration(w)*10*time.Minute + time.Duration(i)*10*time.Minute/time.Duration(perWindow))})
		}
	}
	return out
}

// filler gives the stream history over the whole horizon without trending.
func filler() []post { return steady("filler", 3) }

// run feeds posts in time order through one partition's clock into a
// tracker, one post per delta, closes the recent window with a last post
// and returns the list.
func run(t *testing.T, posts ...[]post) []Trend {
	t.Helper()
	all := slices.Concat(posts...)
	all = append(all, post{"closer", "closer", t0.Add(70*time.Minute + cfg.Lateness)})
	slices.SortStableFunc(all, func(a, b post) int { return a.at.Compare(b.at) })
	tr := NewTracker(cfg, 1)
	var k Clock
	for _, p := range all {
		b, ok := k.Admit(cfg, p.at)
		if !ok {
			continue
		}
		var sk hll.Sketch
		sk.AddString(p.author)
		tr.Add(p.tag, b, 1, &sk)
		tr.Advance(0, k.Watermark(cfg))
	}
	top, at := tr.Top(100)
	if !at.Equal(t0.Add(70 * time.Minute)) {
		t.Fatalf("list computed at %s, want the end of the recent window %s", at, t0.Add(70*time.Minute))
	}
	return top
}

func keys(ts []Trend) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Key
	}
	return out
}

func TestScores(t *testing.T) {
	recent := t0.Add(60 * time.Minute)
	cases := []struct {
		name  string
		posts [][]post
		want  []Trend // Key, Observed, Expected; Score follows
	}{
		{"a steady tag does not trend", [][]post{steady("steady", 40)}, nil},
		{"a rising tag trends", [][]post{
			spread("rising", 2, 1, t0, 60*time.Minute), // two authors in the whole baseline: 1/3 per window, so expected 1
			spread("rising", 40, 1, recent, 10*time.Minute),
		}, []Trend{{Key: "rising", Observed: 40, Expected: 1, Posts: 40}}},
		{"a tag rising over a busy baseline scores by how far it exceeds it", [][]post{
			steady("busy", 20), spread("busy", 30, 1, recent, 10*time.Minute),
		}, []Trend{{Key: "busy", Observed: 50, Expected: 20, Posts: 50}}},
		{"a tag that rose and fell does not trend", [][]post{
			spread("fell", 60, 1, t0.Add(20*time.Minute), 10*time.Minute), spread("fell", 3, 1, recent, 10*time.Minute),
		}, nil},
		{"one author flooding a new tag does not trend", [][]post{spread("flood", 1, 1000, recent, 10*time.Minute)}, nil},
		{"fifty authors of a new tag trend", [][]post{spread("crowd", 50, 20, recent, 10*time.Minute)},
			[]Trend{{Key: "crowd", Observed: 50, Expected: 1, Posts: 1000}}},
		{"ties are ordered by key", [][]post{
			spread("zeta", 12, 1, recent, 10*time.Minute), spread("alpha", 12, 1, recent, 10*time.Minute),
		}, []Trend{{Key: "alpha", Observed: 12, Expected: 1, Posts: 12}, {Key: "zeta", Observed: 12, Expected: 1, Posts: 12}}},
		{"an empty baseline expects one author", [][]post{spread("new", 9, 1, recent, 10*time.Minute)},
			[]Trend{{Key: "new", Observed: 9, Expected: 1, Posts: 9}}},
		{"fewer authors than the minimum do not trend", [][]post{spread("few", 4, 3, recent, 10*time.Minute)}, nil},
		{"posts after the recent window do not count yet", [][]post{spread("soon", 30, 1, t0.Add(70*time.Minute), time.Minute)}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := run(t, append(c.posts, filler())...)
			for i := range c.want {
				w := &c.want[i]
				d := w.Observed - w.Expected
				w.Score = d * d / w.Expected
			}
			if len(got) != len(c.want) {
				t.Fatalf("trending %v (%+v), want %v", keys(got), got, keys(c.want))
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("rank %d: %+v, want %+v", i+1, got[i], c.want[i])
				}
			}
		})
	}
}

func TestScoresBelowTheFloorAreLeftOut(t *testing.T) {
	defer func(c Config) { cfg = c }(cfg)
	cfg.MinScore = 25
	recent := t0.Add(60 * time.Minute)
	got := run(t, steady("busy", 20), spread("busy", 10, 1, recent, 10*time.Minute), // (30-20)²/20 = 5
		spread("new", 6, 1, recent, 10*time.Minute), filler()) // (6-1)²/1 = 25
	if len(got) != 1 || got[0].Key != "new" || got[0].Score != 25 {
		t.Fatalf("trending %+v, want only new with 25", got)
	}
}

func TestAStreamWithoutABaselineWindowOfHistoryHasNoList(t *testing.T) {
	tr := NewTracker(cfg, 1)
	var k Clock
	for _, p := range append(spread("early", 30, 1, t0.Add(61*time.Minute), 9*time.Minute), post{"x", "x", t0.Add(72 * time.Minute)}) {
		b, _ := k.Admit(cfg, p.at)
		var sk hll.Sketch
		sk.AddString(p.author)
		tr.Add(p.tag, b, 1, &sk)
		tr.Advance(0, k.Watermark(cfg))
	}
	if top, _ := tr.Top(10); len(top) != 0 {
		t.Fatalf("trending %v with 11 minutes of history", keys(top))
	}
}

func TestLatePostsAreAdmittedOnlyWithinTheLateness(t *testing.T) {
	cases := []struct {
		name   string
		newest time.Time // the partition's newest post so far
		at     time.Time
		want   bool
	}{
		{"the first post is never late", time.Time{}, t0, true},
		{"a post in the newest post's bucket", t0.Add(90 * time.Second), t0.Add(61 * time.Second), true},
		{"a post whose bucket ends at the watermark is late", t0.Add(3 * time.Minute), t0.Add(119 * time.Second), false},
		{"a post whose bucket ends after the watermark is not", t0.Add(3*time.Minute - time.Millisecond), t0.Add(60 * time.Second), true},
		{"an hour late", t0.Add(time.Hour), t0, false},
		{"a post from the future moves the clock", t0, t0.Add(time.Hour), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var k Clock
			if !c.newest.IsZero() {
				k.Newest = c.newest.UnixMilli()
			}
			b, ok := k.Admit(cfg, c.at)
			if ok != c.want {
				t.Fatalf("admitted %v, want %v", ok, c.want)
			}
			if want := c.at.Truncate(time.Minute).UnixMilli(); b != want {
				t.Errorf("bucket %d, want %d", b, want)
			}
			if k.Newest < c.at.UnixMilli() {
				t.Errorf("clock at %d after a post at %d", k.Newest, c.at.UnixMilli())
			}
		})
	}
}

func TestBucketsAreAlignedToTheEpochBeforeItToo(t *testing.T) {
	c := Config{Bucket: time.Minute}
	for _, tc := range []struct {
		at   time.Time
		want int64
	}{
		{time.UnixMilli(59_999), 0},
		{time.UnixMilli(60_000), 60_000},
		{time.UnixMilli(-1), -60_000},
		{time.UnixMilli(-60_000), -60_000},
	} {
		if got := c.BucketOf(tc.at); got != tc.want {
			t.Errorf("BucketOf(%d ms) = %d, want %d", tc.at.UnixMilli(), got, tc.want)
		}
	}
}

func TestTheWatermarkIsTheLowestOfEveryPartition(t *testing.T) {
	tr := NewTracker(cfg, 3)
	ms := func(d time.Duration) int64 { return t0.Add(d).UnixMilli() }
	tr.Advance(0, ms(30*time.Minute))
	tr.Advance(1, ms(20*time.Minute))
	if _, ok := tr.Watermark(); ok {
		t.Fatal("a watermark with one partition of three silent")
	}
	tr.Advance(2, ms(25*time.Minute))
	if w, ok := tr.Watermark(); !ok || !w.Equal(t0.Add(20*time.Minute)) {
		t.Fatalf("watermark %s %v, want %s", w, ok, t0.Add(20*time.Minute))
	}
	tr.Advance(1, ms(10*time.Minute)) // never back
	if w, _ := tr.Watermark(); !w.Equal(t0.Add(20 * time.Minute)) {
		t.Fatalf("watermark moved back to %s", w)
	}
	var sk hll.Sketch
	sk.AddString("a")
	tr.Add("late", t0.Add(19*time.Minute).UnixMilli(), 1, &sk)
	tr.Add("open", t0.Add(20*time.Minute).UnixMilli(), 1, &sk)
	if tr.Dropped() != 1 || tr.Len() != 1 {
		t.Fatalf("a cell of a closed bucket: dropped %d, tags %d; want 1 dropped, 1 kept", tr.Dropped(), tr.Len())
	}
}

// The same posts spread over partitions and deltas in any order give the
// same list: what a replay at another speed or a restart changes.
func TestTheListDoesNotDependOnHowTheInputWasCut(t *testing.T) {
	rnd := rand.New(rand.NewSource(7))
	var posts []post
	for range 20_000 {
		at := t0.Add(time.Duration(rnd.Int63n(int64(75 * time.Minute))))
		tag := "t" + strconv.Itoa(int(math.Pow(rnd.Float64(), 3)*40))
		if at.After(t0.Add(62*time.Minute)) && rnd.Intn(4) == 0 {
			tag = "rise" + strconv.Itoa(rnd.Intn(3))
		}
		posts = append(posts, post{tag, "a" + strconv.Itoa(rnd.Intn(3000)), at})
	}
	slices.SortFunc(posts, func(a, b post) int { return a.at.Compare(b.at) })
	// Four partitions; each keeps its own order (Kafka's guarantee) and is
	// cut into deltas of random size, interleaved at random.
	lists := make([]map[time.Time][]Trend, 0, 3)
	for trial := range 3 {
		r := rand.New(rand.NewSource(int64(trial)))
		parts := make([][]post, 4)
		for i, p := range posts {
			parts[i%4] = append(parts[i%4], p)
		}
		tr := NewTracker(cfg, 4)
		clocks := make([]Clock, 4)
		got := map[time.Time][]Trend{}
		for {
			live := []int{}
			for i, p := range parts {
				if len(p) > 0 {
					live = append(live, i)
				}
			}
			if len(live) == 0 {
				break
			}
			i := live[r.Intn(len(live))]
			n := min(len(parts[i]), 1+r.Intn(500))
			cells := map[string]*Cell{}
			for _, p := range parts[i][:n] {
				b, ok := clocks[i].Admit(cfg, p.at)
				if !ok {
					continue
				}
				k := p.tag + "/" + strconv.FormatInt(b, 10)
				c := cells[k]
				if c == nil {
					c = &Cell{Bucket: b}
					cells[k] = c
				}
				c.Posts++
				c.Authors.AddString(p.author)
			}
			for k, c := range cells {
				tr.Add(k[:len(k)-len(strconv.FormatInt(c.Bucket, 10))-1], c.Bucket, c.Posts, &c.Authors)
			}
			tr.Advance(int32(i), clocks[i].Watermark(cfg))
			parts[i] = parts[i][n:]
			if top, at := tr.Top(10); !at.IsZero() {
				got[at] = slices.Clone(top)
			}
		}
		lists = append(lists, got)
	}
	// Every bucket end that two cuts both published has the same list,
	// and the last one (the end of the input) is published by all.
	var end time.Time
	for at := range lists[0] {
		if at.After(end) {
			end = at
		}
	}
	if len(lists[0][end]) == 0 {
		t.Fatalf("nothing trends at %s: the test shows nothing", end)
	}
	for i := 1; i < len(lists); i++ {
		common := 0
		for at, l := range lists[i] {
			if l0, ok := lists[0][at]; ok {
				common++
				if !slices.Equal(l, l0) {
					t.Errorf("cut %d at %s: %v\ncut 0: %v", i, at, keys(l), keys(l0))
				}
			}
		}
		if _, ok := lists[i][end]; !ok || common < 2 {
			t.Fatalf("cut %d: %d bucket ends in common with cut 0, the last one %v", i, common, ok)
		}
	}
	t.Logf("trending at %s: %v", end.Format(time.TimeOnly), keys(lists[0][end]))
}

func TestBucketsBeyondTheHorizonAreDropped(t *testing.T) {
	tr := NewTracker(cfg, 1)
	var sk hll.Sketch
	sk.AddString("a")
	for m := range 24 * 60 {
		at := t0.Add(time.Duration(m) * time.Minute)
		for tag := range 5 {
			tr.Add("tag"+strconv.Itoa((m+tag)%50), at.UnixMilli(), 1, &sk)
		}
		tr.Advance(0, at.UnixMilli())
	}
	// 70 buckets in the horizon plus the open one, 5 tags each.
	if got, limit := tr.Cells(), 5*(70+2); got > limit {
		t.Fatalf("%d cells after a day, want at most %d", got, limit)
	}
}

// The memory of one tag-bucket holding one author, measured on the heap.
func TestMemoryPerTagBucket(t *testing.T) {
	const tags, buckets = 50_000, 4
	bytes := measure(tags, buckets)
	t.Logf("%.0f bytes per tag-bucket (%d tags × %d buckets)", bytes, tags, buckets)
	if bytes > 200 {
		t.Fatalf("%.0f bytes per tag-bucket", bytes)
	}
}

func measure(tags, buckets int) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tr := NewTracker(cfg, 1)
	for b := range buckets {
		at := t0.Add(time.Duration(b) * time.Minute).UnixMilli()
		for i := range tags {
			var sk hll.Sketch
			sk.AddString("author" + strconv.Itoa(i))
			tr.Add("tag"+strconv.Itoa(i), at, 1, &sk)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(tr)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(tags*buckets)
}

// BenchmarkMemory reports the heap per tag-bucket at 1,000,000 distinct
// tags in the horizon (make counter-bench).
func BenchmarkMemory(b *testing.B) {
	for b.Loop() {
		b.ReportMetric(measure(1_000_000, 2), "B/tag-bucket")
	}
}
