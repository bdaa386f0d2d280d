// Package workload writes the peer benchmarks' input: a tweets topic
// pre-filled with a fixed-seed synthetic stream (Fill), whose hashtag counts
// it computes on the way by design.md's rules so that a contender's output
// can be checked against them, and a paced live stream with probe posts for
// the latency trials (Live).
//
// A probe is a post whose only hashtag is #probe<ms>, ms being the Unix
// time in milliseconds at which it was handed to the producer (also its
// record timestamp). Every contender's output names the tag, so whoever
// sees it first in an output can tell how long it took without a clock
// shared with the contender.
package workload

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/synthetic"
)

// ProbePrefix starts every probe tag (and so its counting key).
const ProbePrefix = "probe"

// Counts is what a correct counter must report for an input: posts, posts
// with hashtags, and posts per hashtag key.
type Counts struct {
	Posts         int64
	PostsWithTags int64
	ByKey         map[string]int64
	Bytes         int64 // total value bytes written
}

// Spec is one pre-filled input.
type Spec struct {
	Topic string
	Posts int
	Seed  int64
	Words int // mean words per post; 0 means the generator's default
}

// Producer returns an idempotent producer tuned for bulk writes.
func Producer(brokers string, extra kafka.ConfigMap) (*kafka.Producer, error) {
	m := kafka.ConfigMap{
		"bootstrap.servers":  brokers,
		"client.id":          "bench-workload",
		"enable.idempotence": true,
		"acks":               "all",
		"compression.type":   "lz4",
		"linger.ms":          20,
		"batch.size":         512 * 1024,
	}
	for k, v := range extra {
		m[k] = v
	}
	return kafka.NewProducer(&m)
}

// Fill writes s.Posts synthetic posts to s.Topic (which must exist) and
// returns their counts. Records are keyed by post id and stamped with
// created_at, as ingest writes them.
func Fill(ctx context.Context, brokers string, s Spec) (Counts, error) {
	p, err := Producer(brokers, nil)
	if err != nil {
		return Counts{}, err
	}
	defer p.Close()
	failed := make(chan error, 1)
	go deliveries(p, failed)

	g := synthetic.New(synthetic.Config{Seed: s.Seed, Words: s.Words})
	c := Counts{ByKey: map[string]int64{}}
	var tags []hashtag.Tag
	for i := 0; i < s.Posts; i++ {
		if i%10000 == 0 {
			if err := stopped(ctx, failed); err != nil {
				return c, err
			}
		}
		ps := g.Next()
		tags = hashtag.OfAppend(tags[:0], ps)
		c.Posts++
		if len(tags) > 0 {
			c.PostsWithTags++
		}
		for _, t := range tags {
			c.ByKey[t.Key]++
		}
		b, err := post.Encode(ps)
		if err != nil {
			return c, fmt.Errorf("encode post %s: %w", ps.ID, err)
		}
		c.Bytes += int64(len(b))
		if err := produce(p, s.Topic, ps.ID, b, ps.CreatedAt); err != nil {
			return c, err
		}
	}
	for p.Flush(1000) > 0 {
		if err := ctx.Err(); err != nil {
			return c, err
		}
	}
	return c, stopped(ctx, failed)
}

// stopped is ctx's error, else the first delivery failure reported so far,
// else nil.
func stopped(ctx context.Context, failed <-chan error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case err := <-failed:
		return err
	default:
		return nil
	}
}

// produce hands one record to p, waiting while its queue is full.
func produce(p *kafka.Producer, topic, key string, value []byte, ts time.Time) error {
	for {
		err := p.Produce(&kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
			Key:            []byte(key),
			Value:          value,
			Timestamp:      ts,
		}, nil)
		if err == nil {
			return nil
		}
		if ke, ok := err.(kafka.Error); ok && ke.Code() == kafka.ErrQueueFull {
			p.Flush(50)
			continue
		}
		return fmt.Errorf("produce to %s: %w", topic, err)
	}
}

// deliveries reports the first failed delivery on failed.
func deliveries(p *kafka.Producer, failed chan<- error) {
	for e := range p.Events() {
		switch m := e.(type) {
		case *kafka.Message:
			if m.TopicPartition.Error != nil {
				select {
				case failed <- fmt.Errorf("deliver to %s: %w", m.TopicPartition, m.TopicPartition.Error):
				default:
				}
			}
		case kafka.Error:
			if m.IsFatal() {
				select {
				case failed <- m:
				default:
				}
			}
		}
	}
}

// LiveSpec is a paced stream for the latency trials.
type LiveSpec struct {
	Topic      string
	Rate       int           // posts per second
	ProbeEvery time.Duration // one probe post per interval
	Seed       int64
}

// Sent is one probe handed to the producer.
type Sent struct {
	Key string
	At  time.Time
}

// Live produces synthetic posts stamped with the wall clock at spec.Rate
// posts/s until ctx ends, with a probe post every spec.ProbeEvery; each
// probe's key and send time goes to probes (which must not block for long).
func Live(ctx context.Context, brokers string, spec LiveSpec, probes chan<- Sent) error {
	p, err := Producer(brokers, kafka.ConfigMap{"linger.ms": 5})
	if err != nil {
		return err
	}
	defer p.Close()
	failed := make(chan error, 1)
	go deliveries(p, failed)

	g := synthetic.New(synthetic.Config{Seed: spec.Seed, WallClock: true})
	const tick = 10 * time.Millisecond
	perTick := float64(spec.Rate) * tick.Seconds()
	t := time.NewTicker(tick)
	defer t.Stop()
	start := time.Now()
	sent, nextProbe := 0, start.Add(spec.ProbeEvery)
	for {
		select {
		case <-ctx.Done():
			p.Flush(5000)
			return nil
		case err := <-failed:
			return err
		case now := <-t.C:
			due := int(now.Sub(start).Seconds()*float64(spec.Rate)) - sent
			due = min(due, int(perTick*10)+1) // do not burst after a stall
			for range due {
				ps := g.Next()
				b, _ := post.Encode(ps)
				if err := produce(p, spec.Topic, ps.ID, b, ps.CreatedAt); err != nil {
					return err
				}
				sent++
			}
			if !now.Before(nextProbe) {
				nextProbe = nextProbe.Add(spec.ProbeEvery)
				at := time.Now().Truncate(time.Millisecond)
				key := ProbePrefix + strconv.FormatInt(at.UnixMilli(), 10)
				ps := post.Post{ID: "p" + key, Source: "bench", CreatedAt: at.UTC(),
					Text: "latency probe #" + key, Lang: "en"}
				b, _ := post.Encode(ps)
				if err := produce(p, spec.Topic, ps.ID, b, at); err != nil {
					return err
				}
				select {
				case probes <- Sent{Key: key, At: at}:
				default:
				}
			}
		}
	}
}

// ProbeTime returns the send time encoded in a probe key (or a word holding
// one, like "#probe1712345678901"); ok is false for anything else.
func ProbeTime(s string) (time.Time, bool) {
	s = strings.TrimPrefix(s, "#")
	if !strings.HasPrefix(s, ProbePrefix) {
		return time.Time{}, false
	}
	ms, err := strconv.ParseInt(s[len(ProbePrefix):], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(ms), true
}
