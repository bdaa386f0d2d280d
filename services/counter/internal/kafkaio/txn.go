package kafkaio

// The transactional discipline both counter stages share, after
// confluent-kafka-go's transactions example: a transaction is opened,
// filled, given the consumed offsets and committed in one call; retriable
// errors are retried, an error that spoils the transaction aborts it (the
// caller then rewinds to the committed offsets and drops what it built), and
// a fatal error, a fenced producer included, ends the stage. Errors are
// sorted by kafkaconn.Classify, the one place that does it.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/retry"
	"github.com/hashtrend/hashtrend/pkg/topic"
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

// Producer is a stage's transactional producer.
type Producer struct {
	p     *kafka.Producer
	kc    kafkaconn.Config
	txnID string
}

// NewProducer makes the transactional producer clientID of kc whose
// transactional.id is transactionalID (settings: ProducerConfig).
func NewProducer(kc kafkaconn.Config, clientID, transactionalID string, txnTimeout time.Duration, maxMessageBytes int) (*Producer, error) {
	p, err := kafka.NewProducer(kc.ConfigMap(clientID, ProducerConfig(transactionalID, txnTimeout, maxMessageBytes)))
	if err != nil {
		return nil, err
	}
	return &Producer{p: p, kc: kc, txnID: transactionalID}, nil
}

// Close closes the producer; an open transaction is left to the
// coordinator (the stages never leave one open between two calls).
func (p *Producer) Close() { p.p.Close() }

// Init initialises the producer's transactions, which fences and aborts the
// open transaction of an earlier producer with the same transactional.id.
// It retries until ctx ends.
func (p *Producer) Init(ctx context.Context, log *slog.Logger) error {
	err := retry.Do(ctx, retry.Policy{Wait: 500 * time.Millisecond, Attempt: opTimeout}, func(err error, _ time.Duration) bool {
		if kafkaconn.Classify(err) == kafkaconn.Fatal {
			return false
		}
		log.Warn("init transactions, retrying", "err", err)
		return true
	}, p.p.InitTransactions)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("init transactions: %w", p.kc.Refused(err, "WRITE transactional id "+p.txnID))
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
// producer's transaction.timeout.ms. offsets are of c's topic; c may be nil
// when there are none. It returns nil once committed, an
// error wrapping ErrAborted after an abort, one wrapping ErrExpired when
// the transaction could not be ended in time, or the fatal error.
func (p *Producer) Commit(c *Consumer, offsets []Offset, timeout time.Duration, fill func() error) error {
	expires := time.Now().Add(timeout)
	if err := p.p.BeginTransaction(); err != nil {
		return fatalOrAbort(p.p, fmt.Errorf("begin transaction: %w", err), expires)
	}
	if err := fill(); err != nil {
		return fatalOrAbort(p.p, err, expires)
	}
	if len(offsets) > 0 {
		md, err := c.c.GetConsumerGroupMetadata()
		if err != nil {
			return fatalOrAbort(p.p, fmt.Errorf("group metadata: %w", err), expires)
		}
		err = retryUntil("send offsets", expires, func(ctx context.Context) error {
			return p.p.SendOffsetsToTransaction(ctx, toKafka(&c.topic, offsets), md)
		})
		if err != nil {
			return fatalOrAbort(p.p, err, expires)
		}
	}
	err := retryUntil("commit transaction", expires, func(ctx context.Context) error {
		return p.p.CommitTransaction(ctx)
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
		return fatalOrAbort(p.p, err, expires)
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
// is full. Delivery failures surface at commit. Call it from Commit's fill.
func (p *Producer) Produce(msg Message) error {
	m := &kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: &msg.Topic, Partition: msg.Partition},
		Key:            msg.Key, Value: msg.Value, Timestamp: msg.Time,
	}
	for _, h := range msg.Headers {
		m.Headers = append(m.Headers, kafka.Header{Key: h.Key, Value: h.Value})
	}
	for {
		err := p.p.Produce(m, nil)
		if err == nil {
			return nil
		}
		if kafkaconn.QueueFull(err) {
			p.p.Flush(100)
			continue
		}
		return fmt.Errorf("produce to %s: %w", *m.TopicPartition.Topic, err)
	}
}

// ErrNoTopic is Partitions' answer for a topic the broker does not know.
var ErrNoTopic = errors.New("no such topic yet")

// Partitions is the number of partitions of the topic name as the broker tells
// it: an error from the client (a kafka error) when it does not answer,
// ErrNoTopic when the topic does not exist.
func (p *Producer) Partitions(name string) (int, error) {
	md, err := p.p.GetMetadata(&name, false, 10_000)
	if err != nil {
		return 0, err
	}
	if parts, ok := topic.Found(md, name); ok {
		return len(parts), nil
	}
	return 0, ErrNoTopic
}
