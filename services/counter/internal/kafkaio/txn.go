// Package txn holds the transactional discipline both counter stages share,
// after confluent-kafka-go's transactions example: a transaction is opened,
// filled, given the consumed offsets and committed in one call; retriable
// errors are retried, an error that spoils the transaction aborts it (the
// caller then rewinds to the committed offsets and drops what it built), and
// a fatal error, a fenced producer included, ends the stage. Errors are
// sorted by kafkaconn.Classify, the one place that does it.
package txn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/retry"
	"github.com/hashtrend/hashtrend/services/counter/internal/metrics"
)

// ErrAborted is returned when the transaction was aborted: nothing of it is
// visible to read_committed readers and the consumed offsets were not
// committed. The caller rewinds and drops its state.
var ErrAborted = errors.New("transaction aborted")

// opTimeout bounds one attempt of InitTransactions. The calls of a
// transaction are bounded by its own timeout instead (Commit), not by the
// stage's context, so that a shutdown still finishes or aborts the open
// transaction.
const opTimeout = 30 * time.Second

// again retries the errors Kafka calls retriable.
func again(err error, _ time.Duration) bool { return kafkaconn.Classify(err) == kafkaconn.Retriable }

// retryUntil runs op until it succeeds, fails for good, or the deadline
// passes.
func retryUntil(what string, deadline time.Time, op func(ctx context.Context) error) error {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := retry.Do(ctx, retry.Policy{Wait: 100 * time.Millisecond}, again, op); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Init initialises the producer's transactions, which fences and aborts the
// open transaction of an earlier producer with the same transactional.id.
// It retries until ctx ends.
func Init(ctx context.Context, p *kafka.Producer, log *slog.Logger) error {
	err := retry.Do(ctx, retry.Policy{Wait: 500 * time.Millisecond, Attempt: opTimeout}, func(err error, _ time.Duration) bool {
		if kafkaconn.Classify(err) == kafkaconn.Fatal {
			return false
		}
		log.Warn("init transactions, retrying", "err", err)
		return true
	}, p.InitTransactions)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("init transactions: %w", err)
	}
	return nil
}

// ErrExpired is returned when a transaction could not be ended within its
// transaction timeout (a broker restart, a coordinator that cannot be
// reached): the coordinator aborts it by itself then, and an abort from
// this producer only waits for that and then fails for good. The stage
// stops instead; its next producer's InitTransactions, with the same
// transactional.id, fences this one and has the coordinator abort the
// transaction at once, so that read_committed readers held back by it go
// on as soon as the coordinator answers again.
var ErrExpired = errors.New("transaction outlived its timeout")

// Commit runs one whole transaction: it begins it, calls fill to produce
// its records (through Produce), sends offsets with the consumer's group
// metadata when there are any, and commits, all within timeout, the
// producer's transaction.timeout.ms. It returns nil once committed, an
// error wrapping ErrAborted after an abort, one wrapping ErrExpired when
// the transaction could not be ended in time, or the fatal error.
func Commit(p *kafka.Producer, c *kafka.Consumer, offsets []kafka.TopicPartition, timeout time.Duration, fill func() error) error {
	expires := time.Now().Add(timeout)
	if err := p.BeginTransaction(); err != nil {
		return fatalOrAbort(p, fmt.Errorf("begin transaction: %w", err), expires)
	}
	if err := fill(); err != nil {
		return fatalOrAbort(p, err, expires)
	}
	if len(offsets) > 0 {
		md, err := c.GetConsumerGroupMetadata()
		if err != nil {
			return fatalOrAbort(p, fmt.Errorf("group metadata: %w", err), expires)
		}
		err = retryUntil("send offsets", expires, func(ctx context.Context) error {
			return p.SendOffsetsToTransaction(ctx, offsets, md)
		})
		if err != nil {
			return fatalOrAbort(p, err, expires)
		}
	}
	err := retryUntil("commit transaction", expires, func(ctx context.Context) error {
		return p.CommitTransaction(ctx)
	})
	if err != nil && kafkaconn.Classify(err) == kafkaconn.Retriable {
		// Still failing at the transaction timeout: the commit may have
		// reached the coordinator, so an abort could not undo it
		// (librdkafka refuses it in that state) and reading the input
		// again would count it twice. Stop instead; the next
		// InitTransactions with this transactional.id completes or aborts
		// it for certain.
		return fmt.Errorf("%w: %w: outcome unknown, stopping", ErrExpired, err)
	}
	if err != nil {
		return fatalOrAbort(p, err, expires)
	}
	return nil
}

