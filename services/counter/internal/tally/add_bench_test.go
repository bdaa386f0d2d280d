package tally

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/synthetic"
	"github.com/hashtrend/hashtrend/services/counter/internal/metrics"
	"github.com/hashtrend/hashtrend/services/counter/internal/trend"
)

// BenchmarkAdd is the stage's per-post work without the broker (decode,
// dedupe, hashtags, the window's counts, with trending the buckets too)
// over synthetic posts of seed 1, the benchmarks' input, spread over 6
// partitions, with the default dedupe horizon and trending settings.
// Every pass over the posts starts a new window and new horizons.
func BenchmarkAdd(b *testing.B) {
	const parts, n = 6, 60_000
	topic := "tweets"
	msgs := make([]*kafka.Message, n)
	for i, p := range synthetic.New(synthetic.Config{Seed: 1}).Take(n) {
		v, err := post.Encode(p)
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: int32(i % parts), Offset: kafka.Offset(i / parts)},
			Key: []byte(p.ID), Value: v}
	}
	for _, trending := range []bool{false, true} {
		b.Run(fmt.Sprintf("trending=%v", trending), func(b *testing.B) {
			s := &Stage{log: slog.New(slog.NewTextHandler(io.Discard, nil)), m: metrics.New(prometheus.NewRegistry()),
				counts: map[string]*hashtag.Spellings{}, next: map[int32]kafka.Offset{}}
			if trending {
				s.trend = newBuckets(trend.Config{Bucket: time.Minute, Lateness: time.Minute, Recent: 10 * time.Minute, Baseline: 6 * time.Hour, Min: 5})
			}
			fresh := func() {
				s.reset()
				s.dedupe = newDedupe(100_000)
				var tps []kafka.TopicPartition
				for p := range int32(parts) {
					tps = append(tps, kafka.TopicPartition{Topic: &topic, Partition: p})
				}
				s.dedupe.from(tps)
				if s.trend != nil {
					s.trend.load(tps)
				}
			}
			fresh()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if i%n == 0 && i > 0 {
					b.StopTimer()
					fresh()
					b.StartTimer()
				}
				s.add(msgs[i%n])
			}
			b.StopTimer()
			if s.posts == 0 || s.dups != 0 || len(s.dlq) != 0 {
				b.Fatalf("posts %d, duplicates %d, invalid %d", s.posts, s.dups, len(s.dlq))
			}
		})
	}
}
