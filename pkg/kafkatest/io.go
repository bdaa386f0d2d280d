package kafkatest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/partition"
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
	if err := ProduceE(brokers, topic, records...); err != nil {
		t.Fatal(err)
	}
}

// ProduceE is ProduceTo for goroutines other than the test's: it returns
// the first failure instead of failing the test. Records may be as large
// as 8 MiB (the topic's max.message.bytes permitting); batches are
// compressed with lz4.
func ProduceE(brokers, topic string, records ...Record) error {
	p, err := kafka.NewProducer(&kafka.ConfigMap{
		"bootstrap.servers":  brokers,
		"enable.idempotence": true,
		"linger.ms":          5,
		"message.max.bytes":  8 << 20,
		"compression.type":   "lz4",
	})
	if err != nil {
		return fmt.Errorf("producer: %w", err)
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
			if kafkaconn.QueueFull(err) {
				p.Flush(100)
				continue
			}
			return fmt.Errorf("produce to %s: %w", topic, err)
		}
	}
	var failed error
	for range records {
		ev := <-done
		if m, ok := ev.(*kafka.Message); ok && m.TopicPartition.Error != nil && failed == nil {
			failed = fmt.Errorf("delivery to %s: %w", topic, m.TopicPartition.Error)
		}
	}
	return failed
}

// ReadAll returns every committed record of topic, from the beginning to
// the high watermark as it is when the read starts, read_committed, in
// partition order: the read waits until every transaction below that end
// is decided. The last stable offset would not do as the end: a producer's
// CommitTransaction returns once the coordinator has decided, before the
// markers are written, so a read right after a commit could end before
// the records it committed. It gives up after timeout.
func ReadAll(t testing.TB, topic string, timeout time.Duration) []*kafka.Message {
	t.Helper()
	return ReadAllFrom(t, Brokers(t), topic, timeout)
}

// ReadAllFrom is ReadAll on the broker at brokers (a Disposable one).
func ReadAllFrom(t testing.TB, brokers, name string, timeout time.Duration) []*kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kafka.Message
	err := partition.ReadAll(ctx, partition.Config{Kafka: kafkaconn.Config{Brokers: brokers, SecurityProtocol: "plaintext"},
		Client: Group(t), Topic: name, Messages: true}, kafka.IsolationLevelReadUncommitted, func(rec partition.Record) error {
		out = append(out, rec.Message)
		return nil
	})
	if err != nil {
		t.Fatalf("%v (%d records read in %s)", err, len(out), timeout)
	}
	return out
}

// TransactionalProducer returns a producer on the test broker with a
// transactional.id of its own and its transactions initialised; it is
// closed when the test ends.
func TransactionalProducer(t testing.TB) *kafka.Producer {
	t.Helper()
	p, err := kafka.NewProducer(&kafka.ConfigMap{
		"bootstrap.servers":      Brokers(t),
		"transactional.id":       Name(t, "txn"),
		"transaction.timeout.ms": 30000,
	})
	if err != nil {
		t.Fatalf("transactional producer: %v", err)
	}
	t.Cleanup(p.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.InitTransactions(ctx); err != nil {
		t.Fatalf("init transactions: %v", err)
	}
	return p
}
