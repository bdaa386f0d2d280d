package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hashtrend/hashtrend/pkg/snapshot"
)

func TestObserveStatsSetsTheLagOfFetchedPartitions(t *testing.T) {
	m := New(prometheus.NewRegistry())
	m.ObserveStats("tally", `{"topics":{"tweets":{"partitions":{
		"0":{"ls_offset":100,"app_offset":88,"committed_offset":50},
		"1":{"ls_offset":40,"app_offset":-1001,"committed_offset":30},
		"2":{"ls_offset":40,"app_offset":-1001,"committed_offset":-1001},
		"3":{"ls_offset":-1001,"app_offset":5,"committed_offset":5},
		"-1":{"ls_offset":5,"app_offset":1,"committed_offset":1}}}}}`)
	for part, want := range map[string]float64{
		"0": 12, // from the next offset to read, not from the transactionally committed one
		"1": 10, // nothing read yet: from the committed offset
	} {
		if got := testutil.ToFloat64(m.Lag.WithLabelValues("tally", "tweets", part)); got != want {
			t.Errorf("lag of partition %s = %v, want %v", part, got, want)
		}
	}
	if n := testutil.CollectAndCount(m.Lag); n != 2 {
		t.Fatalf("%d lag series, want 2 (no position, no end offset and the internal partition skipped)", n)
	}
	m.ObserveStats("tally", "not json") // ignored
}

func TestSetTopReplacesTheWholeList(t *testing.T) {
	m := New(prometheus.NewRegistry())
	m.SetTop([]snapshot.Entry{{Rank: 1, Hashtag: "Go", Count: 7}, {Rank: 2, Hashtag: "Kafka", Count: 3}})
	m.SetTop([]snapshot.Entry{{Rank: 1, Hashtag: "Kafka", Count: 9}})
	if n := testutil.CollectAndCount(m.Top); n != 1 {
		t.Fatalf("%d top series, want only the last list's 1", n)
	}
	if got := testutil.ToFloat64(m.Top.WithLabelValues("1", "Kafka")); got != 9 {
		t.Fatalf("rank 1 = %v, want 9", got)
	}
	m.SetTop(nil)
	if n := testutil.CollectAndCount(m.Top); n != 0 {
		t.Fatalf("%d top series after a revoke, want 0", n)
	}
}

func TestTheRankPhaseIsOneAtATime(t *testing.T) {
	m := New(prometheus.NewRegistry())
	for _, p := range RankPhases {
		if got := testutil.ToFloat64(m.RankPhase.WithLabelValues(p)); got != 0 {
			t.Fatalf("phase %s = %v before any, want 0", p, got)
		}
	}
	m.SetRankPhase("restoring")
	m.SetRankPhase("active")
	for _, p := range RankPhases {
		want := 0.0
		if p == "active" {
			want = 1
		}
		if got := testutil.ToFloat64(m.RankPhase.WithLabelValues(p)); got != want {
			t.Errorf("phase %s = %v, want %v", p, got, want)
		}
	}
}
