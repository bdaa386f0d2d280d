// Package follow reads the top-hashtags topic as a viewer: it assigns the
// topic's single partition (no consumer group, no committed offsets, so any
// number of printers can watch at once), reads only committed records
// (read_committed, the counter writes snapshots in transactions) and hands
// each record to the caller in order.
//
// By default it starts with the latest snapshot already in the topic. With
// read_committed the last data record is not simply at the high watermark
// minus one: transaction markers and aborted records sit after it, so the
// follower reads a tail of the partition up to its end and keeps the last
// record it saw, reaching further back until it finds one or the start of
// the log. It waits for a topic that does not exist yet and outlasts the
// broker going away, saying so once in each case and again when it is over.
package follow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/retry"
)

// From is where following starts.
type From int

const (
	// Latest starts with the newest snapshot already in the topic.
	Latest From = iota
	// Beginning replays every snapshot still in the topic.
	Beginning
)

// ParseFrom reads "latest" or "beginning".
func ParseFrom(s string) (From, error) {
	switch s {
	case "latest":
		return Latest, nil
	case "beginning":
		return Beginning, nil
	}
	return 0, fmt.Errorf("%q is not latest or beginning", s)
}

// Record is one committed record of the followed partition.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Value     []byte
	Timestamp time.Time
}

// Handler receives each record in order; an error ends Run with that error.
type Handler func(Record) error

// Config is what a Follower reads.
type Config struct {
	Kafka kafkaconn.Config
	Topic string
	From  From
	// Retry is the pause between attempts while the topic is missing or the
	// broker cannot be reached (default 1 s).
	Retry time.Duration
	// Timeout bounds each metadata or offsets request (default 5 s).
	Timeout time.Duration
}

// Follower follows one topic. Create it with New; Ready may be called from
// any goroutine while Run runs.
type Follower struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	status error // nil once following

	brokerDown bool // said that the broker is unreachable
	topicGone  bool // said that the topic is missing
	failures   int  // failed requests since the broker last answered
	waits      int  // looks for the topic that did not find it
}

// New returns a Follower for cfg.
func New(cfg Config, log *slog.Logger) *Follower {
	if cfg.Retry <= 0 {
		cfg.Retry = time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	return &Follower{cfg: cfg, log: log.With("topic", cfg.Topic, "partition", 0), status: errors.New("starting")}
}

// Ready reports nil while the follower is reading the topic, otherwise what
// it is waiting for.
func (f *Follower) Ready() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *Follower) setStatus(err error) {
	f.mu.Lock()
	f.status = err
	f.mu.Unlock()
}

// Run follows the topic, calling h for each record, until ctx ends (then it
// returns nil), h fails, or the client hits a fatal error.
func (f *Follower) Run(ctx context.Context, h Handler) error {
	c, err := f.consumer()
	if err != nil {
		return err
	}
	defer c.Close()
	go f.drainLogs(ctx, c)

	if err := f.waitForTopic(ctx, c); err != nil {
		return ignoreCancel(ctx, err)
	}
	switch f.cfg.From {
	case Beginning:
		err = f.assign(c, kafka.OffsetBeginning)
	default:
		err = f.showLatest(ctx, c, h)
	}
	if err != nil {
		return ignoreCancel(ctx, err)
	}
	f.setStatus(nil)
	f.log.Info("following")
	return ignoreCancel(ctx, f.follow(ctx, c, h))
}

func ignoreCancel(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return nil
	}
	return err
}

// consumer is a viewer: a random group id that is never joined or committed
// (librdkafka insists on one), read_committed, end-of-partition events on.
func (f *Follower) consumer() (*kafka.Consumer, error) {
	var id [6]byte
	_, _ = rand.Read(id[:])
	c, err := kafka.NewConsumer(f.cfg.Kafka.ConsumerConfigMap("printer", kafka.ConfigMap{
		"group.id":                 "printer-viewer-" + hex.EncodeToString(id[:]),
		"enable.auto.commit":       false,
		"enable.auto.offset.store": false,
		"isolation.level":          "read_committed",
		"enable.partition.eof":     true,
		"auto.offset.reset":        "earliest",
		"allow.auto.create.topics": false,
		"log.connection.close":     false,
		"go.logs.channel.enable":   true,
	}))
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	return c, nil
}

