package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestObserveStatsSetsTheLagOfFetchedPartitions(t *testing.T) {
	m := New(prometheus.NewRegistry())
	m.ObserveStats("tally", `{"topics":{"tweets":{"partitions":{"0":{"consumer_lag":12},"1":{"consumer_lag":-1},"-1":{"consumer_lag":5}}}}}`)
	if got := testutil.ToFloat64(m.Lag.WithLabelValues("tally", "tweets", "0")); got != 12 {
		t.Fatalf("lag of partition 0 = %v, want 12", got)
	}
	if n := testutil.CollectAndCount(m.Lag); n != 1 {
		t.Fatalf("%d lag series, want 1 (unknown lag and the internal partition skipped)", n)
	}
	m.ObserveStats("tally", "not json") // ignored
}
