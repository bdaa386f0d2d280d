// Package follow reads the top-hashtags topic as a viewer, through the
// project's partition reader (pkg/partition): it assigns the topic's
// single partition (no consumer group, no committed offsets, so any number
// of printers can watch at once), reads only committed records
// (read_committed, the counter writes snapshots in transactions) and hands
// each record to the caller in order.
//
// By default it starts with the latest snapshot already in the topic. With
// read_committed the last data record is not simply at the end offset
// minus one: transaction markers and aborted records sit after it, so the
// follower reads a tail of the partition up to its last stable offset and
// keeps the last record it saw, reaching further back until it finds one
// or the start of the log. It waits for a topic that does not exist yet
// and outlasts the broker going away (the reader's Watch tells that from
// the partition being at its end), saying so once in each case and again
// when it is over.
package follow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/partition"
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

// Record is one committed record of the followed partition. Its Key and
// Value are read into again once the handler returns: keep a copy, not
// the slice. A nil Value is a tombstone.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
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
	// Key, when set, follows only the records of that key: one entry of a
	// compacted topic, such as one facet's lists. The latest is then the
	// last record of the key in the whole partition, read from its
	// beginning (compaction keeps that short).
	Key []byte
}

// Follower follows one topic. Create it with New; Ready may be called from
// any goroutine while Run runs.
type Follower struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	status error // nil once following

	following  bool // past the start
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
	r, err := partition.Open(partition.Config{Kafka: f.cfg.Kafka, Client: "printer", Topic: f.cfg.Topic, Log: f.log, Watch: &partition.Watch{
		Away: f.unreachable, Back: f.reachable, Missing: f.missing, Found: f.found, Retry: f.cfg.Retry, Timeout: f.cfg.Timeout,
	}}, nil)
	if err != nil {
		return err
	}
	defer r.Close()
	n, err := r.WaitForTopic(ctx)
	if err != nil {
		return ignoreCancel(ctx, err)
	}
	if n > 1 {
		f.log.Warn("topic has more than one partition; following partition 0 only", "partitions", n)
	}
	switch f.cfg.From {
	case Beginning:
		err = r.Assign(map[int32]int64{0: partition.Beginning})
	default:
		err = f.showLatest(ctx, r, h)
	}
	if err != nil {
		return ignoreCancel(ctx, err)
	}
	f.following = true
	f.setStatus(nil)
	f.log.Info("following")
	return ignoreCancel(ctx, r.Follow(ctx, func(rec partition.Record) error {
		if !f.wanted(rec) {
			return nil
		}
		return h(record(f.cfg.Topic, rec))
	}))
}

// wanted tells whether rec is one the follower hands over.
func (f *Follower) wanted(rec partition.Record) bool {
	return f.cfg.Key == nil || bytes.Equal(rec.Key, f.cfg.Key)
}

func ignoreCancel(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return nil
	}
	return err
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
	if f.following {
		f.setStatus(nil)
	}
}

// missing says once that the topic does not exist (yet, or any more).
func (f *Follower) missing(err error) {
	if !f.following {
		f.setStatus(fmt.Errorf("waiting for topic %s", f.cfg.Topic))
	}
	f.waits++
	f.log.Debug("topic still missing", "attempt", f.waits, "err", err)
	if !f.topicGone {
		f.topicGone = true
		if f.following {
			f.log.Warn("topic is gone; waiting for it", "err", err)
		} else {
			f.log.Warn("topic does not exist yet; waiting for it")
		}
	}
}

// found says that the topic exists, after missing.
func (f *Follower) found() {
	if f.topicGone {
		f.topicGone = false
		f.log.Info("topic exists now")
	}
}

// firstSpan is how many offsets before the end showLatest reads first; each
// further attempt reaches twice as far back.
const firstSpan = 32

// showLatest hands the newest committed record to h and leaves r after
// it, so that following goes on with the records that came since. It reads
// to the last stable offset, so that a transaction open at the end does
// not hold the first snapshot back.
func (f *Follower) showLatest(ctx context.Context, r *partition.Reader, h Handler) error {
	low, end, err := r.Bounds(ctx, 0)
	if err != nil {
		return err
	}
	if low >= end { // nothing committed to show yet
		return r.Assign(map[int32]int64{0: end})
	}
	for span := int64(firstSpan); ; span *= 2 {
		from := max(low, end-span)
		if f.cfg.Key != nil {
			from = low // the key's last record can be anywhere
		}
		f.log.Debug("looking for the latest snapshot", "offset", from, "end", end)
		if err := r.Assign(map[int32]int64{0: from}); err != nil {
			return err
		}
		var latest *Record
		err := r.ReadTo(ctx, map[int32]int64{0: end}, func(rec partition.Record) error {
			if !f.wanted(rec) {
				return nil
			}
			l := record(f.cfg.Topic, rec)
			l.Key, l.Value = bytes.Clone(rec.Key), bytes.Clone(rec.Value) // the reader reads into them again
			latest = &l
			return nil
		})
		if err != nil {
			return err
		}
		if latest == nil && from > low {
			continue
		}
		if latest != nil {
			return h(*latest)
		}
		return nil
	}
}

func record(topic string, r partition.Record) Record {
	return Record{Topic: topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value}
}