// drainLogs passes librdkafka's own log lines to debug, so that the
// terminal shows the follower's one-line notices rather than every retry.
func (f *Follower) drainLogs(ctx context.Context, c *kafka.Consumer) {
	logs := c.Logs()
	for {
		select {
		case <-ctx.Done():
			return
		case l, ok := <-logs:
			if !ok {
				return
			}
			f.log.Debug("librdkafka", "tag", l.Tag, "message", l.Message)
		}
	}
}

// unreachable says once that the broker cannot be reached.
func (f *Follower) unreachable(err error) {
	f.setStatus(fmt.Errorf("broker unreachable: %w", err))
	f.failures++
	f.log.Debug("broker still unreachable", "attempt", f.failures, "err", err)
	if !f.brokerDown {
		f.brokerDown = true
		f.log.Warn("broker unreachable; retrying", "brokers", f.cfg.Kafka.Brokers, "err", err)
	}
}

// reachable says once that the broker answers again.
func (f *Follower) reachable() {
	f.failures = 0
	if f.brokerDown {
		f.brokerDown = false
		f.log.Info("broker reachable again", "brokers", f.cfg.Kafka.Brokers)
	}
}

// errNoTopic is waitForTopic's failed attempt: the broker answers, the
// topic is not there.
var errNoTopic = errors.New("topic missing")

// retry runs op until it succeeds or ctx ends, a pause of cfg.Retry after
// each failure; op reports its failures itself.
func (f *Follower) retry(ctx context.Context, op func() error) error {
	return retry.Do(ctx, retry.Policy{Wait: f.cfg.Retry}, retry.Always, func(context.Context) error { return op() })
}

// waitForTopic returns once the topic exists, retrying while it does not
// or while no broker answers. It lists all topics rather than asking for
// this one, so that a broker with auto-creation on does not create it.
func (f *Follower) waitForTopic(ctx context.Context, c *kafka.Consumer) error {
	return f.retry(ctx, func() error {
		md, err := c.GetMetadata(nil, true, ms(f.cfg.Timeout))
		if err != nil {
			f.unreachable(err)
			return err
		}
		f.reachable()
		tm, ok := md.Topics[f.cfg.Topic]
		if !ok || tm.Error.Code() != kafka.ErrNoError || len(tm.Partitions) == 0 {
			f.setStatus(fmt.Errorf("waiting for topic %s", f.cfg.Topic))
			f.waits++
			f.log.Debug("topic still missing", "attempt", f.waits)
			if !f.topicGone {
				f.topicGone = true
				f.log.Warn("topic does not exist yet; waiting for it")
			}
			return errNoTopic
		}
		if f.topicGone {
			f.topicGone = false
			f.log.Info("topic exists now")
		}
		if len(tm.Partitions) > 1 {
			f.log.Warn("topic has more than one partition; following partition 0 only", "partitions", len(tm.Partitions))
		}
		return nil
	})
}

func ms(d time.Duration) int { return int(d.Milliseconds()) }

func (f *Follower) assign(c *kafka.Consumer, offset kafka.Offset) error {
	topic := f.cfg.Topic
	if err := c.Assign([]kafka.TopicPartition{{Topic: &topic, Partition: 0, Offset: offset}}); err != nil {
		return fmt.Errorf("assign %s[0] at %v: %w", topic, offset, err)
	}
	return nil
}

// firstSpan is how many offsets before the end showLatest reads first; each
// further attempt reaches twice as far back.
const firstSpan = 32

