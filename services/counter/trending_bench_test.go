//go:build bench

package main_test

import (
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
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
	run := func(name string, env ...string) (time.Duration, float64) {
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
		last, _ := snaps.last()
		c.stop()
		logf(t, "%s: every post in a snapshot after %s (%.0f posts/s), peak RSS %.0f MiB, %d trending",
			name, took.Round(time.Millisecond), float64(n)/took.Seconds(), peak, len(last.Trending))
		return took, peak
	}
	off1, rssOff1 := run("off1", "COUNTER_TRENDING=false")
	on, rssOn := run("on", "COUNTER_TRENDING=true")
	off2, rssOff2 := run("off2", "COUNTER_TRENDING=false")
	off := (off1 + off2) / 2
	logf(t, "ratio throughput trending on / off (mean of both off runs): %.2f", off.Seconds()/on.Seconds())
	logf(t, "peak RSS trending on / off (mean of both off runs): %.2f", rssOn/((rssOff1+rssOff2)/2))
}
