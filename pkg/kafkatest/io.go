package kafkatest

import (
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Record is a key and value to produce.
type Record struct {
	Key, Value []byte
	Time       time.Time
	Headers    []kafka.Header
}

// Produce writes records to topic on the test broker with an idempotent
// producer and waits for every delivery report; any failed delivery fails
// the test.
func Produce(t testing.TB, topic string, records ...Record) {
	t.Helper()
	ProduceTo(t, Brokers(t), topic, records...)
}

// ProduceTo is Produce on the broker at brokers (a Disposable one).
func ProduceTo(t testing.TB, brokers, topic string, records ...Record) {
	t.Helper()
	p, err := kafka.NewProducer(&kafka.ConfigMap{
		"bootstrap.servers":  brokers,
		"enable.idempotence": true,
		"linger.ms":          5,
	})
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	defer p.Close()
	done := make(chan kafka.Event, len(records))
	for _, r := range records {
		m := &kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
			Key:            r.Key,
			Value:          r.Value,
			Timestamp:      r.Time,
			Headers:        r.Headers,
		}
		for {
			err := p.Produce(m, done)
			if err == nil {
				break
			}
			if ke, ok := err.(kafka.Error); ok && ke.Code() == kafka.ErrQueueFull {
				p.Flush(100)
				continue
			}
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}
	for range records {
		ev := <-done
		if m, ok := ev.(*kafka.Message); ok && m.TopicPartition.Error != nil {
			t.Fatalf("delivery to %s: %v", topic, m.TopicPartition.Error)
		}
	}
}

// ReadAll returns every committed record of topic, from the beginning to the
// end as a read_committed consumer sees it (the last stable offset), in
// partition order. It gives up after timeout.
func ReadAll(t testing.TB, topic string, timeout time.Duration) []*kafka.Message {
	t.Helper()
	c, err := kafka.NewConsumer(&kafka.ConfigMap{
		"bootstrap.servers":    Brokers(t),
		"group.id":             Group(t),
		"isolation.level":      "read_committed",
		"enable.auto.commit":   false,
		"enable.partition.eof": true,
	})
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	defer c.Close()
	md, err := c.GetMetadata(&topic, false, 10000)
	if err != nil {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	tm, ok := md.Topics[topic]
	if !ok || tm.Error.Code() != kafka.ErrNoError {
		t.Fatalf("topic %s: not found (%v)", topic, tm.Error)
	}
	var parts []kafka.TopicPartition
	for _, p := range tm.Partitions {
		parts = append(parts, kafka.TopicPartition{Topic: &topic, Partition: p.ID, Offset: kafka.OffsetBeginning})
	}
	if err := c.Assign(parts); err != nil {
		t.Fatalf("assign %s: %v", topic, err)
	}
	atEnd := map[int32]bool{}
	var out []*kafka.Message
	deadline := time.Now().Add(timeout)
	for len(atEnd) < len(parts) {
		if time.Now().After(deadline) {
			t.Fatalf("reading %s: not at the end after %s (%d records read)", topic, timeout, len(out))
		}
		switch ev := c.Poll(200).(type) {
		case *kafka.Message:
			out = append(out, ev)
			delete(atEnd, ev.TopicPartition.Partition)
		case kafka.PartitionEOF:
			atEnd[ev.Partition] = true
		case kafka.Error:
			if ev.IsFatal() {
				t.Fatalf("reading %s: %v", topic, ev)
			}
		}
	}
	return out
}
