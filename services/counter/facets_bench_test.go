//go:build bench

package main_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/synthetic"
)

// TestBenchFacets: the counter over one pre-filled topic of posts from
// four networks in 24 languages (20 with facets of their own) with the
// facets off, on (top lists per facet, the default), on with a trending
// list per facet, and off again (each run with groups and output topics
// of its own), so that the ratios of throughputs compare runs on the same
// broker, data and machine state. Trending is on in every run, as by
// default; the runs with facets off are also without the trending
// reasons (COUNTER_TRENDING_REASONS=off: no author summaries in tally's
// buckets), so that the ratios price both.
func TestBenchFacets(t *testing.T) {
	const parts = 6
	p := newPipeline(t, parts)
	n := benchPosts()
	gen := synthetic.New(synthetic.Config{Seed: 3, Start: trendStart})
	r := rand.New(rand.NewPCG(3, 9))
	networks := []string{"bluesky", "mastodon", "x", "twitter"}
	langs := []string{"en", "ja", "de", "pt", "es", "fr", "ko", "nl", "it", "tr", "ru", "pl", "sv", "fi", "th", "uk", "ar", "fa", "id", "zh", "ca", "cs", "da", "el"}
	for i := 0; i < n; i += 100_000 {
		posts := gen.Take(min(100_000, n-i))
		for j := range posts {
			posts[j].Source = networks[r.IntN(len(networks))]
			posts[j].Lang = langs[int(float64(len(langs))*math.Pow(r.Float64(), 2.5))]
		}
		keys, values := encoded(t, posts)
		produce(t, p.brokers, p.tweets, keys, values)
	}
	run := func(name string, env ...string) (time.Duration, float64, float64) {
		q := p
		for _, s := range []*string{&q.dlq, &q.deltas, &q.counts, &q.top, &q.facets, &q.tallyGroup, &q.rankGroup} {
			*s = kafkatest.Name(t, name+"-"+*s)
		}
		q.run = kafkatest.Name(t, name)
		kafkatest.DeleteAfter(t, q.dlq, q.deltas, q.counts, q.top, q.facets)
		snaps := follow(t, q)
		started := time.Now()
		c := start(t, q, name, append([]string{"COUNTER_WINDOW=2s", "COUNTER_GRACE=500ms", "COUNTER_TRANSACTION_TIMEOUT=10s"}, env...)...)
		peakRSS := samplePeakRSS(c.Pid())
		snaps.waitPosts(t, int64(n), 20*time.Minute, c)
		took := snaps.reached(int64(n)).Sub(started)
		peak := peakRSS()
		cpu := cpuSeconds(c.Pid())
		c.stop()
		logf(t, "%s: every post in a snapshot after %s (%.0f posts/s), %.1f CPU seconds by then (%.0f posts per CPU second), peak RSS %.0f MiB",
			name, took.Round(time.Millisecond), float64(n)/took.Seconds(), cpu, float64(n)/cpu, peak)
		return took, cpu, peak
	}
	off1, cpuOff1, rssOff1 := run("off1", "COUNTER_FACETS=off", "COUNTER_TRENDING_REASONS=off")
	on, cpuOn, rssOn := run("on", "COUNTER_FACETS=on", "COUNTER_FACET_TRENDING=off")
	trending, cpuTrending, rssTrending := run("trending", "COUNTER_FACETS=on", "COUNTER_FACET_TRENDING=on")
	off2, cpuOff2, rssOff2 := run("off2", "COUNTER_FACETS=off", "COUNTER_TRENDING_REASONS=off")
	off, cpuOff, rssOff := (off1+off2)/2, (cpuOff1+cpuOff2)/2, (rssOff1+rssOff2)/2
	logf(t, "ratio throughput facets on / off (mean of both off runs): %.2f; with trending per facet: %.2f", off.Seconds()/on.Seconds(), off.Seconds()/trending.Seconds())
	logf(t, "ratio posts per CPU second facets on / off: %.2f; with trending per facet: %.2f", cpuOff/cpuOn, cpuOff/cpuTrending)
	logf(t, "peak RSS facets on / off (mean of both off runs): %.2f; with trending per facet: %.2f", rssOn/rssOff, rssTrending/rssOff)
}
