package rank

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/services/counter/internal/cells"
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
	"github.com/hashtrend/hashtrend/services/counter/internal/hll"
	"github.com/hashtrend/hashtrend/services/counter/internal/metrics"
	"github.com/hashtrend/hashtrend/services/counter/internal/state"
	"github.com/hashtrend/hashtrend/services/counter/internal/trend"
)

// The trending definition of the lifecycle tests: a 15-minute horizon and
// a 20-minute half-life, so that a burst stays listed, cooling, for about
// an hour: longer than the deltas a rebuild reads.
var (
	lifeCfg = trend.Config{Bucket: time.Minute, Recent: 5 * time.Minute, Baseline: 10 * time.Minute, Min: 3, MinScore: 10}
	lifeLC  = trend.LifecycleConfig{HalfLife: 20 * time.Minute}
)

// lifeStage is a stage with the lifecycle tests' settings, trending per
// facet on, for its views.
func lifeStage() *Stage {
	return &Stage{cfg: Config{Trending: &lifeCfg, Lifecycle: lifeLC, TopN: 10,
		Facets: &Facets{PostTime: lifeCfg, Languages: 5, Trending: true}}, m: metrics.New(prometheus.NewRegistry())}
}

// lifeDeltas is 110 minutes of posts of two input partitions, cut into
// deltas of one to three minutes of one partition each (a watermark that
// closes several buckets at once, as a fast replay's): a steady crowd in
// every cell; "alpha" bursting in English on Mastodon at minutes 30 to
// 37 and then gone; "beta" rising on Mastodon from minute 50 and on
// Bluesky from minute 58, in English; "gamma" rising in Japanese on
// Bluesky from minute 75.
func lifeDeltas(seed uint64) []delta.Delta {
	r := rand.New(rand.NewPCG(seed, 1))
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).UnixMilli()
	type key struct{ tag, cell string }
	type minute = map[key]*delta.Bucket
	// by partition and minute
	posts := [2][110]minute{}
	add := func(m int, tag string, c facet.Cell, author string) {
		p := r.IntN(2)
		if posts[p][m] == nil {
			posts[p][m] = minute{}
		}
		k := key{tag, c.String()}
		b := posts[p][m][k]
		if b == nil {
			b = &delta.Bucket{Start: t0 + int64(m)*60_000, Cell: k.cell}
			posts[p][m][k] = b
		}
		b.N++
		b.Authors.AddString(author)
		if b.Heavy == nil {
			h := trend.NewHeavy(trend.DefaultCounters)
			b.Heavy = &h
		}
		b.Heavy.Add(hll.Hash(author), 1)
	}
	networks, langs := []string{"bluesky", "mastodon", "x"}, []string{"en", "ja", "de"}
	for m := range 110 {
		for i := range 40 {
			c := facet.Cell{Network: networks[r.IntN(3)], Language: langs[r.IntN(3)]}
			add(m, fmt.Sprintf("steady%d", i%5), c, fmt.Sprintf("crowd%d", r.IntN(200)))
		}
		rise := func(tag string, c facet.Cell, from, to, per int) {
			if m >= from && m < to {
				for i := range per * min(m-from+1, 4) {
					add(m, tag, c, fmt.Sprintf("%s-%s-%d-%d", tag, c.Network, m, i))
				}
			}
		}
		rise("alpha", facet.Cell{Network: "mastodon", Language: "en"}, 30, 37, 6)
		rise("beta", facet.Cell{Network: "mastodon", Language: "en"}, 50, 110, 2)
		rise("beta", facet.Cell{Network: "bluesky", Language: "en"}, 58, 110, 2)
		rise("gamma", facet.Cell{Network: "bluesky", Language: "ja"}, 75, 110, 3)
	}
	var out []delta.Delta
	for p := range 2 {
		for m := 0; m < 110; {
			n := 1 + r.IntN(3)
			d := delta.Delta{BucketMillis: 60_000}
			counts := map[string]*delta.Count{}
			for j := m; j < min(m+n, 110); j++ {
				for _, k := range slices.SortedFunc(maps.Keys(posts[p][j]), func(a, b key) int {
					return cmp.Or(cmp.Compare(a.tag, b.tag), cmp.Compare(a.cell, b.cell))
				}) {
					c := counts[k.tag]
					if c == nil {
						c = &delta.Count{Key: k.tag}
						counts[k.tag] = c
					}
					b := posts[p][j][k]
					c.N += b.N
					c.Buckets = append(c.Buckets, *b)
				}
			}
			for _, k := range slices.Sorted(maps.Keys(counts)) {
				d.Counts = append(d.Counts, *counts[k])
			}
			m = min(m+n, 110)
			d.Watermarks = []delta.Watermark{{Partition: int32(p), At: t0 + int64(m)*60_000}}
			out = append(out, d)
		}
	}
	// The partitions' deltas interleaved by their watermarks, as tally
	// instances write them.
	slices.SortStableFunc(out, func(a, b delta.Delta) int { return cmp.Compare(a.Watermarks[0].At, b.Watermarks[0].At) })
	return out
}