// showLatest hands the newest committed record to h, then any that arrived
// while it looked, and leaves the consumer at the end of the partition.
func (f *Follower) showLatest(ctx context.Context, c *kafka.Consumer, h Handler) error {
	var low, high int64
	err := f.retry(ctx, func() (err error) {
		if low, high, err = c.QueryWatermarkOffsets(f.cfg.Topic, 0, ms(f.cfg.Timeout)); err != nil {
			f.unreachable(err)
			return err
		}
		f.reachable()
		return nil
	})
	if err != nil {
		return err
	}
	if low >= high { // empty: nothing to show yet
		return f.assign(c, kafka.Offset(high))
	}
	for span := int64(firstSpan); ; span *= 2 {
		from := max(low, high-span)
		f.log.Debug("looking for the latest snapshot", "offset", from, "high_watermark", high)
		if err := f.assign(c, kafka.Offset(from)); err != nil {
			return err
		}
		// Records at or past high arrived after we looked: they follow the
		// latest one, in order.
		var latest *kafka.Message
		var newer []*kafka.Message
		err := f.poll(ctx, c, func(m *kafka.Message) (bool, error) {
			if m == nil { // end of the partition
				return true, nil
			}
			if int64(m.TopicPartition.Offset) < high {
				latest = m
			} else {
				newer = append(newer, m)
			}
			return false, nil
		})
		if err != nil {
			return err
		}
		if latest == nil && len(newer) == 0 && from > low {
			continue
		}
		for _, m := range append([]*kafka.Message{latest}, newer...) {
			if m == nil {
				continue
			}
			if err := h(record(m)); err != nil {
				return err
			}
		}
		return nil
	}
}

// follow hands every record to h until ctx ends.
func (f *Follower) follow(ctx context.Context, c *kafka.Consumer, h Handler) error {
	return f.poll(ctx, c, func(m *kafka.Message) (bool, error) {
		if m == nil {
			return false, nil
		}
		return false, h(record(m))
	})
}

// poll reads events until ctx ends, fn says stop or fails. fn gets each
// message, and nil at the end of the partition. Broker trouble is reported
// here, once, and its end once; while the broker is down a metadata request
// now and then tells when it is back even if no record flows.
func (f *Follower) poll(ctx context.Context, c *kafka.Consumer, fn func(*kafka.Message) (bool, error)) error {
	lastProbe := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var stop bool
		var err error
		switch ev := c.Poll(200).(type) {
		case *kafka.Message:
			if ev.TopicPartition.Error != nil {
				err = f.kafkaError(c, ev.TopicPartition.Error)
				break
			}
			f.back()
			stop, err = fn(ev)
		case kafka.PartitionEOF:
			f.back()
			stop, err = fn(nil)
		case kafka.Error:
			err = f.kafkaError(c, ev)
		case nil:
			if f.brokerDown && time.Since(lastProbe) >= f.cfg.Retry {
				lastProbe = time.Now()
				if _, perr := c.GetMetadata(&f.cfg.Topic, false, ms(f.cfg.Timeout)); perr == nil {
					f.back()
				} else {
					f.log.Debug("broker still unreachable", "err", perr)
				}
			}
		}
		if err != nil || stop {
			return err
		}
	}
}

// back marks the broker reachable and the follower ready after trouble.
func (f *Follower) back() {
	if f.brokerDown {
		f.reachable()
		f.setStatus(nil)
	}
}

// kafkaError sorts an error event: broker trouble is reported and waited
// out (librdkafka reconnects by itself), a fatal error ends the follower.
// "All brokers down" events queue up while the broker is away and may be
// read after it is back, so one is believed only when a metadata request
// fails too.
func (f *Follower) kafkaError(c *kafka.Consumer, err error) error {
	var ke kafka.Error
	if !errors.As(err, &ke) {
		return err
	}
	switch {
	case ke.IsFatal():
		return fmt.Errorf("consume %s: %w", f.cfg.Topic, ke)
	case ke.Code() == kafka.ErrAllBrokersDown:
		if f.brokerDown {
			break
		}
		if _, perr := c.GetMetadata(&f.cfg.Topic, false, ms(f.cfg.Timeout)); perr != nil {
			f.unreachable(ke)
		}
	case ke.Code() == kafka.ErrUnknownTopicOrPart, ke.Code() == kafka.ErrUnknownTopic:
		if !f.topicGone {
			f.topicGone = true
			f.log.Warn("topic is gone; waiting for it", "err", ke)
		}
	default:
		f.log.Debug("kafka", "err", ke, "class", kafkaconn.Classify(ke))
	}
	return nil
}

func record(m *kafka.Message) Record {
	return Record{
		Topic:     *m.TopicPartition.Topic,
		Partition: m.TopicPartition.Partition,
		Offset:    int64(m.TopicPartition.Offset),
		Value:     m.Value,
		Timestamp: m.Timestamp,
	}
}
