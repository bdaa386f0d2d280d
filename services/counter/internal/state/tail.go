package state

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/topic"
)

// Tail follows one partition of the state topic from its beginning,
// read_committed, applying every record as it comes: a standby rank keeps
// its totals current with it, so that taking over costs a CatchUp of the
// last windows' records rather than a Restore of the whole topic. A Tail
// is used by one goroutine at a time.
type Tail struct {
	kc        kafkaconn.Config
	c         *kafka.Consumer
	name      string
	partition int32
	log       *slog.Logger
	next      int64 // the offset after the last record applied
	records   int64
}

// OpenTail starts following partition of the topic name.
func OpenTail(kc kafkaconn.Config, name string, partition int32, log *slog.Logger) (*Tail, error) {
	c, err := kafka.NewConsumer(kc.ConsumerConfigMap("counter-standby", kafka.ConfigMap{
		"group.id":             "counter-standby-unused", // required by the client; never joined
		"isolation.level":      "read_committed",
		"enable.auto.commit":   false,
		"enable.partition.eof": true,
		// Should compaction ever move the start past the tail's offset,
		// reading again from the beginning builds the same totals.
		"auto.offset.reset": "earliest",
	}))
	if err != nil {
		return nil, fmt.Errorf("standby consumer: %w", err)
	}
	if err := c.Assign([]kafka.TopicPartition{{Topic: &name, Partition: partition, Offset: kafka.OffsetBeginning}}); err != nil {
		c.Close()
		return nil, fmt.Errorf("standby assign %s[%d]: %w", name, partition, err)
	}
	return &Tail{kc: kc, c: c, name: name, partition: partition, log: log}, nil
}

// Partition is the partition the tail follows.
func (t *Tail) Partition() int32 { return t.partition }

// Records is how many records the tail has applied.
func (t *Tail) Records() int64 { return t.records }

// Follow applies each record of the partition in order until ctx ends
// (then it returns nil) or a record does not decode.
func (t *Tail) Follow(ctx context.Context, apply func(Record) error) error {
	for ctx.Err() == nil {
		switch ev := t.c.Poll(100).(type) {
		case *kafka.Message:
			if err := t.apply(ev, apply); err != nil {
				return err
			}
		case kafka.Error:
			if ev.IsFatal() {
				return fmt.Errorf("standby consumer: %w", ev)
			}
			t.log.Debug("standby consumer", "err", ev)
		}
	}
	return nil
}

func (t *Tail) apply(m *kafka.Message, apply func(Record) error) error {
	if m.TopicPartition.Error != nil {
		return fmt.Errorf("standby read %s[%d]: %w", t.name, t.partition, m.TopicPartition.Error)
	}
	r, err := DecodeRecord(m.Key, m.Value)
	if err == nil {
		err = apply(r)
	}
	if err != nil {
		return fmt.Errorf("standby %s[%d]@%d: %w", t.name, t.partition, m.TopicPartition.Offset, err)
	}
	t.next = int64(m.TopicPartition.Offset) + 1
	t.records++
	return nil
}

// CatchUp applies the records from where Follow stopped to the partition's
// end offset as it stands now: the high watermark, as for Restore, so that
// a predecessor's open transaction holds it back until it is resolved. It
// returns the records it applied.
func (t *Tail) CatchUp(ctx context.Context, apply func(Record) error) (int64, error) {
	end, err := endOffset(ctx, t.kc, t.name, t.partition, t.log)
	if err != nil {
		return 0, err
	}
	before := t.records
	from := map[int32]int64{}
	if t.records > 0 {
		from[t.partition] = t.next
	}
	err = topic.ReadToEndFrom(ctx, t.c, t.name, from, map[int32]int64{t.partition: end}, t.log,
		func(m *kafka.Message) error { return t.apply(m, apply) })
	return t.records - before, err
}

// Close stops following.
func (t *Tail) Close() { t.c.Close() }
