// Package tally is the counter's first stage: a member of a consumer group
// on the tweets topic that takes each post's hashtags (pkg/hashtag rules),
// sums them per processing-time window and, at each window end, commits one
// transaction holding its delta record(s) for rank, the window's
// undecodable records for the dead-letter topic and the consumed offsets.
// Nothing of a window is visible downstream until that commit, so a crash
// at any instant loses or repeats nothing: the uncommitted posts are simply
// read again from the committed offsets. A post whose id is within the
// dedupe horizon of its partition is skipped before counting (dedupe.go).
//
// The transaction is opened and committed in one call at the window's end;
// between two windows the stage holds only memory. A cooperative rebalance
// that revokes partitions closes the window early (the posts read so far
// are committed with their offsets before the partitions go); a lost
// assignment drops the window.
//
// With trending on, each post's tags are also counted per bucket of the
// post's own time with a sketch of their authors, behind the watermark of
// the post's partition (trending.go); the buckets travel in the deltas.
package tally

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/batch"
	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
	"github.com/hashtrend/hashtrend/services/counter/internal/metrics"
	"github.com/hashtrend/hashtrend/services/counter/internal/trend"
	"github.com/hashtrend/hashtrend/services/counter/internal/txn"
	"github.com/hashtrend/hashtrend/services/counter/internal/window"
)

// Config is what the stage needs.
type Config struct {
	Kafka          kafkaconn.Config
	Instance       string // transactional.id is Instance + "-tally"
	Group          string
	Tweets, Deltas string
	DLQ            string
	Window         time.Duration
	TxnTimeout     time.Duration
	SessionTimeout time.Duration
	StatsInterval  time.Duration
	MaxDeltaBytes  int
	MaxRecordBytes int
	DedupeRecords  int // horizon of the dedupe by post id, per partition; 0: off
	// Trending, when set, buckets each post's tags by the post's time for
	// the trending view and carries the buckets in the deltas.
	Trending *trend.Config
	// Committed, when set, is called after each committed transaction
	// (the supervisor's sign that a run worked).
	Committed func()
}

// Header names on dead-letter records.
const (
	HeaderError     = "error"
	HeaderTopic     = "source.topic"
	HeaderPartition = "source.partition"
	HeaderOffset    = "source.offset"
)

// Stage is one running tally.
type Stage struct {
	ctx context.Context
	cfg Config
	log *slog.Logger
	m   *metrics.Metrics
	c   *kafka.Consumer
	p   *kafka.Producer

	win      window.Window
	counts   map[string]*hashtag.Spellings
	posts    int64
	withTags int64
	dups     int64 // duplicates skipped, this window
	dlq      []*kafka.Message
	next     map[int32]kafka.Offset // partition → next offset to read, this window
	tags     []hashtag.Tag          // scratch
	trend    *buckets               // nil with trending off
	fatal    error                  // set by the rebalance callback
	dedupe   *dedupe
	q        *batch.Queue // where the assigned partitions' records go
	feed     *feed        // counts what the poll loop reads; drained before the window state is touched
}