// lifeLists is every list of v: the global one under all, each facet's
// (every language has a facet of its own) by name.
func lifeLists(v view) map[string][]snapshot.Trend {
	out := map[string][]snapshot.Trend{}
	g, _ := rows(v.tr, 10, v.facets.networks(""))
	out[facet.All] = g
	lists, _ := v.facets.lists([]string{"de", "en", "ja"}, 10)
	for n, l := range lists {
		out[n.String()] = l
	}
	return out
}

// checkpointRecords are the state records of v's lifecycle checkpoints,
// read back as a restore reads them.
func checkpointRecords(t *testing.T, v view) map[facet.Name][]byte {
	t.Helper()
	recs, err := v.checkpoints(nil)
	if err != nil {
		t.Fatal(err)
	}
	tb := NewTable()
	for _, r := range recs {
		rec, err := state.DecodeRecord([]byte(r.key), r.value)
		if err != nil {
			t.Fatal(err)
		}
		if err := tb.Restore(rec); err != nil {
			t.Fatal(err)
		}
	}
	return tb.TakeLifecycles()
}

func describe(l []snapshot.Trend) string {
	var b strings.Builder
	for _, r := range l {
		fmt.Fprintf(&b, "%s(%s", r.Key, r.Status)
		if r.Since != nil {
			fmt.Fprintf(&b, " since %s peak %.1f at %s", r.Since.Format("15:04"), r.Peak, r.PeakAt.Format("15:04"))
		}
		fmt.Fprintf(&b, " score %.1f decayed %.1f) ", r.Score, r.Decayed)
	}
	return b.String()
}

