package kafkatest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/topic"
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
	return ReadAllFrom(t, Brokers(t), topic, timeout)
}

// ReadAllFrom is ReadAll on the broker at brokers (a Disposable one).
func ReadAllFrom(t testing.TB, brokers, name string, timeout time.Duration) []*kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	admin, err := kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": brokers})
	if err != nil {
		t.Fatalf("admin client: %v", err)
	}
	ends, err := topic.EndOffsets(ctx, admin, name, kafka.IsolationLevelReadCommitted)
	admin.Close()
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	c, err := kafka.NewConsumer(&kafka.ConfigMap{
		"bootstrap.servers":    brokers,
		"group.id":             Group(t),
		"isolation.level":      "read_committed",
		"enable.auto.commit":   false,
		"enable.partition.eof": true,
	})
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	defer c.Close()
	var out []*kafka.Message
	err = topic.ReadToEnd(ctx, c, name, ends, slog.New(slog.DiscardHandler), func(m *kafka.Message) error {
		out = append(out, m)
		return nil
	})
	if err != nil {
		t.Fatalf("%v (%d records read in %s)", err, len(out), timeout)
	}
	return out
}
