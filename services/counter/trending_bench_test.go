//go:build bench

package main_test

import (
	"testing"

	"github.com/hashtrend/hashtrend/pkg/synthetic"
)

// TestBenchTrending: the counter over one pre-filled topic with the
// trending view off, on, and off again (each run with groups and output
// topics of its own), so that the ratio of throughputs compares runs on
// the same broker, data and machine state. created_at spans 10 ms a post,
// so 1,000,000 posts hold 2.8 hours of post time, all of it inside the
// default 6-hour horizon.
func TestBenchTrending(t *testing.T) {
	const parts = 6
	p := newPipeline(t, parts)
	n := benchPosts()
	gen := synthetic.New(synthetic.Config{Seed: 3, Start: trendStart})
	for i := 0; i < n; i += 100_000 {
		keys, values := encoded(t, gen.Take(min(100_000, n-i)))
		produce(t, p.brokers, p.tweets, keys, values)
	}
	off1 := benchRun(t, p, n, "off1", "COUNTER_TRENDING=false")
	on := benchRun(t, p, n, "on", "COUNTER_TRENDING=true")
	off2 := benchRun(t, p, n, "off2", "COUNTER_TRENDING=false")
	logf(t, "on: %d trending at the end", len(on.last.Trending))
	off := (off1.took + off2.took) / 2
	logf(t, "ratio throughput trending on / off (mean of both off runs): %.2f", off.Seconds()/on.took.Seconds())
	logf(t, "peak RSS trending on / off (mean of both off runs): %.2f", on.peak/((off1.peak+off2.peak)/2))
}