// TestALifecycleRestoredFromItsCheckpointGoesOnAsTheUninterruptedOne
// crashes at several deltas: the lifecycles checkpointed there (read back
// through the state records) and attached to a view rebuilt from the
// deltas retained (the horizon, the recent window and a few buckets
// before the checkpoint) give every list, episode and reason (with the
// authors summaries) of the uninterrupted run after every later delta.
// So does a warm standby's view, which took an earlier checkpoint before
// its first delta and takes the later one a few deltas before the
// offset it was written at. A rebuild without the checkpoints does not:
// alpha's episode began before the deltas retained.
func TestALifecycleRestoredFromItsCheckpointGoesOnAsTheUninterruptedOne(t *testing.T) {
	s := lifeStage()
	deltas := lifeDeltas(7)
	v := s.newView(2)
	want := make([]map[string][]snapshot.Trend, len(deltas))
	for i, d := range deltas {
		v.add(d)
		want[i] = lifeLists(v)
	}
	keep := (lifeCfg.Horizon() + lifeCfg.Recent + 3*lifeCfg.Bucket).Milliseconds()
	// checkpoint is the owner's lifecycle records after delta i, and the
	// first delta a retention that keeps keep before them holds.
	checkpoint := func(i int) (map[facet.Name][]byte, int, view) {
		owner := s.newView(2)
		for _, d := range deltas[:i+1] {
			owner.add(d)
		}
		at := owner.tr.Closed().UnixMilli()
		from := 0
		for deltas[from].Watermarks[0].At < at-keep {
			from++
		}
		return checkpointRecords(t, owner), from, owner
	}
	same := func(name string, v view, i, j int) {
		t.Helper()
		got := lifeLists(v)
		if reflect.DeepEqual(got, want[j]) {
			return
		}
		for f := range want[j] {
			if !reflect.DeepEqual(got[f], want[j][f]) {
				t.Errorf("%s: %s\n  %s\nuninterrupted:\n  %s", name, f, describe(got[f]), describe(want[j][f]))
			}
		}
		t.Fatalf("crash after delta %d, %s view, after delta %d: the lists differ", i, name, j)
	}
	older, covered, crashes := 0, 0, 0
	for i := len(deltas) / 2; i < len(deltas)-10; i += 9 {
		crashes++
		recs, from, owner := checkpoint(i)
		first := time.UnixMilli(deltas[from].Counts[0].Buckets[0].Start)
		for _, r := range want[i][facet.All] {
			if r.Since != nil && r.Since.Before(first) {
				older++
			}
			if r.Reason != nil && r.Reason.Covered > 0 {
				covered++
			}
		}

		rebuilt := s.newView(2)
		written, err := rebuilt.restore(recs)
		if err != nil {
			t.Fatal(err)
		}
		if len(written) != len(owner.facets.trackers)+1 {
			t.Fatalf("%d lifecycles restored, the owner has %d trackers", len(written), len(owner.facets.trackers)+1)
		}
		for j := from; j < len(deltas); j++ {
			rebuilt.add(deltas[j])
			if j >= i {
				same("rebuilt", rebuilt, i, j)
			}
		}

		// The warm standby: started from the checkpoint after delta i-8,
		// it takes the one after delta i when it has added delta i-3.
		early, from0, _ := checkpoint(i - 8)
		warm := s.newView(2)
		if _, err := warm.restore(early); err != nil {
			t.Fatal(err)
		}
		for j := from0; j < len(deltas); j++ {
			warm.add(deltas[j])
			if j == i-3 {
				if _, err := warm.restore(recs); err != nil {
					t.Fatal(err)
				}
			}
			// Between the two its lifecycles are ahead of its buckets,
			// as a standby's are until it has caught up; it publishes
			// nothing then.
			if j >= i-8 && (j < i-3 || j >= i) {
				same("warm", warm, i, j)
			}
		}

		// Without the checkpoints the rebuilt lifecycles start over.
		bare := s.newView(2)
		for _, d := range deltas[from : i+1] {
			bare.add(d)
		}
		if reflect.DeepEqual(lifeLists(bare), want[i]) && older > 0 {
			t.Fatalf("crash after delta %d: a rebuild without the checkpoints has the same lists", i)
		}
	}
	if older == 0 || covered == 0 || crashes < 4 {
		t.Fatalf("%d crashes, %d rows since before the deltas retained, %d with details: the test shows nothing", crashes, older, covered)
	}
	t.Logf("%d crashes, %d global rows whose episode began before the deltas retained, %d with details", crashes, older, covered)
}

// TestATagSaysWhereItStartedFirst: beta rises on Mastodon 8 minutes
// before Bluesky; its row in the global list says so, with the since of
// its episodes in source:mastodon and source:bluesky.
func TestATagSaysWhereItStartedFirst(t *testing.T) {
	s := lifeStage()
	v := s.newView(2)
	seen := false
	for _, d := range lifeDeltas(8) {
		v.add(d)
		l := lifeLists(v)
		since := func(facet string) *time.Time {
			for _, r := range l[facet] {
				if r.Key == "beta" {
					return r.Since
				}
			}
			return nil
		}
		for _, r := range l[facet.All] {
			if r.Key != "beta" {
				continue
			}
			var want []snapshot.Start
			for _, n := range []string{"bluesky", "mastodon", "x"} {
				if s := since("source:" + n); s != nil {
					want = append(want, snapshot.Start{Network: n, Since: *s})
				}
			}
			slices.SortFunc(want, func(a, b snapshot.Start) int { return a.Since.Compare(b.Since) })
			if !reflect.DeepEqual(r.Reason.Started, want) {
				t.Fatalf("at %s beta started %+v, the networks' lists say %+v", v.tr.Closed().Format("15:04"), r.Reason.Started, want)
			}
			if len(want) == 2 {
				seen = true
				if want[0].Network != "mastodon" || want[1].Since.Sub(want[0].Since) < 5*time.Minute {
					t.Fatalf("beta started %+v, want on mastodon minutes before bluesky", want)
				}
			}
		}
	}
	if !seen {
		t.Fatal("beta never trended on both networks: the test shows nothing")
	}
}

