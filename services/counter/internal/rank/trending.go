package rank

import (
	"fmt"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
	"github.com/hashtrend/hashtrend/services/counter/internal/state"
	"github.com/hashtrend/hashtrend/services/counter/internal/trend"
)

// addTrend adds d's buckets and watermarks to tr. A delta whose buckets
// have another length (written before a change of COUNTER_TRENDING_BUCKET)
// is left out of the trending view; false says so.
func addTrend(tr *trend.Tracker, d delta.Delta) bool {
	if d.BucketMillis == 0 && len(d.Watermarks) == 0 {
		return true // version 1, or trending off in the tally that wrote it
	}
	if d.BucketMillis != tr.Config().Bucket.Milliseconds() {
		return false
	}
	for _, c := range d.Counts {
		for i := range c.Buckets {
			b := &c.Buckets[i]
			tr.Add(c.Key, b.Start, b.N, &b.Authors)
		}
	}
	for _, w := range d.Watermarks {
		tr.Advance(w.Partition, w.At)
	}
	return true
}

// rebuildTrend builds the trending buckets again from the deltas that the
// restored totals hold: the deltas topic from its first retained record up
// to s.next. The deltas are exactly once, and the trending list depends on
// which deltas were applied in which order, not on when, so the rebuilt
// buckets are those an uninterrupted run holds at the same offset. The
// deltas topic's retention must cover the trending horizon (checked at
// start, see app).
func (s *Stage) rebuildTrend() error {
	start := time.Now()
	tr := trend.NewTracker(*s.cfg.Trending, s.tweetsPartitions())
	skipped := 0
	n, err := state.ReadTo(s.ctx, s.cfg.Kafka, s.cfg.Deltas, s.assigned.Partition, int64(s.next), s.log, func(_, value []byte) error {
		d, err := delta.Decode(value)
		if err != nil {
			return err
		}
		if !addTrend(tr, d) {
			skipped++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild the trending buckets from %s: %w", s.cfg.Deltas, err)
	}
	s.trend = tr
	w, _ := tr.Watermark()
	s.m.TrendingRebuild.Set(time.Since(start).Seconds())
	s.m.TrendingDeltas.Set(float64(n))
	s.log.Info("trending buckets rebuilt", "topic", s.cfg.Deltas, "deltas", n, "tags", tr.Len(), "cells", tr.Cells(),
		"watermark", w, "other_bucket_length", skipped, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// tweetsPartitions is the number of partitions of the posts topic, whose
// watermarks together make the stream's; while the topic does not exist,
// the number it is created with.
func (s *Stage) tweetsPartitions() int {
	md, err := s.c.GetMetadata(&s.cfg.Tweets, false, 10_000)
	if err == nil {
		if t, ok := md.Topics[s.cfg.Tweets]; ok && t.Error.Code() == kafka.ErrNoError && len(t.Partitions) > 0 {
			return len(t.Partitions)
		}
	}
	s.log.Info("trending: posts topic not known yet, assuming its configured partitions", "topic", s.cfg.Tweets, "partitions", s.cfg.TweetsPartitions)
	return s.cfg.TweetsPartitions
}

// trending is the trending list of the snapshot, spelled as the totals
// spell it, and its watermark; nil, nil before the stream has one.
func (s *Stage) trending(t *Table) ([]snapshot.Trend, *time.Time) {
	if s.trend == nil {
		return nil, nil
	}
	top, at := s.trend.Top(s.cfg.TopN)
	if at.IsZero() {
		return nil, nil
	}
	out := make([]snapshot.Trend, len(top))
	for i, r := range top {
		out[i] = snapshot.Trend{Rank: i + 1, Hashtag: t.spellingOf(r.Key), Key: r.Key, Score: r.Score,
			Observed: r.Observed, Expected: r.Expected, Count: r.Posts}
	}
	if !at.Equal(s.trendAt) {
		s.trendAt = at
		s.m.TrendingCells.Set(float64(s.trend.Cells()))
		s.m.TrendingBytes.Set(float64(s.trend.Bytes()))
		s.m.TrendingMark.Set(float64(at.Unix()))
	}
	return out, &at
}

// spellingOf is key's display spelling, the one seen most often; the key
// itself when the table does not hold it.
func (t *Table) spellingOf(key string) string {
	if _, id, ok := t.keys.find([]byte(key), t.keyOf); ok {
		return t.spelling(id)
	}
	return key
}
