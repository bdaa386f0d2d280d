package app

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
)

// endOffsets sums the high watermarks of topic's partitions.
func endOffsets(brokers, topic string) (int64, error) {
	c, err := kafka.NewConsumer(&kafka.ConfigMap{"bootstrap.servers": brokers, "group.id": "unused"})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	md, err := c.GetMetadata(&topic, false, 5000)
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, p := range md.Topics[topic].Partitions {
		_, hi, err := c.QueryWatermarkOffsets(topic, p.ID, 5000)
		if err != nil {
			return 0, err
		}
		sum += hi
	}
	return sum, nil
}

// distinctKeys reads topic to its end, read_committed, and returns its
// record count and distinct keys.
func distinctKeys(t *testing.T, brokers, topic string) (int, int) {
	c, err := kafka.NewConsumer(&kafka.ConfigMap{"bootstrap.servers": brokers, "group.id": kafkatest.Group(t),
		"auto.offset.reset": "earliest", "enable.partition.eof": true, "enable.auto.commit": false,
		"isolation.level": "read_committed"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	md, err := c.GetMetadata(&topic, false, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var parts []kafka.TopicPartition
	for _, p := range md.Topics[topic].Partitions {
		parts = append(parts, kafka.TopicPartition{Topic: &topic, Partition: p.ID, Offset: kafka.OffsetBeginning})
	}
	if err := c.Assign(parts); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	n, eof := 0, map[int32]bool{}
	deadline := time.Now().Add(60 * time.Second)
	for len(eof) < len(parts) && time.Now().Before(deadline) {
		switch ev := c.Poll(200).(type) {
		case *kafka.Message:
			n++
			keys[string(ev.Key)] = true
			delete(eof, ev.TopicPartition.Partition)
		case kafka.PartitionEOF:
			eof[ev.Partition] = true
		}
	}
	return n, len(keys)
}

// TestBrokerOutageDuringARunLosesNoPost stops the broker in the middle of a
// synthetic run and starts it again: the run ends normally and the topic
// holds every post the source generated, each once. The small producer
// queue makes the source block during the outage instead of buffering it.
func TestBrokerOutageDuringARunLosesNoPost(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and restarts a broker")
	}
	broker := kafkatest.Disposable(t)
	brokers := broker.Addr
	const count, rate = 6000, 600
	name := kafkatest.Name(t, "tweets")
	cfg := load(t, map[string]string{
		"KAFKA_BROKERS": brokers, "INGEST_OPS_ADDR": "off", "TOPIC_TWEETS": name, "TOPIC_TWEETS_PARTITIONS": "3",
		"INGEST_SOURCE": "synthetic", "INGEST_SYNTHETIC_SEED": "9", "INGEST_SYNTHETIC_COUNT": fmt.Sprint(count),
		"INGEST_SYNTHETIC_RATE": fmt.Sprint(rate), "INGEST_QUEUE_MESSAGES": "500",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, cfg, quietLog()) }()

	// Wait until posts flow, then take the broker away for a while.
	deadline := time.Now().Add(90 * time.Second)
	for {
		if n, err := endOffsets(brokers, name); err == nil && n >= 1000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no 1000 posts in the topic after 90 s")
		}
		time.Sleep(200 * time.Millisecond) // polling the topic, not waiting for an event
	}
	stopping := time.Now()
	broker.Stop()
	t.Logf("broker stopped in %s", time.Since(stopping).Round(time.Second))
	select {
	case err := <-errc:
		t.Fatalf("Run ended while the broker was down: %v", err)
	case <-time.After(5 * time.Second): // the outage itself
	}
	starting := time.Now()
	broker.Start()
	t.Logf("broker started in %s", time.Since(starting).Round(time.Second))
	if err := <-errc; err != nil {
		t.Fatalf("Run after the outage: %v", err)
	}
	n, distinct := distinctKeys(t, brokers, name)
	if distinct != count || n != count {
		t.Fatalf("%d distinct posts in the topic (%d records, read_committed), the source generated %d", distinct, n, count)
	}
}
