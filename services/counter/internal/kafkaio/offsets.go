package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/retry"
)

// ErrUnstable marks a committed offset the broker cannot tell yet: a
// transaction holding offsets for the partition is still open (a member
// that died inside its commit, or one whose markers are not written yet).
var ErrUnstable = errors.New("committed offset not stable yet")

// startOffsets turns the answer of Consumer.Committed into the offsets to
// start from: the committed offset, or OffsetBeginning where nothing was
// ever committed. A partition answered with an error is never taken for
// "nothing committed": an unstable offset gives ErrUnstable (ask again),
// any other error is returned as it is.
func startOffsets(committed []kafka.TopicPartition) ([]kafka.TopicPartition, error) {
	out := make([]kafka.TopicPartition, 0, len(committed))
	for _, tp := range committed {
		if tp.Error != nil {
			var ke kafka.Error
			if errors.As(tp.Error, &ke) && ke.Code() == kafka.ErrUnstableOffsetCommit {
				return nil, fmt.Errorf("%s[%d]: %w", *tp.Topic, tp.Partition, ErrUnstable)
			}
			return nil, fmt.Errorf("committed offset of %s[%d]: %w", *tp.Topic, tp.Partition, tp.Error)
		}
		if tp.Offset < 0 {
			if tp.Offset != kafka.OffsetInvalid {
				return nil, fmt.Errorf("committed offset of %s[%d]: unexpected %v", *tp.Topic, tp.Partition, tp.Offset)
			}
			tp.Offset = kafka.OffsetBeginning // nothing committed yet
		}
		out = append(out, tp)
	}
	return out, nil
}

// Committed returns the offsets to resume parts from (committed offsets,
// Beginning where nothing was ever committed, with their metadata), as
// stable committed offsets: while the broker cannot tell a partition's
// offset because a transaction holding offsets for it is still open, it
// asks again, until that transaction is resolved or ctx ends. That wait is
// what makes a new owner start exactly where a dead one's last committed
// transaction left off: the dead member's open transaction is aborted when
// it times out, its committing one is completed.
func (c *Consumer) Committed(ctx context.Context, parts []int32) ([]Offset, error) {
	if len(parts) == 0 {
		return nil, nil
	}
	tps := topicPartitions(&c.topic, parts)
	began := time.Now()
	warned := began
	for {
		got, err := c.c.Committed(tps, 5000)
		if err == nil {
			var start []kafka.TopicPartition
			if start, err = startOffsets(got); err == nil {
				if waited := time.Since(began); waited > time.Second {
					c.log.Info("committed offsets stable", "waited", waited.Round(time.Millisecond))
				}
				return fromKafka(start), nil
			}
		}
		if !errors.Is(err, ErrUnstable) && kafkaconn.Classify(err) != kafkaconn.Retriable {
			var ke kafka.Error
			if errors.As(err, &ke) && kafkaconn.IsFatal(ke) {
				err = &ConsumerFailed{Err: ke}
			}
			return nil, fmt.Errorf("committed offsets: %w", err)
		}
		if time.Since(warned) > 5*time.Second {
			warned = time.Now()
			c.log.Warn("committed offsets not stable yet, waiting for an open transaction to end", "waited", time.Since(began).Round(time.Second), "err", err)
		}
		if err := retry.Sleep(ctx, 200*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// Assign adds the partitions of start to the assignment at those explicit
// offsets, routing them to the batch queue first when the consumer has
// one (see Route). Call it from the rebalance callback, with offsets from
// Committed (or what the stage knows better), never IncrementalAssign with
// unset offsets: librdkafka's own lookup of the committed offsets, when it
// finds them unstable and the assignment changes before they become
// stable, starts the partition at auto.offset.reset (the beginning) as if
// nothing had been committed, which reads again what the partition's last
// owner counted. With explicit offsets librdkafka never looks the start
// offset up itself.
func (c *Consumer) Assign(start []Offset) error {
	parts := make([]int32, len(start))
	for i, o := range start {
		if o.Offset < 0 && o.Offset != Beginning {
			return fmt.Errorf("assign %s[%d]: no start offset (%d)", c.topic, o.Partition, o.Offset)
		}
		parts[i] = o.Partition
	}
	if err := c.route(parts); err != nil {
		return err
	}
	tps := toKafka(&c.topic, start)
	if err := c.c.IncrementalAssign(tps); err != nil {
		return fmt.Errorf("assign %v: %w", tps, err)
	}
	return nil
}

// AssignAsIs adds parts to the assignment without start offsets, for the
// rebalance to complete while the stage stops (a shutdown, or a fatal
// error it is about to return): nothing is read from them any more.
func (c *Consumer) AssignAsIs(parts []int32) error {
	_ = c.route(parts) // a queue closed for the stop: nothing is read
	return c.c.IncrementalAssign(topicPartitions(&c.topic, parts))
}

// Unassign removes parts from the assignment (from the rebalance callback
// of a revoke).
func (c *Consumer) Unassign(parts []int32) error {
	return c.c.IncrementalUnassign(topicPartitions(&c.topic, parts))
}

// Seek moves assigned partitions to offsets, as after an aborted
// transaction, so that what it consumed is read again; the records
// fetched before are dropped.
func (c *Consumer) Seek(offsets []Offset) error {
	for _, tp := range toKafka(&c.topic, offsets) {
		if err := c.c.Seek(tp, 0); err != nil {
			return fmt.Errorf("seek %s[%d] to %v: %w", c.topic, tp.Partition, tp.Offset, err)
		}
	}
	return nil
}

// Assignment is the partitions assigned.
func (c *Consumer) Assignment() ([]int32, error) {
	tps, err := c.c.Assignment()
	if err != nil {
		return nil, fmt.Errorf("%s assignment: %w", c.name, err)
	}
	return partitions(tps), nil
}

// Position is the offset of the next record of partition that the stage
// will be handed.
func (c *Consumer) Position(partition int32) (int64, error) {
	pos, err := c.c.Position(topicPartitions(&c.topic, []int32{partition}))
	if err != nil {
		return 0, err
	}
	return int64(pos[0].Offset), nil
}

// End is partition's high watermark as the broker tells it (the offset
// after its last record, transaction markers included).
func (c *Consumer) End(partition int32) (int64, error) {
	_, hi, err := c.c.QueryWatermarkOffsets(c.topic, partition, 1000)
	return hi, err
}