// Run runs the stage until ctx ends (then it commits the open window and
// leaves the group) or a fatal error.
func Run(ctx context.Context, cfg Config, log *slog.Logger, m *metrics.Metrics) (err error) {
	log = log.With("stage", "tally", "group", cfg.Group)
	s := &Stage{ctx: ctx, cfg: cfg, log: log, m: m, counts: map[string]*hashtag.Spellings{}, next: map[int32]kafka.Offset{},
		dedupe: newDedupe(cfg.DedupeRecords)}
	s.p, err = kafka.NewProducer(cfg.Kafka.ConfigMap("counter-tally",
		txn.ProducerConfig(cfg.Instance+"-tally", cfg.TxnTimeout, cfg.MaxRecordBytes)))
	if err != nil {
		return fmt.Errorf("tally producer: %w", err)
	}
	if cfg.Trending != nil {
		s.trend = newBuckets(*cfg.Trending)
	}
	defer s.p.Close()
	if err := txn.Init(ctx, s.p, log); err != nil {
		return err
	}
	s.c, err = kafka.NewConsumer(cfg.Kafka.ConsumerConfigMap("counter-tally", txn.ConsumerConfig(cfg.Group, cfg.Instance+"-tally", cfg.SessionTimeout, cfg.StatsInterval,
		kafka.ConfigMap{"fetch.max.bytes": max(50<<20, cfg.MaxRecordBytes*2)})))
	if err != nil {
		return fmt.Errorf("tally consumer: %w", err)
	}
	s.feed = startFeed(s.count)
	defer s.feed.stop() // after the consumer's close, whose rebalance drains it
	defer func() {
		// Closing revokes the partitions, and the rebalance callback
		// commits what is left (a static member stays in the group until
		// its session times out or it joins again).
		if cerr := txn.CloseConsumer(s.c, []string{cfg.Tweets}, s.rebalance, log); cerr != nil && err == nil {
			err = fmt.Errorf("tally consumer close: %w", cerr)
		}
		if s.fatal != nil && err == nil {
			err = s.fatal
		}
	}()
	if s.q, err = batch.New(s.c, cfg.Tweets); err != nil {
		return fmt.Errorf("tally: %w", err)
	}
	defer func() { // before the consumer's close, while its client lives
		s.q.Close()
		s.q = nil
	}()
	if err := s.c.SubscribeTopics([]string{cfg.Tweets}, s.rebalance); err != nil {
		return fmt.Errorf("subscribe %s: %w", cfg.Tweets, err)
	}
	log.Info("tally started", "topic", cfg.Tweets, "window", cfg.Window)
	s.win = window.Of(time.Now(), cfg.Window)
	for {
		if s.fatal != nil {
			return s.fatal
		}
		if ctx.Err() != nil {
			return s.close()
		}
		now := time.Now()
		if !now.Before(s.win.End) {
			if err := s.close(); err != nil {
				return err
			}
			s.m.WindowsClosed.WithLabelValues("tally").Inc()
			s.win = window.Of(now, cfg.Window)
		}
		if err := s.events(); err != nil {
			return err
		}
		if s.fatal != nil || ctx.Err() != nil {
			// Nothing more is counted after a fatal error, nor once
			// stopping: a rebalance that ran meanwhile may have assigned
			// partitions at offsets librdkafka looked up itself.
			continue
		}
		wait := min(time.Until(s.win.End), eventWait)
		c := s.feed.chunk()
		if s.q.Read(c, max(int(wait.Milliseconds()), 1)) {
			s.feed.send(c)
		} else {
			s.feed.unused(c)
		}
	}
}

// eventWait is the longest the poll loop waits for records before it looks
// for events again: a rebalance waits for it at most this long.
const eventWait = 20 * time.Millisecond

// events serves what the consumer queue holds, without waiting:
// rebalances (the callback runs inside Poll), statistics and errors. It
// holds no records: every assigned partition is routed to the batch queue
// first (rebalance).
func (s *Stage) events() error {
	for {
		ev := s.c.Poll(0)
		if ev == nil {
			return nil
		}
		if m, ok := ev.(*kafka.Message); ok {
			return fmt.Errorf("tally: record %v came through the consumer queue; its partition was assigned without a route", m.TopicPartition)
		}
		if err := txn.Event("tally", ev, s.m, s.log); err != nil {
			return err
		}
	}
}

// count counts the records of c. It runs on the feed's goroutine.
func (s *Stage) count(c *batch.Chunk) {
	var m kafka.Message // each record in turn
	c.Each(func(r batch.Record) {
		if r.Err != 0 { // about the partition; the client goes on by itself
			s.log.Warn("tally consumer", "partition", r.Partition, "err", string(r.Value))
			return
		}
		m = kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &s.cfg.Tweets, Partition: r.Partition, Offset: kafka.Offset(r.Offset)},
			Key: r.Key, Value: r.Value}
		s.add(&m)
	})
}

