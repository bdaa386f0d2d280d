package kafkaio

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/batch"
	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
)

// Consumer is a stage's member of its consumer group on its input topic,
// read_committed and never committing by itself (ConsumerConfig).
//
// Its records come one by one through Poll, or, when it was made with
// Batched, in chunks through Read: pkg/batch's queue, to which every
// partition is routed before it is assigned (Assign does it), so that Poll
// serves only events. Each partition assigned again needs a new route: an
// unassign clears it (see pkg/batch).
type Consumer struct {
	c       *kafka.Consumer
	kc      kafkaconn.Config
	name    string // the stage's, for errors and logs
	group   string
	topic   string
	q       *batch.Queue // nil when not batched, or closed
	batched bool
	stats   func(json string)
	log     *slog.Logger
	cb      kafka.RebalanceCb // as subscribed, for Close
}

// ConsumerOptions is what a stage's consumer is made of besides its
// connection.
type ConsumerOptions struct {
	Name           string // the stage: client.id counter-Name, group.instance.id Instance-Name
	Group          string
	Instance       string
	Topic          string
	SessionTimeout time.Duration
	StatsInterval  time.Duration
	// Settings adds or overrides librdkafka settings of the stage's own.
	Settings map[string]any
	// Batched reads the records in chunks through a batch queue (Read)
	// instead of one by one (Poll).
	Batched bool
	// Stats is handed each statistics event's JSON.
	Stats func(json string)
}

// NewConsumer makes the consumer of a stage.
func NewConsumer(kc kafkaconn.Config, o ConsumerOptions, log *slog.Logger) (*Consumer, error) {
	extra := kafka.ConfigMap{}
	for k, v := range o.Settings {
		extra[k] = v
	}
	kcc, err := kafka.NewConsumer(kc.ConsumerConfigMap("counter-"+o.Name,
		ConsumerConfig(o.Group, o.Instance+"-"+o.Name, o.SessionTimeout, o.StatsInterval, extra)))
	if err != nil {
		return nil, fmt.Errorf("%s consumer: %w", o.Name, err)
	}
	c := &Consumer{c: kcc, kc: kc, name: o.Name, group: o.Group, topic: o.Topic, stats: o.Stats, log: log, batched: o.Batched}
	if o.Batched {
		if c.q, err = batch.New(kcc, o.Topic); err != nil {
			kcc.Close()
			return nil, fmt.Errorf("%s: %w", o.Name, err)
		}
	}
	return c, nil
}

// Rebalance is what a stage does when its assignment changes; both run
// inside Poll (or Events, or Close) and must change the assignment
// themselves: Assigned with Assign (or AssignAsIs), Revoked with Unassign.
type Rebalance struct {
	Assigned func(parts []int32) error
	// Revoked is told lost when the partitions were lost rather than
	// revoked: the group has moved on, and offsets may no longer be
	// committed by this member.
	Revoked func(parts []int32, lost bool) error
}

// Subscribe joins the group on the consumer's topic with r.
func (c *Consumer) Subscribe(r Rebalance) error {
	c.cb = func(kc *kafka.Consumer, ev kafka.Event) error {
		switch e := ev.(type) {
		case kafka.AssignedPartitions:
			return r.Assigned(partitions(e.Partitions))
		case kafka.RevokedPartitions:
			return r.Revoked(partitions(e.Partitions), kc.AssignmentLost())
		}
		return nil
	}
	if err := c.c.SubscribeTopics([]string{c.topic}, c.cb); err != nil {
		return fmt.Errorf("subscribe %s: %w", c.topic, err)
	}
	return nil
}

// route sends parts' records to the batch queue, when there is one.
func (c *Consumer) route(parts []int32) error {
	if !c.batched {
		return nil
	}
	if c.q == nil {
		return fmt.Errorf("route %v: the batch queue is closed", parts)
	}
	return c.q.Route(topicPartitions(&c.topic, parts))
}

// Poll waits up to wait for a record and returns it, serving the events
// that come meanwhile (Event). ok is false when no record came.
func (c *Consumer) Poll(wait time.Duration) (r Record, ok bool, err error) {
	if err := c.closed(); err != nil {
		return Record{}, false, err
	}
	switch ev := c.c.Poll(max(int(wait.Milliseconds()), 1)).(type) {
	case nil:
		return Record{}, false, nil
	case *kafka.Message:
		return Record{Partition: ev.TopicPartition.Partition, Offset: int64(ev.TopicPartition.Offset), Key: ev.Key, Value: ev.Value}, true, nil
	default:
		return Record{}, false, c.event(ev)
	}
}

