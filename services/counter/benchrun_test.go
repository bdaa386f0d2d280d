//go:build bench

package main_test

import (
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
)

// benchResult is one counter run of a benchmark over a pre-filled topic.
type benchResult struct {
	took time.Duration     // from the process start to the first snapshot counting every post
	cpu  float64           // the counter's CPU seconds by then
	peak float64           // its peak RSS, MiB
	last snapshot.Snapshot // the last snapshot read
}

// benchRun runs a counter named name with env over p's n pre-filled posts,
// on groups and output topics of its own, so that the runs of one
// benchmark compare on the same broker, data and machine state.
func benchRun(t *testing.T, p pipeline, n int, name string, env ...string) benchResult {
	t.Helper()
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
	r := benchResult{took: snaps.reached(int64(n)).Sub(started), peak: peakRSS(), cpu: cpuSeconds(c.Pid())}
	r.last, _ = snaps.last()
	c.stop()
	logf(t, "%s: every post in a snapshot after %s (%.0f posts/s), %.1f CPU seconds by then (%.0f posts per CPU second), peak RSS %.0f MiB",
		name, r.took.Round(time.Millisecond), float64(n)/r.took.Seconds(), r.cpu, float64(n)/r.cpu, r.peak)
	return r
}