// add counts one record of the window, or keeps a copy of it for the
// dead-letter topic when it is not a valid post. m's key and value are
// read into again after add returns: what the window keeps of them is
// copied (keys and spellings when first seen).
func (s *Stage) add(m *kafka.Message) {
	if s.restoring(m) {
		return
	}
	s.next[m.TopicPartition.Partition] = m.TopicPartition.Offset + 1
	p, err := post.DecodeShared(m.Value) // the post shares the record's bytes until add returns
	if err != nil {
		s.m.Invalid.Inc()
		s.log.Debug("invalid record", "partition", m.TopicPartition.Partition, "offset", m.TopicPartition.Offset, "err", err)
		s.dlq = append(s.dlq, &kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &s.cfg.DLQ, Partition: kafka.PartitionAny},
			Key:            bytes.Clone(m.Key),
			Value:          bytes.Clone(m.Value),
			Headers: []kafka.Header{
				{Key: HeaderError, Value: []byte(err.Error())},
				{Key: HeaderTopic, Value: []byte(*m.TopicPartition.Topic)},
				{Key: HeaderPartition, Value: []byte(strconv.Itoa(int(m.TopicPartition.Partition)))},
				{Key: HeaderOffset, Value: []byte(strconv.FormatInt(int64(m.TopicPartition.Offset), 10))},
			},
		})
		return
	}
	if s.dedupe.repeated(m, p.ID) {
		s.dups++
		return
	}
	s.posts++
	s.tags = hashtag.OfAppend(s.tags[:0], p)
	if len(s.tags) > 0 {
		s.withTags++
	}
	if s.trend != nil {
		s.trend.add(m.TopicPartition.Partition, &p, s.tags)
	}
	for _, t := range s.tags {
		c := s.counts[t.Key]
		if c == nil {
			c = &hashtag.Spellings{}
			s.counts[strings.Clone(t.Key)] = c
		}
		c.AddCopy(t.Spelling, 1)
	}
}

