//go:build bench

package main_test

import (
	"math"
	"math/rand/v2"
	"testing"

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
	off1 := benchRun(t, p, n, "off1", "COUNTER_FACETS=off", "COUNTER_TRENDING_REASONS=off")
	on := benchRun(t, p, n, "on", "COUNTER_FACETS=on", "COUNTER_FACET_TRENDING=off")
	trending := benchRun(t, p, n, "trending", "COUNTER_FACETS=on", "COUNTER_FACET_TRENDING=on")
	off2 := benchRun(t, p, n, "off2", "COUNTER_FACETS=off", "COUNTER_TRENDING_REASONS=off")
	off, cpuOff, rssOff := (off1.took+off2.took)/2, (off1.cpu+off2.cpu)/2, (off1.peak+off2.peak)/2
	logf(t, "ratio throughput facets on / off (mean of both off runs): %.2f; with trending per facet: %.2f", off.Seconds()/on.took.Seconds(), off.Seconds()/trending.took.Seconds())
	logf(t, "ratio posts per CPU second facets on / off: %.2f; with trending per facet: %.2f", cpuOff/on.cpu, cpuOff/trending.cpu)
	logf(t, "peak RSS facets on / off (mean of both off runs): %.2f; with trending per facet: %.2f", on.peak/rssOff, trending.peak/rssOff)
}