// fatalOrAbort aborts the transaction after err unless err ends the
// producer or the transaction has outlived its timeout at expires (see
// ErrExpired). Errors that are not Kafka's (a bug such as a failed encode)
// are aborted too but returned as they are, so that the stage stops.
func fatalOrAbort(p *kafka.Producer, err error, expires time.Time) error {
	var ke kafka.Error
	isKafka := errors.As(err, &ke)
	if isKafka && kafkaconn.Classify(err) == kafkaconn.Fatal {
		return err
	}
	if !time.Now().Before(expires) {
		return fmt.Errorf("%w: %w", ErrExpired, err)
	}
	if aerr := abort(p, expires); aerr != nil {
		if !time.Now().Before(expires) && kafkaconn.Classify(aerr) != kafkaconn.Fatal {
			return fmt.Errorf("%w: %w; then: %w", ErrExpired, err, aerr)
		}
		return fmt.Errorf("%w; then: %w", err, aerr)
	}
	if !isKafka {
		return err
	}
	return fmt.Errorf("%w: %w", ErrAborted, err)
}

// abort aborts the open transaction, retrying retriable errors until
// deadline.
func abort(p *kafka.Producer, deadline time.Time) error {
	return retryUntil("abort transaction", deadline, func(ctx context.Context) error {
		err := p.AbortTransaction(ctx)
		var ke kafka.Error
		if errors.As(err, &ke) && ke.Code() == kafka.ErrState {
			return nil // no transaction open
		}
		return err
	})
}

// Produce enqueues m in the open transaction, waiting while the local queue
// is full. Delivery failures surface at commit.
func Produce(p *kafka.Producer, m *kafka.Message) error {
	for {
		err := p.Produce(m, nil)
		if err == nil {
			return nil
		}
		var ke kafka.Error
		if errors.As(err, &ke) && ke.Code() == kafka.ErrQueueFull {
			p.Flush(100)
			continue
		}
		return fmt.Errorf("produce to %s: %w", *m.TopicPartition.Topic, err)
	}
}

// ErrUnstable marks a committed offset the broker cannot tell yet: a
// transaction holding offsets for the partition is still open (a member
// that died inside its commit, or one whose markers are not written yet).
var ErrUnstable = errors.New("committed offset not stable yet")

// StartOffsets turns the answer of Consumer.Committed into the offsets to
// start from: the committed offset, or OffsetBeginning where nothing was
// ever committed. A partition answered with an error is never taken for
// "nothing committed": an unstable offset gives ErrUnstable (ask again),
// any other error is returned as it is.
func StartOffsets(committed []kafka.TopicPartition) ([]kafka.TopicPartition, error) {
	out := make([]kafka.TopicPartition, 0, len(committed))
	for _, tp := range committed {
		if tp.Error != nil {
			var ke kafka.Error
			if errors.As(tp.Error, &ke) && ke.Code() == kafka.ErrUnstableOffsetCommit {
				return nil, fmt.Errorf("%s[%d]: %w", *tp.Topic, tp.Partition, ErrUnstable)
			}
			return nil, fmt.Errorf("committed offset of %s[%d]: %w", *tp.Topic, tp.Partition, tp.Error)
		}
		if tp.Offset < 0 {
			if tp.Offset != kafka.OffsetInvalid {
				return nil, fmt.Errorf("committed offset of %s[%d]: unexpected %v", *tp.Topic, tp.Partition, tp.Offset)
			}
			tp.Offset = kafka.OffsetBeginning // nothing committed yet
		}
		out = append(out, tp)
	}
	return out, nil
}

