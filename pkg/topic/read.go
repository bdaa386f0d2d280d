package topic

import (
	"context"
	"errors"
	"fmt"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Found returns the partitions of the topic name as md describes them, and
// whether it exists: known to the broker, without an error, with at least
// one partition (a topic just created may have none yet).
func Found(md *kafka.Metadata, name string) ([]kafka.PartitionMetadata, bool) {
	tm, ok := md.Topics[name]
	if !ok || tm.Error.Code() != kafka.ErrNoError || len(tm.Partitions) == 0 {
		return nil, false
	}
	return tm.Partitions, true
}

// LeaderMoving reports whether err says that a partition's leader is not
// known where it was asked (just created, or moving): asked again a moment
// later, the answer comes.
func LeaderMoving(err error) bool {
	var ke kafka.Error
	if !errors.As(err, &ke) {
		return false
	}
	return ke.Code() == kafka.ErrNotLeaderForPartition || ke.Code() == kafka.ErrLeaderNotAvailable
}

// EndOffsets returns the end offset of each partition of topic (of the
// partitions named, or of all when none is): the high watermark with
// kafka.IsolationLevelReadUncommitted, the last stable offset, where a
// read_committed reader stops while a transaction is open, with
// kafka.IsolationLevelReadCommitted.
func EndOffsets(ctx context.Context, admin *kafka.AdminClient, topic string, iso kafka.IsolationLevel, partitions ...int32) (map[int32]int64, error) {
	if len(partitions) == 0 {
		md, err := admin.GetMetadata(&topic, false, 10000)
		if err != nil {
			return nil, fmt.Errorf("metadata of %s: %w", topic, err)
		}
		parts, ok := Found(md, topic)
		if !ok {
			return nil, fmt.Errorf("topic %s: not found (%v)", topic, md.Topics[topic].Error)
		}
		for _, p := range parts {
			partitions = append(partitions, p.ID)
		}
	}
	req := map[kafka.TopicPartition]kafka.OffsetSpec{}
	for _, p := range partitions {
		req[kafka.TopicPartition{Topic: &topic, Partition: p}] = kafka.LatestOffsetSpec
	}
	res, err := admin.ListOffsets(ctx, req, kafka.SetAdminIsolationLevel(iso))
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	// The answer is keyed by TopicPartitions holding their own topic
	// pointers: read them by value.
	out := make(map[int32]int64, len(partitions))
	for tp, r := range res.ResultInfos {
		if tp.Topic == nil || *tp.Topic != topic {
			continue
		}
		if r.Error.Code() != kafka.ErrNoError {
			return nil, fmt.Errorf("end offset of %s[%d]: %w", topic, tp.Partition, r.Error)
		}
		out[tp.Partition] = int64(r.Offset)
	}
	for _, p := range partitions {
		if _, ok := out[p]; !ok {
			return nil, fmt.Errorf("no end offset for %s[%d] in the answer", topic, p)
		}
	}
	return out, nil
}
