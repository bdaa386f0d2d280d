// Package progress tells when a consumer group has caught up: every
// partition of the topics it reads has a committed offset at the end of
// the log. That is "time to zero lag" for contenders that commit their
// progress to Kafka (hashtrend's counter, Kafka Streams).
package progress

import (
	"context"
	"fmt"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/topic"
)

// Target is one group and the topics whose lag must reach zero.
// Slack is how far below the end a committed offset may stay and still
// count as caught up: 0 for a topic written without transactions, 1 for
// one written by a transactional producer, whose last offset is a commit
// marker that a consumer may or may not have stepped over.
type Target struct {
	Group  string
	Topics map[string]int64 // topic -> slack
}

// Checker queries offsets through one admin client.
type Checker struct {
	admin *kafka.AdminClient
}

// NewChecker connects to brokers.
func NewChecker(brokers string) (*Checker, error) {
	a, err := kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": brokers, "client.id": "bench-progress"})
	if err != nil {
		return nil, err
	}
	return &Checker{admin: a}, nil
}

// Close releases the client.
func (c *Checker) Close() { c.admin.Close() }

// EndOffsets returns the log end offset of every partition of topic.
func (c *Checker) EndOffsets(ctx context.Context, name string) (map[int32]int64, error) {
	return topic.EndOffsets(ctx, c.admin, name, kafka.IsolationLevelReadUncommitted)
}

// Lag returns how far target's group is behind on its topics, summed over
// partitions (each partition's lag beyond its slack).
func (c *Checker) Lag(ctx context.Context, t Target) (int64, error) {
	res, err := c.admin.ListConsumerGroupOffsets(ctx,
		[]kafka.ConsumerGroupTopicPartitions{{Group: t.Group}}, kafka.SetAdminRequireStableOffsets(false))
	if err != nil {
		return 0, fmt.Errorf("committed offsets of group %s: %w", t.Group, err)
	}
	committed := map[string]map[int32]int64{}
	for _, g := range res.ConsumerGroupsTopicPartitions {
		for _, tp := range g.Partitions {
			if tp.Topic == nil {
				continue
			}
			if committed[*tp.Topic] == nil {
				committed[*tp.Topic] = map[int32]int64{}
			}
			if tp.Error == nil && tp.Offset >= 0 {
				committed[*tp.Topic][tp.Partition] = int64(tp.Offset)
			}
		}
	}
	var lag int64
	for topic, slack := range t.Topics {
		end, err := c.EndOffsets(ctx, topic)
		if err != nil {
			return 0, err
		}
		for p, e := range end {
			behind := e - committed[topic][p] // an uncommitted partition is behind by all of it
			if behind > slack {
				lag += behind
			}
		}
	}
	return lag, nil
}

// WaitCaughtUp polls until every target has zero lag and returns when that
// was seen, or ctx's error.
func (c *Checker) WaitCaughtUp(ctx context.Context, every time.Duration, targets ...Target) (time.Time, error) {
	for {
		zero := true
		for _, t := range targets {
			lag, err := c.Lag(ctx, t)
			if err != nil || lag > 0 {
				zero = false
				break
			}
		}
		if zero {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(every):
		}
	}
}
