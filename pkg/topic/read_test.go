package topic_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/topic"
)

func TestReadToTheHighWatermarkWaitsForAnOpenTransaction(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	name := kafkatest.Topic(t, "read", 2, nil)
	kafkatest.Produce(t, name, kafkatest.Record{Key: []byte("a"), Value: []byte("plain-a")}, kafkatest.Record{Key: []byte("b"), Value: []byte("plain-b")})

	p := kafkatest.TransactionalProducer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &name, Partition: 1}, Value: []byte("in-txn")}, nil); err != nil {
		t.Fatal(err)
	}
	p.Flush(10000)

	admin := kafkatest.Admin(t)
	high, err := topic.EndOffsets(ctx, admin, name, kafka.IsolationLevelReadUncommitted)
	if err != nil {
		t.Fatal(err)
	}
	stable, err := topic.EndOffsets(ctx, admin, name, kafka.IsolationLevelReadCommitted)
	if err != nil {
		t.Fatal(err)
	}
	if len(high) != 2 || stable[1] >= high[1] {
		t.Fatalf("end offsets with a transaction open on partition 1: high %v, stable %v; want the stable one below", high, stable)
	}

	c, err := kafka.NewConsumer(&kafka.ConfigMap{"bootstrap.servers": brokers, "group.id": kafkatest.Group(t),
		"isolation.level": "read_committed", "enable.auto.commit": false, "enable.partition.eof": true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan []string, 1)
	go func() {
		var got []string
		err := topic.ReadToEnd(ctx, c, name, high, slog.New(slog.DiscardHandler), func(m *kafka.Message) error {
			got = append(got, string(m.Value))
			return nil
		})
		if err != nil {
			got = append(got, err.Error())
		}
		done <- got
	}()
	if err := p.CommitTransaction(ctx); err != nil {
		t.Fatal(err)
	}
	// Written after the ends were taken: not part of the read.
	kafkatest.Produce(t, name, kafkatest.Record{Key: []byte("a"), Value: []byte("late")}, kafkatest.Record{Key: []byte("b"), Value: []byte("late")})
	select {
	case got := <-done:
		want := map[string]bool{"plain-a": true, "plain-b": true, "in-txn": true}
		if len(got) != len(want) {
			t.Fatalf("read %v, want exactly %v", got, want)
		}
		for _, v := range got {
			if !want[v] {
				t.Fatalf("read %v, want exactly %v", got, want)
			}
		}
	case <-time.After(60 * time.Second):
		t.Fatal("ReadToEnd did not return within 60s of the transaction's commit")
	}
}

func TestEndOffsetsOfAMissingTopicIsAnError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := topic.EndOffsets(ctx, kafkatest.Admin(t), kafkatest.Name(t, "missing"), kafka.IsolationLevelReadCommitted)
	if err == nil {
		t.Fatal("end offsets of a topic that does not exist: no error")
	}
}

func TestReadToEndFromStartsWhereItIsTold(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	name := kafkatest.Topic(t, "read", 2, nil)
	var recs []kafkatest.Record
	for i := range 10 {
		recs = append(recs, kafkatest.Record{Key: []byte("k"), Value: []byte{byte('0' + i)}})
	}
	kafkatest.Produce(t, name, recs...) // one key: every record on one partition
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	high, err := topic.EndOffsets(ctx, kafkatest.Admin(t), name, kafka.IsolationLevelReadUncommitted)
	if err != nil {
		t.Fatal(err)
	}
	from := map[int32]int64{}
	for p, end := range high {
		from[p] = end - 3 // an empty partition: from -3 to 0, not read
	}
	c, err := kafka.NewConsumer(&kafka.ConfigMap{"bootstrap.servers": brokers, "group.id": kafkatest.Group(t),
		"isolation.level": "read_committed", "enable.auto.commit": false, "enable.partition.eof": true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := ""
	err = topic.ReadToEndFrom(ctx, c, name, from, high, slog.New(slog.DiscardHandler), func(m *kafka.Message) error {
		got += string(m.Value)
		return nil
	})
	if err != nil || got != "789" {
		t.Fatalf("read %q, %v; want the last three records, 789", got, err)
	}
}
