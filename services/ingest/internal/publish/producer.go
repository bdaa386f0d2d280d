package publish

import (
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/topic"
)

// What both publishers share: the client's settings, a post's record, the
// handling of the client's error events and log lines, and the metrics
// they report alike. Publisher stays the plain producer the transactional
// one is measured against; only the writing of a post differs.

// withDefaults fills in the settings both publishers default alike.
func (c Config) withDefaults() Config {
	if c.ClientID == "" {
		c.ClientID = "ingest"
	}
	if c.Compression == "" {
		c.Compression = "lz4"
	}
	return c
}

// newProducer connects a producer with the settings both publishers share
// (idempotent, acks=all, cfg's codec and linger) and extra on top; its own
// log lines go through the service's logger (kafkaconn).
func newProducer(kc kafkaconn.Config, cfg Config, extra kafka.ConfigMap) (*kafka.Producer, error) {
	settings := kafka.ConfigMap{
		"enable.idempotence": true,
		"acks":               "all",
		"compression.type":   cfg.Compression,
		"linger.ms":          int(cfg.Linger / time.Millisecond),
	}
	maps.Copy(settings, extra)
	prod, err := kafka.NewProducer(kc.ConfigMap(cfg.ClientID, settings))
	if err != nil {
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	return prod, nil
}

// record is p's record for topic: keyed by the post id (so a post always
// lands on the same partition), with the source header, timestamped by the
// client when it is produced.
func record(topic *string, p post.Post) (*kafka.Message, error) {
	value, err := post.Encode(p)
	if err != nil {
		return nil, fmt.Errorf("encode post %s: %w", p.ID, err)
	}
	return &kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: topic, Partition: kafka.PartitionAny},
		Key:            []byte(p.ID),
		Value:          value,
		Headers:        []kafka.Header{{Key: HeaderSource, Value: []byte(p.Source)}},
	}, nil
}

// clientError logs an error event of the client and reports whether it is
// fatal: the producer can do nothing more.
func clientError(log *slog.Logger, e kafka.Error) (fatal bool) {
	if kafkaconn.IsFatal(e) {
		log.Error("producer failed", "err", e)
		return true
	}
	log.Warn("kafka client", "err", e, "code", e.Code().String())
	return false
}

// producedMetric counts the posts the brokers confirmed, by source; help
// says what confirmed means for the publisher.
func producedMetric(help string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hashtrend_ingest_posts_produced_total", Help: help,
	}, []string{"source"})
}

// queueDepthMetric shows the length of the local queue of the producer
// prod returns.
func queueDepthMetric(prod func() *kafka.Producer) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hashtrend_ingest_producer_queue_depth", Help: "Records in the producer's local queue, not yet confirmed.",
	}, func() float64 { return float64(prod().Len()) })
}

// topicReady is nil when the topic's metadata can be read within timeout.
func topicReady(prod *kafka.Producer, name string, timeout time.Duration) error {
	md, err := prod.GetMetadata(&name, false, int(timeout/time.Millisecond))
	if err != nil {
		return fmt.Errorf("kafka unreachable: %w", err)
	}
	if _, ok := topic.Found(md, name); !ok {
		return fmt.Errorf("topic %s has no metadata", name)
	}
	return nil
}
