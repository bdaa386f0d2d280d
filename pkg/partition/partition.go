// Package partition reads the partitions of a topic as an assigned
// read_committed client, never a group member: from their beginning or
// from an offset, to an end taken before the read (ReadTo, Decode), or on
// as records come (Follow). It is the one reader of the project's topics
// outside the stages' group consumers: the counter's state restore, warm
// standby and trending rebuild, ingest's positions, the printer's follower
// and the tests' and benchmarks' drains all read through it, with one set
// of client settings (Settings) and one rule for where a read ends.
//
// The end rule: a partition is at its end offset once a record at or past
// end-1 has been read, or once the client reports an end-of-partition at
// or past it. Transaction markers are never delivered as records, so a
// read whose last offsets are markers ends on the end-of-partition, which
// librdkafka reports when its fetch position, past the markers, reaches
// the partition's end; a transaction still open below the end holds the
// read back until it is resolved. The position is not used: after an
// end-of-partition, librdkafka 2.2 to 2.11's batch consume reports it one
// past the real one (librdkafka#4844), which ended reads a record early.
// An end-of-partition is reported once per offset, so a reader remembers
// it from one read to the next: a ReadTo after a Follow that reached the
// end ends on the one the Follow saw.
//
// Records come through librdkafka's batch interface (package batch): the
// reader's partitions are routed to a queue of its own and copied out
// thousands at a time, which is what a restore of millions of records
// needs. With Config.Messages they come through the client's Poll instead,
// one message at a time with its timestamp and headers, for the tests'
// reads that check those.
package partition

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/batch"
	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/retry"
	"github.com/hashtrend/hashtrend/pkg/topic"
)

// FetchWait is the readers' fetch.wait.max.ms. The broker answers a fetch
// at the partition's end after it when nothing new comes (500 ms by
// default), and only that answer tells a read that it reached the end (the
// end-of-partition past trailing transaction markers): a rank taking over
// waited for it once per read. A follower at the end costs the broker one
// empty fetch per FetchWait.
const FetchWait = 20

// Beginning starts a partition at its first retained record.
//
// It is offset 0, not kafka.OffsetBeginning: a logical offset must be
// looked up, and librdkafka, which has no leader yet for the partition of
// a new client, retries that lookup only 500 ms later. Where the log
// starts past 0, auto.offset.reset (earliest, in Settings) moves the fetch
// to its start.
const Beginning int64 = 0

// Settings is the one client configuration of a reader, named client:
// assigned partitions, never a group member (librdkafka still wants a
// group id), no commits, read_committed, end-of-partition events on, large
// fetches, FetchWait, earliest where a start is below the log's, topics
// never created by asking for them, and the reconnect cap.
func Settings(kc kafkaconn.Config, client string) kafka.ConfigMap {
	return *kc.ConsumerConfigMap(client, kafka.ConfigMap{
		"group.id":                  client + "-unused", // required by the client; never joined
		"isolation.level":           "read_committed",
		"enable.auto.commit":        false,
		"enable.auto.offset.store":  false,
		"enable.partition.eof":      true,
		"fetch.max.bytes":           64 << 20,
		"max.partition.fetch.bytes": 16 << 20,
		"fetch.wait.max.ms":         FetchWait,
		"auto.offset.reset":         "earliest",
		"allow.auto.create.topics":  false,
		"reconnect.backoff.max.ms":  kafkaconn.ReconnectBackoffMax,
	})
}

// Config is what a Reader reads and how.
type Config struct {
	Kafka kafkaconn.Config
	// Client names the client (client.id, unless Kafka sets one).
	Client string
	Topic  string
	Log    *slog.Logger
	// Messages reads through Poll, each record with its whole message.
	Messages bool
	// Watch, when set, tells the broker being away from the partition
	// being at its end, and hears librdkafka's own log lines at debug.
	Watch *Watch
	// Override is set over Settings: the benchmarks measure other
	// settings with it. Nothing else sets it.
	Override kafka.ConfigMap
	// Stall, when set, bounds a read to an end (ReadTo, Decode with
	// ends) that makes no progress: when no record was read and no
	// partition still below its end moved towards it for this long, the
	// read logs where it stands and returns a *StalledError. Zero waits
	// for as long as it takes. Follow is never stalled.
	Stall time.Duration
}