// TestTheBaselineBuildsUntilTwoRecentWindowsAfterTheFirstBucket: the
// snapshot says until when the list cannot exist, the end at which one
// baseline window of history lies before the recent window, and stops
// saying so there.
func TestTheBaselineBuildsUntilTwoRecentWindowsAfterTheFirstBucket(t *testing.T) {
	s := lifeStage()
	v := s.newView(2)
	a := &active{view: v}
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	until := t0.Add(2 * lifeCfg.Recent)
	if _, _, b := s.trending(a, NewTable()); b != nil {
		t.Fatalf("baseline until %s before any post", b)
	}
	for _, d := range lifeDeltas(9) {
		v.add(d)
		_, w, b := s.trending(a, NewTable())
		closed := v.tr.Closed()
		switch {
		case closed.Before(until) && (b == nil || !b.Equal(until)):
			t.Fatalf("watermark %s: baseline until %v, want %s", closed, b, until)
		case !closed.Before(until) && b != nil:
			t.Fatalf("watermark %s: baseline until %s, after it", closed, b)
		case w != nil && !w.Equal(closed):
			t.Fatalf("watermark %s in the snapshot, the buckets are closed to %s", w, closed)
		}
		// The scores exist from there on: a rising tag could trend.
		if top, _ := v.tr.Top(10); len(top) > 0 && closed.Before(until) {
			t.Fatalf("a list at %s, before %s", closed, until)
		}
	}
}

// TestADetailIsTheBucketsSummaryByItsCell: the reason's input from a
// bucket is its authors summary, its posts in its cell's network and
// language, or by cell for a bucket of every cell; none without a
// summary.
func TestADetailIsTheBucketsSummaryByItsCell(t *testing.T) {
	h := trend.NewHeavy(4)
	for i, a := range []uint64{1, 1, 1, 2, 3} {
		h.Add(a, int64(1+i%2))
	}
	byCell := cells.Of(map[string]int64{"bluesky/ja": 5, "x/en": 2})
	for _, tt := range []struct {
		name string
		b    delta.Bucket
		want map[trend.Origin]int64
	}{
		{"a bucket of one cell", delta.Bucket{N: 7, Cell: "bluesky/ja", Heavy: &h}, map[trend.Origin]int64{{Source: "bluesky", Lang: "ja"}: 7}},
		{"a bucket of every cell with its posts by cell", delta.Bucket{N: 7, Cells: byCell, Heavy: &h},
			map[trend.Origin]int64{{Source: "bluesky", Lang: "ja"}: 5, {Source: "x", Lang: "en"}: 2}},
		{"a bucket that says nothing of its cells", delta.Bucket{N: 7, Heavy: &h}, nil},
	} {
		d, ok := detailOf(&tt.b)
		if !ok || d.Authors.N() != 7 || !maps.Equal(d.Origins, tt.want) {
			t.Fatalf("%s: detail %+v, %v, want origins %v", tt.name, d, ok, tt.want)
		}
	}
	empty := trend.NewHeavy(4)
	for _, b := range []delta.Bucket{{N: 3, Cell: "x/en"}, {N: 0, Cell: "x/en", Heavy: &empty}} {
		if d, ok := detailOf(&b); ok {
			t.Fatalf("a detail %+v from a bucket without a summary of posts", d)
		}
	}
}