// close commits the window: deltas, dead letters and offsets in one
// transaction. After an abort it rewinds to the committed offsets. Either
// way the window's state is dropped.
func (s *Stage) close() error {
	s.feed.drain()
	defer s.reset()
	if len(s.next) == 0 {
		return nil
	}
	start := time.Now()
	d := delta.Delta{WindowStart: s.win.Start, WindowEnd: s.win.End, Instance: s.cfg.Instance,
		Posts: s.posts, PostsWithHashtags: s.withTags, Counts: make([]delta.Count, 0, len(s.counts))}
	tags := int64(0)
	for k, c := range s.counts {
		dc := delta.Of(k, c)
		d.Counts = append(d.Counts, dc)
		tags += dc.N
	}
	late := int64(0)
	if s.trend != nil {
		s.trend.fill(&d, s.next)
		late = d.Late
	}
	offsets := make([]kafka.TopicPartition, 0, len(s.next))
	for p, o := range s.next {
		tp := kafka.TopicPartition{Topic: &s.cfg.Tweets, Partition: p, Offset: o}
		if s.trend != nil {
			tp.Metadata = s.trend.metadata(p)
		}
		offsets = append(offsets, tp)
	}
	err := txn.Commit(s.p, s.c, offsets, s.cfg.TxnTimeout, func() error {
		if d.Posts > 0 {
			for _, part := range delta.Split(d, s.cfg.MaxDeltaBytes) {
				b, err := delta.Encode(part)
				if err != nil {
					return fmt.Errorf("encode delta: %w", err)
				}
				key := []byte(s.cfg.Instance + "/" + strconv.FormatInt(s.win.Start.UnixMilli(), 10) + "/" + strconv.Itoa(part.Part))
				if err := txn.Produce(s.p, &kafka.Message{
					TopicPartition: kafka.TopicPartition{Topic: &s.cfg.Deltas, Partition: kafka.PartitionAny},
					Key:            key, Value: b, Timestamp: s.win.End,
				}); err != nil {
					return err
				}
			}
		}
		for _, m := range s.dlq {
			if err := txn.Produce(s.p, m); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, txn.ErrAborted):
		s.m.Transactions.WithLabelValues("tally", "aborted").Inc()
		s.log.Warn("window aborted, rewinding to the committed offsets", "window", s.win, "err", err)
		parts, err := s.c.Assignment()
		if err != nil {
			return fmt.Errorf("tally assignment: %w", err)
		}
		// Our own abort's markers follow shortly: a deadline of its own,
		// not the stage's context, so that a shutdown still rewinds.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err = txn.Rewind(ctx, s.c, parts, s.log, s.startFrom)
		return err
	case err != nil:
		return fmt.Errorf("tally window %s: %w", s.win, err)
	}
	s.m.Transactions.WithLabelValues("tally", "committed").Inc()
	if s.cfg.Committed != nil {
		s.cfg.Committed()
	}
	s.m.TxnSeconds.WithLabelValues("tally").Observe(time.Since(start).Seconds())
	s.m.Posts.Add(float64(s.posts))
	s.m.PostsWithTags.Add(float64(s.withTags))
	s.m.Hashtags.Add(float64(tags))
	s.m.Duplicates.Add(float64(s.dups))
	s.m.DedupeIDs.Set(float64(s.dedupe.remembered()))
	s.m.LatePosts.Add(float64(late))
	s.log.Info("window committed", "window", s.win, "posts", s.posts, "hashtags", len(s.counts), "invalid", len(s.dlq), "duplicates", s.dups)
	s.log.Debug("window offsets", "window", s.win, "offsets", fmt.Sprint(offsets))
	return nil
}

func (s *Stage) reset() {
	clear(s.counts)
	clear(s.next)
	s.posts, s.withTags, s.dups, s.dlq = 0, 0, 0, nil
	if s.trend != nil {
		s.trend.reset()
	}
}

// startFrom is called with the committed offsets of partitions the stage
// is about to read from there (assigned, or rewound after an abort): it
// sets their trending clocks from the offsets' metadata and returns where
// to read them from (the dedupe reads some records again first).
func (s *Stage) startFrom(committed []kafka.TopicPartition) []kafka.TopicPartition {
	if s.trend != nil {
		s.trend.load(committed)
	}
	return s.dedupe.from(committed)
}

// rebalance runs inside Poll. Before revoked partitions go, the window is
// committed with their offsets; a lost assignment drops the window, whose
// offsets may no longer be committed by this member.
//
// Assigned partitions start at their committed offsets looked up here and
// passed explicitly (txn.Assign), never at offsets librdkafka looks up by
// itself: a partition's last owner may have died inside the transaction
// that commits its offsets, and until the coordinator aborts it (the
// transaction timeout) the committed offset is unstable. librdkafka's own
// lookup then started the partition at auto.offset.reset, the beginning,
// when the assignment changed again meanwhile, and the window counted the
// partition's whole history a second time. So the callback waits here for
// stable offsets; the other partitions' windows close late meanwhile, but
// nothing is counted twice.
func (s *Stage) rebalance(c *kafka.Consumer, ev kafka.Event) error {
	s.feed.drain() // the window state is this goroutine's now
	switch e := ev.(type) {
	case kafka.AssignedPartitions:
		s.log.Info("partitions assigned", "topic", s.cfg.Tweets, "partitions", partitions(e.Partitions))
		err := s.q.Route(e.Partitions) // before the assignment starts their fetch
		if err == nil {
			err = txn.Assign(s.ctx, c, e.Partitions, s.log, s.startFrom)
		}
		if err == nil {
			return nil
		}
		if s.ctx.Err() == nil && s.fatal == nil {
			s.fatal = fmt.Errorf("tally: %w", err)
		}
		// Stopping (shutdown or the fatal error just set): assign them as
		// they are so that the rebalance completes; nothing is counted
		// after a fatal error, and a shutdown returns before the next
		// message.
		return c.IncrementalAssign(e.Partitions)
	case kafka.RevokedPartitions:
		if c.AssignmentLost() {
			s.log.Warn("assignment lost, dropping the window", "partitions", partitions(e.Partitions))
			s.reset()
		} else {
			s.log.Info("partitions revoked, committing the window", "partitions", partitions(e.Partitions))
			if err := s.close(); err != nil && s.fatal == nil {
				s.fatal = err
			}
		}
		s.dedupe.forget(e.Partitions)
		if s.trend != nil {
			s.trend.forget(e.Partitions)
		}
		return c.IncrementalUnassign(e.Partitions)
	}
	return nil
}

func partitions(tps []kafka.TopicPartition) []int32 {
	out := make([]int32, len(tps))
	for i, tp := range tps {
		out[i] = tp.Partition
	}
	return out
}
