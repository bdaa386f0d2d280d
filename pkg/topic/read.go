package topic

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

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
		tm, ok := md.Topics[topic]
		if !ok || tm.Error.Code() != kafka.ErrNoError || len(tm.Partitions) == 0 {
			return nil, fmt.Errorf("topic %s: not found (%v)", topic, tm.Error)
		}
		for _, p := range tm.Partitions {
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

// waitWarning is how often ReadToEnd says that it is still below an end.
const waitWarning = 10 * time.Second

// ReadToEnd assigns c, a read_committed consumer, every partition of topic
// in ends from its beginning, and hands fn each record below the
// partition's end offset, in order within a partition, until every
// partition is at its end; a partition whose end is 0 is not read. A
// partition is at its end once its position reaches it: control records
// (transaction markers) are never delivered, so the position is watched as
// well as the records, and a transaction still open below the end holds
// the read back until it is resolved. A fatal client error ends the read;
// other errors are logged, the client retries them itself. While held
// below an end it says so every waitWarning.
func ReadToEnd(ctx context.Context, c *kafka.Consumer, topic string, ends map[int32]int64, log *slog.Logger, fn func(*kafka.Message) error) error {
	return ReadToEndFrom(ctx, c, topic, nil, ends, log, fn)
}

// ReadToEndFrom is ReadToEnd from the offsets in from (a partition not in
// from starts at its beginning); a partition whose start is at or past its
// end is not read.
func ReadToEndFrom(ctx context.Context, c *kafka.Consumer, topic string, from map[int32]int64, ends map[int32]int64, log *slog.Logger, fn func(*kafka.Message) error) error {
	left := map[int32]bool{}
	var parts []kafka.TopicPartition
	for p, end := range ends {
		start, ok := from[p]
		if !ok {
			start = int64(kafka.OffsetBeginning)
		}
		if end > 0 && start < end {
			left[p] = true
			parts = append(parts, kafka.TopicPartition{Topic: &topic, Partition: p, Offset: kafka.Offset(start)})
		}
	}
	if len(parts) == 0 {
		return nil
	}
	if err := c.Assign(parts); err != nil {
		return fmt.Errorf("assign %s: %w", topic, err)
	}
	lastCheck, began := time.Now(), time.Now()
	warned := began
	for len(left) > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("reading %s to its end: %w", topic, err)
		}
		switch ev := c.Poll(100).(type) {
		case *kafka.Message:
			tp := ev.TopicPartition
			if tp.Error != nil {
				return fmt.Errorf("read %s[%d]: %w", topic, tp.Partition, tp.Error)
			}
			end := ends[tp.Partition]
			if int64(tp.Offset) >= end {
				continue // written since the end was taken
			}
			if err := fn(ev); err != nil {
				return err
			}
			if int64(tp.Offset)+1 >= end {
				delete(left, tp.Partition)
			}
			continue // records flow: no need to look at positions
		case kafka.PartitionEOF:
			if int64(ev.Offset) >= ends[ev.Partition] {
				delete(left, ev.Partition)
			}
		case kafka.Error:
			if ev.IsFatal() {
				return fmt.Errorf("read %s: %w", topic, ev)
			}
			log.Warn("reading to the end", "topic", topic, "err", ev)
		}
		// Idle or at an end-of-partition: see whether the positions have
		// stepped over trailing control records.
		if time.Since(lastCheck) < 200*time.Millisecond {
			continue
		}
		lastCheck = time.Now()
		pos, err := c.Position(parts)
		if err != nil {
			continue
		}
		for _, tp := range pos {
			if left[tp.Partition] && tp.Offset >= 0 && int64(tp.Offset) >= ends[tp.Partition] {
				delete(left, tp.Partition)
			}
		}
		if len(left) > 0 && time.Since(warned) >= waitWarning {
			// Held back, most likely by a transaction open below the end:
			// say where, so that a read that never ends is seen.
			warned = time.Now()
			for _, tp := range pos {
				if left[tp.Partition] {
					log.Warn("reading to the end: still below it", "topic", topic, "partition", tp.Partition,
						"position", tp.Offset, "end", ends[tp.Partition], "waited", time.Since(began).Round(time.Second))
				}
			}
		}
	}
	return nil
}