// Events serves what the consumer queue holds, without waiting:
// rebalances (the callback runs inside Poll), statistics and errors. A
// batched consumer's queue holds no records: every assigned partition is
// routed to the batch queue first (Assign).
func (c *Consumer) Events() error {
	if err := c.closed(); err != nil {
		return err
	}
	for {
		ev := c.c.Poll(0)
		if ev == nil {
			return nil
		}
		if m, ok := ev.(*kafka.Message); ok {
			return fmt.Errorf("%s: record %v came through the consumer queue; its partition was assigned without a route", c.name, m.TopicPartition)
		}
		if err := c.event(ev); err != nil {
			return err
		}
	}
}

// closed is an error once the consumer is closed: confluent-kafka-go's
// Poll does not ask, and would reach the client's freed queue.
func (c *Consumer) closed() error {
	if c.c.IsClosed() {
		return fmt.Errorf("%s consumer: closed", c.name)
	}
	return nil
}

// Read fills chunk with the records of the batch queue at hand, waiting
// up to wait for the first when none is; false when no record came.
func (c *Consumer) Read(chunk *Chunk, wait time.Duration) bool {
	return c.q.Read(chunk.c, max(int(wait.Milliseconds()), 1))
}

// ConsumerFailed marks the fatal error of a stage's consumer, such as a
// static member fenced by another member under its group.instance.id. The
// stage returns it; its supervisor runs it again with new clients.
type ConsumerFailed struct{ Err kafka.Error }

func (e *ConsumerFailed) Error() string { return "consumer failed: " + e.Err.Error() }
func (e *ConsumerFailed) Unwrap() error { return e.Err }

// event serves a consumer event that is not a record: statistics go to
// the stats func, a refusal by the cluster (a missing ACL, a failed
// authentication) ends the stage with the resource it concerns, another
// fatal error ends it too (a ConsumerFailed, which its supervisor answers
// with new clients), any other error is logged, as the client retries by
// itself.
func (c *Consumer) event(ev kafka.Event) error {
	switch ev := ev.(type) {
	case *kafka.Stats:
		if c.stats != nil {
			c.stats(ev.String())
		}
	case kafka.Error:
		if kafkaconn.Denied(ev) {
			res := "READ topic " + c.topic
			if ev.Code() == kafka.ErrGroupAuthorizationFailed {
				res = "READ group " + c.group
			}
			return fmt.Errorf("%s consumer: %w", c.name, c.kc.Refused(ev, res))
		}
		if kafkaconn.IsFatal(ev) {
			return fmt.Errorf("%s: %w", c.name, &ConsumerFailed{Err: ev})
		}
		c.log.Warn(c.name+" consumer", "err", ev)
	}
	return nil
}

// Close closes the batch queue, if any (its records are dropped), then the
// consumer, whose revoke runs the rebalance callback once more, unless the
// consumer raised a fatal error. Such a consumer cannot be closed:
// librdkafka refuses to begin the close ("consumer closed after fatal
// error") and confluent-kafka-go's Close then waits for it forever, so the
// stage would never return to its supervisor. The fatal state may not have
// reached the stage yet (a call such as a seek failed first), so it is
// asked for: librdkafka refuses a subscription with ErrFatal once the
// consumer is fatal, and subscribing again to the same topics changes
// nothing otherwise (cooperative rebalancing: nothing is revoked). A fatal
// consumer is destroyed instead (batch.Destroy): its goroutines, queues,
// threads and buffers go, without a revoke, a leave or a rebalance
// callback. It sends nothing more to its group, and the stage's next
// consumer, under the same group.instance.id, takes its partitions back.
func (c *Consumer) Close() error {
	if c.q != nil { // before the consumer's close, while its client lives
		c.q.Close()
		c.q = nil
	}
	err := c.c.SubscribeTopics([]string{c.topic}, c.cb)
	var ke kafka.Error
	if errors.As(err, &ke) && ke.Code() == kafka.ErrFatal {
		if derr := batch.Destroy(c.c); derr != nil {
			c.log.Error(c.name+" consumer left unclosed after its fatal error", "err", derr)
			return fmt.Errorf("%s consumer after its fatal error: %w", c.name, derr)
		}
		c.log.Info(c.name + " consumer destroyed after its fatal error")
		return nil
	}
	return c.c.Close()
}
