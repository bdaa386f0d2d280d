// Package kafkaio is the counter's one boundary with confluent-kafka-go:
// the stages see plain records (Record, read one by one or in chunks),
// partition offsets (Offset) and messages to produce (Message), never the
// client's types. Behind it are the clients' settings (config.go), the
// transactional producer and the transaction discipline (txn.go), the
// group consumer with its rebalance callback, its events and its close
// (consumer.go), the stable committed offsets a partition starts from
// (offsets.go), and the bridge to pkg/batch's queue that tally reads
// millions of posts through (chunk.go).
//
// A consumer reads one topic, the stage's input, so records and offsets
// name a partition and not a topic.
package kafkaio

import (
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Record is one record of a stage's input. Key and Value may alias a
// buffer read into again (see Chunk): what outlives the call that is
// handed the record must be copied.
type Record struct {
	Partition  int32
	Offset     int64
	Key, Value []byte // nil for a null key or value
}

// Offset is where a partition of a stage's input is read from next: a
// committed offset, a start offset or a position.
type Offset struct {
	Partition int32
	Offset    int64
	// Metadata is committed with the offset and read back with it ("" for
	// none).
	Metadata string
}

// Beginning is the Offset of a partition that has nothing committed: its
// first retained record.
const Beginning = int64(kafka.OffsetBeginning)

// Message is a record to produce in a transaction.
type Message struct {
	Topic     string
	Partition int32 // AnyPartition: the producer's partitioner chooses
	Key       []byte
	Value     []byte
	Time      time.Time // zero: the time it is produced
	Headers   []Header
}

// AnyPartition lets the producer's partitioner choose a Message's
// partition.
const AnyPartition = kafka.PartitionAny

// Header is a header of a Message.
type Header struct {
	Key   string
	Value []byte
}

// partitions is the partition numbers of tps.
func partitions(tps []kafka.TopicPartition) []int32 {
	out := make([]int32, len(tps))
	for i, tp := range tps {
		out[i] = tp.Partition
	}
	return out
}

// topicPartitions is parts of topic, at offsets when given, else unset.
func topicPartitions(topic *string, parts []int32) []kafka.TopicPartition {
	out := make([]kafka.TopicPartition, len(parts))
	for i, p := range parts {
		out[i] = kafka.TopicPartition{Topic: topic, Partition: p, Offset: kafka.OffsetInvalid}
	}
	return out
}

// toKafka is offsets of topic as confluent-kafka-go's type.
func toKafka(topic *string, offsets []Offset) []kafka.TopicPartition {
	out := make([]kafka.TopicPartition, len(offsets))
	for i, o := range offsets {
		out[i] = kafka.TopicPartition{Topic: topic, Partition: o.Partition, Offset: kafka.Offset(o.Offset)}
		if o.Metadata != "" {
			md := o.Metadata
			out[i].Metadata = &md
		}
	}
	return out
}

// fromKafka is tps as Offsets.
func fromKafka(tps []kafka.TopicPartition) []Offset {
	out := make([]Offset, len(tps))
	for i, tp := range tps {
		out[i] = Offset{Partition: tp.Partition, Offset: int64(tp.Offset)}
		if tp.Metadata != nil {
			out[i].Metadata = *tp.Metadata
		}
	}
	return out
}
