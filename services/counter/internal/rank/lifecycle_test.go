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
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
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
// through the state records), attached to a view rebuilt from the deltas
// retained (the horizon, the recent window and a few buckets before the
// checkpoint), or to a warm standby's view that has added fewer deltas
// with lifecycles of its own, give every list, episode and reason of the
// uninterrupted run after every later delta. A rebuild without the
// checkpoints does not: alpha's episode began before the deltas retained.
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
	older, crashes := 0, 0
	for i := len(deltas) / 2; i < len(deltas)-10; i += 9 {
		crashes++
		owner := s.newView(2)
		for _, d := range deltas[:i+1] {
			owner.add(d)
		}
		recs := checkpointRecords(t, owner)
		at := owner.tr.Closed().UnixMilli()
		from := 0
		for deltas[from].Watermarks[0].At < at-keep {
			from++
		}
		first := time.UnixMilli(deltas[from].Counts[0].Buckets[0].Start)
		for _, r := range want[i][facet.All] {
			if r.Since != nil && r.Since.Before(first) {
				older++
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
		// A standby that has added some deltas before it read the
		// checkpoint, from the same retained ones.
		warm := s.newView(2)
		k := from + (i-from)/2
		for _, d := range deltas[from:k] {
			warm.add(d)
		}
		if _, err := warm.restore(recs); err != nil {
			t.Fatal(err)
		}
		for j := from; j < len(deltas); j++ {
			rebuilt.add(deltas[j])
			if j >= k {
				warm.add(deltas[j])
			}
			if j < i {
				continue
			}
			for name, v := range map[string]view{"rebuilt": rebuilt, "warm": warm} {
				got := lifeLists(v)
				if !reflect.DeepEqual(got, want[j]) {
					for f := range want[j] {
						if !reflect.DeepEqual(got[f], want[j][f]) {
							t.Errorf("%s: %s\n  %s\nuninterrupted:\n  %s", name, f, describe(got[f]), describe(want[j][f]))
						}
					}
					t.Fatalf("crash after delta %d, %s view, after delta %d: the lists differ", i, name, j)
				}
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
	if older == 0 || crashes < 4 {
		t.Fatalf("%d crashes, %d rows since before the deltas retained: the test shows nothing", crashes, older)
	}
	t.Logf("%d crashes, %d global rows whose episode began before the deltas retained", crashes, older)
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
// language; none without a summary.
func TestADetailIsTheBucketsSummaryByItsCell(t *testing.T) {
	h := trend.NewHeavy(4)
	for i, a := range []uint64{1, 1, 1, 2, 3} {
		h.Add(a, int64(1+i%2))
	}
	d, ok := detailFrom(&h, "bluesky/ja")
	if !ok || d.Authors.N() != 7 || !maps.Equal(d.Origins, map[trend.Origin]int64{{Source: "bluesky", Lang: "ja"}: 7}) {
		t.Fatalf("detail %+v, %v", d, ok)
	}
	if d, ok := detailFrom(&h, ""); !ok || d.Origins != nil {
		t.Fatalf("without a cell: %+v, %v", d, ok)
	}
	empty := trend.NewHeavy(4)
	for _, h := range []*trend.Heavy{nil, &empty} {
		if _, ok := detailFrom(h, "x/en"); ok {
			t.Fatalf("a detail from summary %v", h)
		}
	}
	if _, ok := detailOf(&delta.Bucket{Start: 0, N: 3, Cell: "x/en"}); ok {
		t.Fatal("a detail from a bucket without a summary")
	}
}
