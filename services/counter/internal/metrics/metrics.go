// Package metrics is the counter's Prometheus instrumentation, registered
// on the registry the service passes in, and the reading of librdkafka's
// statistics into per-partition consumer lag.
package metrics

import (
	"encoding/json"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashtrend/hashtrend/pkg/snapshot"
)

// Metrics are the counter's collectors. Stage labels are "tally" and "rank".
type Metrics struct {
	Posts           prometheus.Counter
	PostsWithTags   prometheus.Counter
	Hashtags        prometheus.Counter
	Invalid         prometheus.Counter
	Duplicates      prometheus.Counter
	DedupeIDs       prometheus.Gauge
	DedupeRestored  prometheus.Counter
	WindowsClosed   *prometheus.CounterVec
	Transactions    *prometheus.CounterVec
	TxnSeconds      *prometheus.HistogramVec
	Lag             *prometheus.GaugeVec
	RestoreSeconds  prometheus.Gauge
	RestoredRecords prometheus.Gauge
	StateHashtags   prometheus.Gauge
	Batch           prometheus.Gauge
	SnapshotSeconds prometheus.Histogram
	DeltasApplied   prometheus.Counter
	Restored        prometheus.Gauge
	RankPhase       *prometheus.GaugeVec
	Top             *prometheus.GaugeVec
	Restarts        *prometheus.CounterVec

	// The trending view (package trend).
	LatePosts       prometheus.Counter
	TrendingScore   *prometheus.GaugeVec
	TrendingCells   prometheus.Gauge
	TrendingBytes   prometheus.Gauge
	TrendingMark    prometheus.Gauge
	TrendingRebuild prometheus.Gauge
	TrendingDeltas  prometheus.Gauge

	// The facets.
	FacetRecords  prometheus.Counter
	FacetsWaiting prometheus.Gauge
	WindowBytes   prometheus.Gauge
}

// New creates the collectors and registers them on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Posts:         prometheus.NewCounter(prometheus.CounterOpts{Name: "hashtrend_counter_posts_total", Help: "Valid posts counted by tally (committed or not)."}),
		PostsWithTags: prometheus.NewCounter(prometheus.CounterOpts{Name: "hashtrend_counter_posts_with_hashtags_total", Help: "Posts with at least one hashtag counted by tally."}),
		Hashtags:      prometheus.NewCounter(prometheus.CounterOpts{Name: "hashtrend_counter_hashtags_total", Help: "Hashtags counted by tally, each once per post."}),
		Invalid:       prometheus.NewCounter(prometheus.CounterOpts{Name: "hashtrend_counter_invalid_records_total", Help: "Undecodable records sent to the dead-letter topic."}),
		Duplicates: prometheus.NewCounter(prometheus.CounterOpts{Name: "hashtrend_counter_duplicates_total",
			Help: "Posts tally skipped, in committed windows, because a post with the same id is within the dedupe horizon of its partition."}),
		DedupeIDs: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hashtrend_counter_dedupe_ids",
			Help: "Post ids tally remembers for dedupe, over its assigned partitions, as of its last committed window."}),
		DedupeRestored: prometheus.NewCounter(prometheus.CounterOpts{Name: "hashtrend_counter_dedupe_restored_records_total",
			Help: "Records tally read again before a committed offset to rebuild its dedupe horizons."}),
		WindowsClosed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hashtrend_counter_windows_closed_total", Help: "Windows closed, by stage."}, []string{"stage"}),
		Transactions:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hashtrend_counter_transactions_total", Help: "Transactions by stage and outcome (committed, aborted)."}, []string{"stage", "outcome"}),
		TxnSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hashtrend_counter_transaction_seconds", Help: "Time from begin to commit of a transaction.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}, []string{"stage"}),
		Lag:             prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hashtrend_counter_consumer_lag", Help: "Consumer lag per partition from librdkafka statistics."}, []string{"stage", "topic", "partition"}),
		RestoreSeconds:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "hashtrend_counter_restore_seconds", Help: "Duration of the last restore of the running totals."}),
		RestoredRecords: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hashtrend_counter_restored_records", Help: "Records read by the last restore."}),
		StateHashtags:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "hashtrend_counter_state_hashtags", Help: "Distinct hashtags in rank's running totals."}),
		Batch:           prometheus.NewGauge(prometheus.GaugeOpts{Name: "hashtrend_counter_batch", Help: "Batch number of the last published snapshot."}),
		SnapshotSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hashtrend_counter_snapshot_publish_seconds", Help: "Time from a window's end to its snapshot's commit.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}),
		DeltasApplied: prometheus.NewCounter(prometheus.CounterOpts{Name: "hashtrend_counter_deltas_applied_total", Help: "Delta records applied by rank."}),
		Restored:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "hashtrend_counter_rank_restored", Help: "1 while this instance's rank holds restored totals."}),
		RankPhase: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hashtrend_counter_rank_phase",
			Help: "1 for the phase this instance's rank is in (standby, restoring, active), 0 for the others."}, []string{"phase"}),
		Top: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hashtrend_counter_top_count",
			Help: "Running total of each hashtag in the last published snapshot's top list, by rank and display spelling; only the active rank member reports it."}, []string{"rank", "hashtag"}),
		Restarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hashtrend_counter_stage_restarts_total",
			Help: "Stages started again with new clients after a failure, by stage."}, []string{"stage"}),
		LatePosts: prometheus.NewCounter(prometheus.CounterOpts{Name: "hashtrend_counter_late_posts_total",
			Help: "Posts with hashtags whose post-time bucket had closed when tally read them: in the running totals, not in the trending view."}),
		TrendingScore: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hashtrend_counter_trending_score",
			Help: "Trending score of each hashtag in the last published snapshot's trending list, by rank and display spelling; only the active rank member reports it."}, []string{"rank", "hashtag"}),
		TrendingCells:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "hashtrend_counter_trending_cells", Help: "Tag-buckets rank holds for the trending view (the horizon)."}),
		TrendingBytes:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "hashtrend_counter_trending_bytes", Help: "Estimated memory of the trending view's tag-buckets."}),
		TrendingMark:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "hashtrend_counter_trending_watermark_seconds", Help: "Post time up to which the trending buckets are closed, Unix seconds."}),
		TrendingRebuild: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hashtrend_counter_trending_rebuild_seconds", Help: "Duration of the last rebuild of the trending buckets from the deltas topic."}),
		TrendingDeltas:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "hashtrend_counter_trending_rebuild_deltas", Help: "Delta records read by the last rebuild of the trending buckets."}),
		FacetRecords: prometheus.NewCounter(prometheus.CounterOpts{Name: "hashtrend_counter_facet_records_total",
			Help: "Records of facets' lists (and tombstones) rank wrote to the facets topic, in committed snapshots."}),
		FacetsWaiting: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hashtrend_counter_facets_waiting",
			Help: "Facets whose lists changed but did not fit in the last snapshot's budget and wait for the next."}),
		WindowBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hashtrend_counter_window_bytes",
			Help: "Bytes (keys and values) of the last snapshot and the facet records written with it."}),
	}
	reg.MustRegister(m.Posts, m.PostsWithTags, m.Hashtags, m.Invalid, m.Duplicates, m.DedupeIDs, m.DedupeRestored, m.WindowsClosed, m.Transactions, m.TxnSeconds,
		m.Lag, m.RestoreSeconds, m.RestoredRecords, m.StateHashtags, m.Batch, m.SnapshotSeconds, m.DeltasApplied, m.Restored, m.RankPhase, m.Top, m.Restarts,
		m.LatePosts, m.TrendingScore, m.TrendingCells, m.TrendingBytes, m.TrendingMark, m.TrendingRebuild, m.TrendingDeltas,
		m.FacetRecords, m.FacetsWaiting, m.WindowBytes)
	// Every stage and outcome series exists from the start, at zero, so
	// that rate() and the dashboard see it before its first event.
	for _, stage := range []string{"tally", "rank"} {
		m.WindowsClosed.WithLabelValues(stage)
		m.TxnSeconds.WithLabelValues(stage)
		m.Restarts.WithLabelValues(stage)
		for _, outcome := range []string{"committed", "aborted"} {
			m.Transactions.WithLabelValues(stage, outcome)
		}
	}
	for _, p := range RankPhases {
		m.RankPhase.WithLabelValues(p)
	}
	return m
}