// Reader reads partitions of one topic. It is used by one goroutine at a
// time.
type Reader struct {
	cfg   Config
	c     *kafka.Consumer
	q     *batch.Queue // nil with Messages
	admin *kafka.AdminClient
	log   *slog.Logger
	parts map[int32]*part
	// stale: records were taken and not handed over (a read stopped by
	// its handler, or past its end); the next read assigns again at next.
	stale bool
	away  bool // Watch: told that the broker is away
	logs  chan struct{}
}

// part is where an assigned partition stands.
type part struct {
	next  int64 // the offset after the last record handed over (or the start)
	taken int64 // the offset after the last record taken (the reading goroutine's)
	eof   int64 // the last end-of-partition reported (-1: none since assigned)
}

// Open makes a reader of cfg.Topic and assigns it the partitions in from,
// each at its offset (Beginning for its first retained record); with from
// empty it assigns nothing until Assign.
func Open(cfg Config, from map[int32]int64) (*Reader, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	conf := Settings(cfg.Kafka, cfg.Client)
	maps.Copy(conf, cfg.Override)
	if cfg.Watch != nil {
		conf["log.connection.close"] = false
		conf["go.logs.channel.enable"] = true
	}
	c, err := kafka.NewConsumer(&conf)
	if err != nil {
		return nil, fmt.Errorf("reader of %s: %w", cfg.Topic, err)
	}
	r := &Reader{cfg: cfg, c: c, log: cfg.Log, parts: map[int32]*part{}}
	if r.admin, err = kafka.NewAdminClientFromConsumer(c); err != nil {
		c.Close()
		return nil, fmt.Errorf("reader of %s: %w", cfg.Topic, err)
	}
	if !cfg.Messages {
		if r.q, err = batch.New(c, cfg.Topic); err != nil {
			r.admin.Close()
			c.Close()
			return nil, err
		}
	}
	if cfg.Watch != nil {
		r.logs = make(chan struct{})
		go r.drainLogs()
	}
	if len(from) > 0 {
		if err := r.Assign(from); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// drainLogs passes librdkafka's own log lines to debug, so that the
// watcher's notices are what a terminal shows rather than every retry.
func (r *Reader) drainLogs() {
	for {
		select {
		case <-r.logs:
			return
		case l, ok := <-r.c.Logs():
			if !ok {
				return
			}
			r.log.Debug("librdkafka", "tag", l.Tag, "message", l.Message)
		}
	}
}

// Assign positions the reader: partition p at from[p] (Beginning for its
// first retained record). The first Assign of a reader assigns the
// partitions; a later one must name the same partitions and moves each to
// its offset (a seek, whose version barrier drops what was fetched before
// it).
func (r *Reader) Assign(from map[int32]int64) error {
	var tps []kafka.TopicPartition
	for _, p := range slices.Sorted(maps.Keys(from)) {
		tps = append(tps, kafka.TopicPartition{Topic: &r.cfg.Topic, Partition: p, Offset: kafka.Offset(from[p])})
	}
	switch {
	case len(r.parts) == 0:
		if r.q != nil {
			// Before the assignment, so that no record reaches the
			// consumer queue (see package batch).
			if err := r.q.Route(tps); err != nil {
				return err
			}
		}
		if err := r.c.Assign(tps); err != nil {
			return fmt.Errorf("assign %s %v: %w", r.cfg.Topic, from, err)
		}
	case len(from) != len(r.parts):
		return fmt.Errorf("assign %s %v: the reader reads other partitions", r.cfg.Topic, from)
	default:
		for _, tp := range tps {
			if r.parts[tp.Partition] == nil {
				return fmt.Errorf("assign %s %v: the reader reads other partitions", r.cfg.Topic, from)
			}
			if err := r.c.Seek(tp, -1); err != nil {
				return fmt.Errorf("seek %s[%d] to %d: %w", r.cfg.Topic, tp.Partition, tp.Offset, err)
			}
		}
	}
	r.parts = map[int32]*part{}
	for p, at := range from {
		r.parts[p] = &part{next: at, taken: at, eof: -1}
	}
	r.stale = false
	return nil
}

// reassign moves every partition back to its next offset, when records
// were taken that were not handed over.
func (r *Reader) reassign() error {
	if !r.stale {
		return nil
	}
	from := map[int32]int64{}
	for p, st := range r.parts {
		from[p] = st.next
	}
	return r.Assign(from)
}

// Next is the offset after the last record of partition p handed over,
// or where p was assigned when none was.
func (r *Reader) Next(p int32) int64 {
	if st, ok := r.parts[p]; ok {
		return st.next
	}
	return 0
}

// Ends asks for the end offsets of the topic's partitions (of those named,
// or of all), on the reader's own client: the high watermark with
// kafka.IsolationLevelReadUncommitted, the last stable offset with
// kafka.IsolationLevelReadCommitted (topic.EndOffsets). A partition whose
// leader is not known yet (a topic just created) is asked again until ctx
// ends. Unlike the reader's other methods it may be called from any
// goroutine.
func (r *Reader) Ends(ctx context.Context, iso kafka.IsolationLevel, partitions ...int32) (ends map[int32]int64, err error) {
	err = retry.Do(ctx, retry.Policy{Wait: 50 * time.Millisecond, MaxWait: time.Second}, func(err error, _ time.Duration) bool {
		return topic.LeaderMoving(err)
	}, func(ctx context.Context) error {
		ends, err = topic.EndOffsets(ctx, r.admin, r.cfg.Topic, iso, partitions...)
		return err
	})
	return ends, err
}

// Close stops the client and hands the memory it freed back to the system.
func (r *Reader) Close() {
	if r.logs != nil {
		close(r.logs)
	}
	r.admin.Close()
	if r.q != nil {
		r.q.Close()
	}
	_ = r.c.Close()
	batch.Trim()
}

// Record is one record read. Key and Value alias a chunk that is read
// into again: nothing may keep them past the handler's return.
type Record struct {
	Partition  int32
	Offset     int64
	Key, Value []byte
	// Message is the whole message with Config.Messages, else nil.
	Message *kafka.Message
}

// chunk is what one read takes: records through the batch queue, or
// messages through Poll (end-of-partition and errors among them, as
// messages whose TopicPartition.Error says so).
type chunk struct {
	b    *batch.Chunk
	msgs []*kafka.Message
}

// How a read takes records: chunks of up to chunkRecords records and
// chunkBytes of keys and values.
const (
	chunkRecords = 4096
	chunkBytes   = 512 << 10
)

func (r *Reader) newChunk() *chunk {
	if r.q == nil {
		return &chunk{}
	}
	return &chunk{b: batch.NewChunk(chunkBytes, chunkRecords)}
}

// entry is a record, an end-of-partition or an error as a chunk holds it.
type entry struct {
	Record
	err int // librdkafka's error code; errPartitionEOF for an end-of-partition
	msg string
}

// errPartitionEOF is librdkafka's "reached the end of the partition".
const errPartitionEOF = int(kafka.ErrPartitionEOF)

func (c *chunk) len() int {
	if c.b != nil {
		return c.b.Len()
	}
	return len(c.msgs)
}

// filter keeps the entries keep says to, in order.
func (c *chunk) filter(keep func(entry) bool) {
	if c.b != nil {
		c.b.Filter(func(b batch.Record) bool {
			e := entry{Record: Record{Partition: b.Partition, Offset: b.Offset, Key: b.Key, Value: b.Value}, err: b.Err}
			if b.Err != 0 {
				e.Key, e.Value, e.msg = nil, nil, string(b.Value)
			}
			return keep(e)
		})
		return
	}
	out := c.msgs[:0]
	for _, m := range c.msgs {
		tp := m.TopicPartition
		e := entry{Record: Record{Partition: tp.Partition, Offset: int64(tp.Offset), Key: m.Key, Value: m.Value, Message: m}}
		if tp.Error != nil {
			e.Record = Record{Partition: tp.Partition, Offset: int64(tp.Offset)}
			e.err, e.msg = -1, tp.Error.Error()
			if ke, ok := tp.Error.(kafka.Error); ok {
				e.err = int(ke.Code())
			}
		}
		if keep(e) {
			out = append(out, m)
		}
	}
	clear(c.msgs[len(out):])
	c.msgs = out
}

// each calls fn for every record of c, in order.
func (c *chunk) each(fn func(Record)) {
	if c.b != nil {
		c.b.Each(func(b batch.Record) {
			fn(Record{Partition: b.Partition, Offset: b.Offset, Key: b.Key, Value: b.Value})
		})
		return
	}
	for _, m := range c.msgs {
		fn(Record{Partition: m.TopicPartition.Partition, Offset: int64(m.TopicPartition.Offset), Key: m.Key, Value: m.Value, Message: m})
	}
}