// Committed returns the offsets to resume parts from (see StartOffsets),
// as stable committed offsets: while the broker cannot tell a partition's
// offset because a transaction holding offsets for it is still open, it
// asks again, until that transaction is resolved or ctx ends. That wait is
// what makes a new owner start exactly where a dead one's last committed
// transaction left off: the dead member's open transaction is aborted when
// it times out, its committing one is completed.
func Committed(ctx context.Context, c *kafka.Consumer, parts []kafka.TopicPartition, log *slog.Logger) ([]kafka.TopicPartition, error) {
	if len(parts) == 0 {
		return nil, nil
	}
	began := time.Now()
	warned := began
	for {
		got, err := c.Committed(parts, 5000)
		if err == nil {
			var start []kafka.TopicPartition
			if start, err = StartOffsets(got); err == nil {
				if waited := time.Since(began); waited > time.Second {
					log.Info("committed offsets stable", "waited", waited.Round(time.Millisecond))
				}
				return start, nil
			}
		}
		if !errors.Is(err, ErrUnstable) && kafkaconn.Classify(err) != kafkaconn.Retriable {
			var ke kafka.Error
			if errors.As(err, &ke) && (ke.IsFatal() || ke.Code() == kafka.ErrFatal) {
				err = &ConsumerFailed{Err: ke}
			}
			return nil, fmt.Errorf("committed offsets: %w", err)
		}
		if time.Since(warned) > 5*time.Second {
			warned = time.Now()
			log.Warn("committed offsets not stable yet, waiting for an open transaction to end", "waited", time.Since(began).Round(time.Second), "err", err)
		}
		if err := retry.Sleep(ctx, 200*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// Assign adds parts to the consumer's assignment at explicit start offsets
// from Committed. Call it from the rebalance callback instead of
// IncrementalAssign with unset offsets: librdkafka's own lookup of the
// committed offsets, when it finds them unstable and the assignment
// changes before they become stable, starts the partition at
// auto.offset.reset (the beginning) as if nothing had been committed,
// which reads again what the partition's last owner counted. With explicit
// offsets librdkafka never looks the start offset up itself.
//
// from, when not nil, maps the committed offsets to the offsets to read
// from (tally reads some records again to rebuild its dedupe horizon).
func Assign(ctx context.Context, c *kafka.Consumer, parts []kafka.TopicPartition, log *slog.Logger, from func([]kafka.TopicPartition) []kafka.TopicPartition) error {
	if len(parts) == 0 {
		return c.IncrementalAssign(parts) // a cooperative rebalance that brings nothing
	}
	start, err := Committed(ctx, c, parts, log)
	if err != nil {
		return err
	}
	if from != nil {
		start = from(start)
	}
	if err := c.IncrementalAssign(start); err != nil {
		return fmt.Errorf("assign %v: %w", start, err)
	}
	return nil
}

// Rewind moves the consumer back to the committed offsets of parts (those
// without a committed offset to the beginning), so that what an aborted
// transaction consumed is read again. from is as for Assign. It returns
// the offsets it moved to.
func Rewind(ctx context.Context, c *kafka.Consumer, parts []kafka.TopicPartition, log *slog.Logger, from func([]kafka.TopicPartition) []kafka.TopicPartition) ([]kafka.TopicPartition, error) {
	start, err := Committed(ctx, c, parts, log)
	if err != nil {
		return nil, err
	}
	if from != nil {
		start = from(start)
	}
	for _, tp := range start {
		if err := c.Seek(tp, 0); err != nil {
			return nil, fmt.Errorf("seek %s[%d] to %v: %w", *tp.Topic, tp.Partition, tp.Offset, err)
		}
	}
	return start, nil
}

// ConsumerFailed marks the fatal error of a stage's consumer, such as a
// static member fenced by another member under its group.instance.id. The
// stage returns it; its supervisor runs it again with new clients.
type ConsumerFailed struct{ Err kafka.Error }

func (e *ConsumerFailed) Error() string { return "consumer failed: " + e.Err.Error() }
func (e *ConsumerFailed) Unwrap() error { return e.Err }

// Event serves a consumer event of stage that is not a record: statistics
// go to m, a fatal error ends the stage (a ConsumerFailed, which its
// supervisor answers with new clients), any other error is logged, as the
// client retries by itself.
func Event(stage string, ev kafka.Event, m *metrics.Metrics, log *slog.Logger) error {
	switch ev := ev.(type) {
	case *kafka.Stats:
		m.ObserveStats(stage, ev.String())
	case kafka.Error:
		if ev.IsFatal() {
			return fmt.Errorf("%s: %w", stage, &ConsumerFailed{Err: ev})
		}
		log.Warn(stage+" consumer", "err", ev)
	}
	return nil
}

// CloseConsumer closes c, a stage's consumer subscribed to topics with
// rebalance, unless it raised a fatal error. Such a consumer cannot be
// closed: librdkafka refuses to begin the close ("consumer closed after
// fatal error") and confluent-kafka-go's Close then waits for it forever,
// so the stage would never return to its supervisor. The fatal state may
// not have reached the stage yet (a call such as a seek failed first), so
// it is asked for: librdkafka refuses a subscription with ErrFatal once
// the consumer is fatal, and subscribing again to the same topics changes
// nothing otherwise (cooperative rebalancing: nothing is revoked). A fatal
// consumer sends nothing more to its group and the stage's next consumer,
// under the same group.instance.id, takes its partitions back; what it
// holds (threads, buffers) is left behind once per fatal error.
func CloseConsumer(c *kafka.Consumer, topics []string, rebalance kafka.RebalanceCb, log *slog.Logger) error {
	err := c.SubscribeTopics(topics, rebalance)
	var ke kafka.Error
	if errors.As(err, &ke) && ke.Code() == kafka.ErrFatal {
		log.Warn("consumer left unclosed after its fatal error; librdkafka cannot close it", "err", err)
		return nil
	}
	return c.Close()
}

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
		"reconnect.backoff.max.ms": ReconnectBackoffMax,
		"retry.backoff.max.ms":     retryBackoffMax,
	}
}

// ReconnectBackoffMax caps librdkafka's back-off between attempts to
// reach a broker, in ms (10 s by default, doubling from 100 ms): after a
// broker restart of 20 s the stages' clients would otherwise reconnect up
// to 10 s after the broker answers again. The state readers, the trending
// follower and their admin clients use it too (package state, rank).
const ReconnectBackoffMax = 250

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
// (see the stages' poll loops and app's supervisor).
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
		"reconnect.backoff.max.ms":      ReconnectBackoffMax,
		"retry.backoff.max.ms":          retryBackoffMax,
		"statistics.interval.ms":        int(statsInterval.Milliseconds()),
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}