// RankPhases are the phases of rank that RankPhase reports.
var RankPhases = []string{"standby", "restoring", "active"}

// SetRankPhase makes the rank phase gauge say phase, one of RankPhases.
func (m *Metrics) SetRankPhase(phase string) {
	for _, p := range RankPhases {
		v := 0.0
		if p == phase {
			v = 1
		}
		m.RankPhase.WithLabelValues(p).Set(v)
	}
}

// SetTop makes the top-list gauge show entries, and nothing else.
func (m *Metrics) SetTop(entries []snapshot.Entry) {
	m.Top.Reset()
	for _, e := range entries {
		m.Top.WithLabelValues(strconv.Itoa(e.Rank), e.Hashtag).Set(float64(e.Count))
	}
}

// SetTrending makes the trending-score gauge show trends, and nothing else.
func (m *Metrics) SetTrending(trends []snapshot.Trend) {
	m.TrendingScore.Reset()
	for _, t := range trends {
		m.TrendingScore.WithLabelValues(strconv.Itoa(t.Rank), t.Hashtag).Set(t.Score)
	}
}

// stats is the part of librdkafka's statistics JSON that holds lag.
type stats struct {
	Topics map[string]struct {
		Partitions map[string]struct {
			LSO       int64 `json:"ls_offset"`
			App       int64 `json:"app_offset"`
			Committed int64 `json:"committed_offset"`
		} `json:"partitions"`
	} `json:"topics"`
}

// ObserveStats sets the lag gauges of stage from one statistics event.
//
// librdkafka's own consumer_lag counts from the offset the consumer itself
// committed, which it never learns when offsets are committed through the
// producer's transaction; so lag here is the last stable offset (the end a
// read_committed reader can reach) minus the next offset the stage will
// read: the last one it was handed plus one, or the committed one before
// it has read anything. Partitions the consumer does not fetch are skipped.
func (m *Metrics) ObserveStats(stage, js string) {
	var s stats
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		return
	}
	for topic, t := range s.Topics {
		for part, p := range t.Partitions {
			if n, err := strconv.Atoi(part); err != nil || n < 0 || p.LSO < 0 {
				continue
			}
			next := p.App
			if next < 0 {
				next = p.Committed
			}
			if next < 0 {
				continue
			}
			m.Lag.WithLabelValues(stage, topic, part).Set(float64(max(p.LSO-next, 0)))
		}
	}
}
