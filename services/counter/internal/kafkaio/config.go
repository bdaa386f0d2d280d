package kafkaio

import (
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
)

// ProducerConfig is the transactional producer's librdkafka settings:
// message.timeout.ms stays below transaction.timeout.ms so that a record
// that cannot be delivered fails its transaction before the coordinator
// times the transaction out.
//
// Delivery failures surface at commit, so no delivery reports are asked
// for: nothing reads the producer's Events channel, and once it had filled
// up with reports (1,000,000 records after the start), every commit failed
// to flush. ProduceChannel is never used either, so it gets no buffer of a
// million pointers for the garbage collector to scan on every cycle.
func ProducerConfig(transactionalID string, txnTimeout time.Duration, maxMessageBytes int) kafka.ConfigMap {
	return kafka.ConfigMap{
		"go.delivery.reports":      false,
		"go.produce.channel.size":  0,
		"transactional.id":         transactionalID,
		"enable.idempotence":       true,
		"acks":                     "all",
		"transaction.timeout.ms":   int(txnTimeout.Milliseconds()),
		"message.timeout.ms":       int(txnTimeout.Milliseconds() * 8 / 10),
		"linger.ms":                5,
		"compression.type":         "lz4",
		"message.max.bytes":        maxMessageBytes,
		"reconnect.backoff.max.ms": kafkaconn.ReconnectBackoffMax,
		"retry.backoff.max.ms":     retryBackoffMax,
	}
}

// retryBackoffMax caps librdkafka's back-off between retries of a request
// (1 s by default, doubling from 100 ms): a restarted broker answers
// "coordinator loading" for a while, and InitTransactions and the group
// join then retried up to a second after it had loaded.
const retryBackoffMax = 250

// heartbeatInterval is a sixtieth of the session timeout, at least 100 ms
// (librdkafka's default is a fixed 3 s): a member learns that its group
// rebalances at its next heartbeat, so when a dead member's session ends
// the standby that takes its partitions over hears of it within that
// time instead of up to 3 s later. A twentieth (300 ms at a 6 s session)
// made it up to 0.4 s late.
func heartbeatInterval(sessionTimeout time.Duration) int {
	return int(max(sessionTimeout/60, 100*time.Millisecond).Milliseconds())
}

// ConsumerConfig is the librdkafka settings of a stage's consumer: a member
// of group that reads only committed records and never commits offsets
// itself (they go into the producer's transactions), with cooperative
// rebalancing so that a member joining or leaving moves only the
// partitions it must. extra adds or overrides settings.
//
// The member is static (KIP-345): instance is its group.instance.id, so a
// process restarted under the same id within the session timeout gets its
// partitions back without a rebalance, and the group's other members
// never stop for it. The price: a static member that stops for good does
// not leave the group, and its partitions move only after the session
// timeout. A static member the group fences (another member joined under
// its id, which librdkafka itself does after a broker restart) gets a
// fatal error: the stage then fails and runs again with new clients
// (see package stage's loop and app's supervisor).
func ConsumerConfig(group, instance string, sessionTimeout, statsInterval time.Duration, extra kafka.ConfigMap) kafka.ConfigMap {
	m := kafka.ConfigMap{
		"group.id":                      group,
		"group.instance.id":             instance,
		"isolation.level":               "read_committed",
		"enable.auto.commit":            false,
		"enable.auto.offset.store":      false,
		"auto.offset.reset":             "earliest",
		"partition.assignment.strategy": "cooperative-sticky",
		"session.timeout.ms":            int(sessionTimeout.Milliseconds()),
		"heartbeat.interval.ms":         heartbeatInterval(sessionTimeout),
		"reconnect.backoff.max.ms":      kafkaconn.ReconnectBackoffMax,
		"retry.backoff.max.ms":          retryBackoffMax,
		"statistics.interval.ms":        int(statsInterval.Milliseconds()),
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}
