// Package rank is the counter's second stage: the consumer group on the
// single-partition hashtag-deltas topic, so one active member while the
// others wait as warm standbys: each keeps a copy of the running totals
// current by following the compacted hashtag-counts topic (standby.go).
// On assignment a member catches that copy up with the topic's end, or
// restores the totals from the whole topic when it has none, and only
// then consumes; it adds
// each delta to the totals and, at each window end plus a grace, commits
// one transaction holding the changed totals and the meta record, one
// Snapshot for top-hashtags and the consumed delta offsets.
//
// A delta is applied to the snapshot that is open when it is read: tally
// commits a window at its end and rank publishes that window a grace later,
// so deltas normally land in the snapshot of their own window; a delta read
// later (rank was down, or tally was slow) is counted in the next snapshot.
// Totals are exact either way. Between two snapshots rank holds only
// memory; after an aborted transaction or a lost assignment that memory is
// thrown away and rebuilt from the state topic.
//
// Beside the totals rank keeps the trending view's post-time buckets
// (package trend), fed by the deltas' buckets and watermarks, and adds the
// trending list to every snapshot. On every assignment they are rebuilt
// from the deltas topic up to the offset the restored totals end at, or
// caught up to it from the warm standby's copy, which follows the deltas
// no further than the state topic's totals hold them (trending.go), so
// they never depend on when rank ran.
package rank

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
	"github.com/hashtrend/hashtrend/services/counter/internal/metrics"
	"github.com/hashtrend/hashtrend/services/counter/internal/state"
	"github.com/hashtrend/hashtrend/services/counter/internal/trend"
	"github.com/hashtrend/hashtrend/services/counter/internal/txn"
	"github.com/hashtrend/hashtrend/services/counter/internal/window"
)

// Config is what the stage needs.
type Config struct {
	Kafka          kafkaconn.Config
	Instance       string // transactional.id is Instance + "-rank"
	Group          string
	Deltas         string
	Counts, Top    string
	Window, Grace  time.Duration
	TopN           int
	TxnTimeout     time.Duration
	SessionTimeout time.Duration
	StatsInterval  time.Duration
	MaxRecordBytes int
	// Trending, when set, adds the trending list to every snapshot, from
	// the deltas' post-time buckets of the input partitions of Tweets
	// (TweetsPartitions of them while the topic does not exist).
	Trending         *trend.Config
	Tweets           string
	TweetsPartitions int
	// Committed, when set, is called after each committed transaction
	// (the supervisor's sign that a run worked).
	Committed func()
}

// Stage is one running rank.
type Stage struct {
	cfg Config
	log *slog.Logger
	m   *metrics.Metrics
	c   *kafka.Consumer
	p   *kafka.Producer
	ctx context.Context

	ready    atomic.Bool
	table    *Table
	assigned *kafka.TopicPartition // the deltas partition, while this member holds it
	// next is the delta offset the next snapshot commits, and writes into
	// the meta record beside the totals: the first delta not in the
	// totals. It starts where the restored totals end and advances only
	// with a delta applied, so a skipped message is never committed as
	// consumed. It is sent even when unchanged, so that a member that
	// lost the partition without noticing yet is fenced by the group
	// generation (KIP-447) rather than publish a stale snapshot.
	next  kafka.Offset
	fatal error
	// trend holds the trending buckets beside table (nil with trending
	// off); trendAt is the watermark of the last list published.
	trend   *trend.Tracker
	trendAt time.Time
	warm    *standby // while no partition is assigned
	// stopping is set when Run returns, before the consumer closes.
	stopping bool
	// late is a window whose publish time passed before this member took
	// the partition over and that its predecessor did not publish: it is
	// published as soon as the deltas read reach lateEnd, the deltas'
	// end when the partition was assigned, or at lateBy at the latest.
	late    *window.Window
	lateEnd int64
	lateBy  time.Time
}

// New returns a stage; Run runs it. Ready reports its readiness before Run.
func New(cfg Config, log *slog.Logger, m *metrics.Metrics) *Stage {
	return &Stage{cfg: cfg, log: log.With("stage", "rank", "group", cfg.Group), m: m, next: -1}
}

// Ready is nil once the totals of an assigned partition are restored, and
// on a standby, which has nothing to restore.
func (s *Stage) Ready() error {
	if !s.ready.Load() {
		return errors.New("rank: restoring the running totals")
	}
	return nil
}

// Run runs the stage until ctx ends or a fatal error.
func (s *Stage) Run(ctx context.Context) (err error) {
	s.ctx = ctx
	cfg := s.cfg
	// Registered first so that it runs last.
	defer s.stopStandby()
	s.p, err = kafka.NewProducer(cfg.Kafka.ConfigMap("counter-rank",
		txn.ProducerConfig(cfg.Instance+"-rank", cfg.TxnTimeout, cfg.MaxRecordBytes)))
	if err != nil {
		return fmt.Errorf("rank producer: %w", err)
	}
	defer s.p.Close()
	// The standby follows the state topic while the producer initialises,
	// so that a restarted instance, which is assigned the partition at
	// once, has read most of it by then. It cannot read past a crashed
	// predecessor's open transaction, which Init aborts at once when the
	// predecessor had the same id.
	s.startStandby()
	if err := txn.Init(ctx, s.p, s.log); err != nil {
		return err
	}
	s.c, err = kafka.NewConsumer(cfg.Kafka.ConsumerConfigMap("counter-rank", txn.ConsumerConfig(cfg.Group, cfg.Instance+"-rank", cfg.SessionTimeout, cfg.StatsInterval,
		kafka.ConfigMap{"max.poll.interval.ms": 600000})))
	if err != nil {
		return fmt.Errorf("rank consumer: %w", err)
	}
	defer func() {
		s.stopping = true // the revoke that closing brings starts no standby
		if cerr := txn.CloseConsumer(s.c, []string{cfg.Deltas}, s.rebalance, s.log); cerr != nil && err == nil {
			err = fmt.Errorf("rank consumer close: %w", cerr)
		}
	}()
	s.ready.Store(true) // a standby is ready; an assignment makes it restore
	if err := s.c.SubscribeTopics([]string{cfg.Deltas}, s.rebalance); err != nil {
		return fmt.Errorf("subscribe %s: %w", cfg.Deltas, err)
	}
	s.log.Info("rank started", "topic", cfg.Deltas, "window", cfg.Window, "grace", cfg.Grace)
	due := window.Of(time.Now(), cfg.Window)
	for {
		if s.fatal != nil {
			return s.fatal
		}
		if ctx.Err() != nil {
			return nil // the open snapshot was never committed: the next owner reads its deltas again
		}
		if !time.Now().Before(due.End.Add(cfg.Grace)) {
			s.late = nil // the window due now holds its deltas too
			if s.table != nil {
				if err := s.publish(due); err != nil {
					return err
				}
			}
			due = nextDue(time.Now(), cfg.Window, cfg.Grace)
		}
		if s.late != nil && s.table != nil && s.caughtUp() {
			w := *s.late
			s.late = nil
			if err := s.publish(w); err != nil {
				return err
			}
		}
		wait := min(time.Until(due.End.Add(cfg.Grace)), 100*time.Millisecond)
		ev := s.c.Poll(max(int(wait.Milliseconds()), 1))
		if m, ok := ev.(*kafka.Message); ok {
			err = s.apply(m)
		} else {
			err = txn.Event("rank", ev, s.m, s.log)
		}
		if err != nil {
			return err
		}
	}
}

// missed is the last window whose publish time (end plus grace) had passed
// at now, when a predecessor whose last snapshot was of the window ending
// at published did not publish it; ok is false when it did, or when
// published is unknown (state written before the meta record carried it,
// or no snapshot yet).
func missed(now, published time.Time, length, grace time.Duration) (w window.Window, ok bool) {
	w = window.Of(now.Add(-grace).Add(-length), length)
	return w, !published.IsZero() && published.Before(w.End)
}

// caughtUp tells whether the deltas read reach the end the partition had
// when it was assigned (or lateBy has passed): the late window's snapshot
// then holds the deltas its predecessor did not publish.
func (s *Stage) caughtUp() bool {
	if int64(s.next) >= s.lateEnd || !time.Now().Before(s.lateBy) {
		return true
	}
	pos, err := s.c.Position([]kafka.TopicPartition{*s.assigned})
	return err == nil && int64(pos[0].Offset) >= s.lateEnd
}

// nextDue is the window to publish next after a publish that ended at now:
// the first whose end plus grace is still ahead. Windows that ended while
// the publish ran are not published one by one (their deltas go into the
// next snapshot): publishing them back to back would poll the consumer once
// between two transactions and serve one queued event each time, while an
// aborting publish with a restore queues more than one (statistics, errors).
// A rebalance queued behind them, such as the revoke of a lost assignment,
// would then wait for as long as the aborts go on, and each abort comes from
// that very loss: the offsets are sent with the group metadata of a member
// the coordinator no longer knows.
func nextDue(now time.Time, length, grace time.Duration) window.Window {
	return window.Of(now.Add(-grace), length)
}

func (s *Stage) apply(m *kafka.Message) error {
	if s.table == nil || s.assigned == nil {
		// A message fetched before a revoke; s.next does not move, so
		// it is read again by whoever restores next.
		return nil
	}
	d, err := delta.Decode(m.Value)
	if err != nil {
		// Only tally writes this topic, transactionally: a bad delta is a
		// bug or a foreign writer, and skipping it would make totals wrong.
		return fmt.Errorf("%s[%d]@%d: %w", *m.TopicPartition.Topic, m.TopicPartition.Partition, m.TopicPartition.Offset, err)
	}
	s.table.Apply(d)
	if s.trend != nil && !addTrend(s.trend, d) {
		s.log.Warn("delta with another trending bucket length left out of the trending view", "offset", m.TopicPartition.Offset, "bucket_ms", d.BucketMillis)
	}
	s.log.Debug("delta applied", "offset", m.TopicPartition.Offset, "key", string(m.Key), "posts", d.Posts)
	s.next = m.TopicPartition.Offset + 1
	s.m.DeltasApplied.Inc()
	return nil
}

// publish commits the snapshot of w with the changed totals, the meta
// record and the delta offsets. After an abort it rebuilds from the state
// topic and rewinds the deltas.
func (s *Stage) publish(w window.Window) error {
	start := time.Now()
	t := s.table
	batch := t.Meta().Batch + 1
	meta := t.Meta()
	meta.Batch = batch
	next := int64(s.next)
	meta.NextDelta = &next // the same offset as the transaction commits
	meta.WindowEnd = w.End
	snap := snapshot.Snapshot{
		Batch: batch, WindowStart: w.Start, WindowEnd: w.End,
		Top: t.Top(s.cfg.TopN), WindowTop: t.WindowTop(s.cfg.TopN),
		Posts: meta.Posts, PostsWithTags: meta.PostsWithHashtags, DistinctHashtags: int64(t.Len()),
		ProducedAt: time.Now().UTC(),
	}
	snap.Trending, snap.Watermark = s.trending(t)
	offsets := []kafka.TopicPartition{{Topic: &s.cfg.Deltas, Partition: s.assigned.Partition, Offset: s.next}}
	err := txn.Commit(s.p, s.c, offsets, s.cfg.TxnTimeout, func() error {
		err := t.Changed(func(key string, v state.Total) error {
			b, err := state.EncodeTotal(v)
			if err != nil {
				return fmt.Errorf("encode total: %w", err)
			}
			return s.produce(s.cfg.Counts, s.assigned.Partition, []byte(key), b)
		})
		if err != nil {
			return err
		}
		mb, err := state.EncodeMeta(meta)
		if err != nil {
			return fmt.Errorf("encode meta: %w", err)
		}
		if err := s.produce(s.cfg.Counts, s.assigned.Partition, []byte(state.MetaKey), mb); err != nil {
			return err
		}
		sb, err := snapshot.Encode(snap)
		if err != nil {
			return fmt.Errorf("encode snapshot: %w", err)
		}
		return s.produce(s.cfg.Top, 0, []byte("top"), sb)
	})
	switch {
	case errors.Is(err, txn.ErrAborted):
		s.m.Transactions.WithLabelValues("rank", "aborted").Inc()
		s.log.Warn("snapshot aborted, restoring from the state topic", "window", w, "batch", batch, "err", err)
		if err := s.restore(); err != nil || s.table == nil {
			return err
		}
		// The partition is being fetched: move it to where the restored
		// totals end, past nothing they do not hold.
		if err := s.c.Seek(kafka.TopicPartition{Topic: &s.cfg.Deltas, Partition: s.assigned.Partition, Offset: s.next}, 0); err != nil {
			return fmt.Errorf("seek %s[%d] to %v: %w", s.cfg.Deltas, s.assigned.Partition, s.next, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("rank snapshot %d: %w", batch, err)
	}
	t.Published(batch)
	s.m.Transactions.WithLabelValues("rank", "committed").Inc()
	if s.cfg.Committed != nil {
		s.cfg.Committed()
	}
	s.m.TxnSeconds.WithLabelValues("rank").Observe(time.Since(start).Seconds())
	s.m.SnapshotSeconds.Observe(time.Since(w.End).Seconds())
	s.m.WindowsClosed.WithLabelValues("rank").Inc()
	s.m.Batch.Set(float64(batch))
	s.m.StateHashtags.Set(float64(t.Len()))
	s.m.SetTop(snap.Top)
	s.m.SetTrending(snap.Trending)
	s.log.Info("snapshot committed", "window", w, "batch", batch, "posts", meta.Posts, "distinct", t.Len(), "offset", s.next)
	return nil
}

func (s *Stage) produce(topic string, partition int32, key, value []byte) error {
	return txn.Produce(s.p, &kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: partition},
		Key:            key, Value: value,
	})
}

// restore rebuilds the totals of the assigned partition from the state
// topic and sets s.next to the first delta they do not hold; the caller
// positions the deltas consumer there. After a restore interrupted by a
// shutdown s.table stays nil.
//
// The offset comes from the meta record read with the totals: rank writes
// totals, meta (with that offset) and its consumed offset in one
// transaction, so the last meta record of a read_committed restore is
// exactly as current as the totals. The group's committed offset is only
// the fallback for state written before the meta record carried it; it is
// asked for as a stable offset (txn.Committed), never taken from an answer
// with an error.
func (s *Stage) restore() error {
	s.ready.Store(false)
	s.m.Restored.Set(0)
	s.table, s.next, s.trend = nil, -1, nil
	if s.assigned == nil {
		s.ready.Store(true)
		return nil
	}
	start := time.Now()
	w := s.takeStandby(s.assigned.Partition)
	if w != nil {
		defer w.close()
	}
	t, n, source, err := s.load(w)
	if err != nil {
		if s.ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("restore %s: %w", s.cfg.Counts, err)
	}
	next, from := ResumeAt(t.Meta())
	if next < 0 {
		committed, err := txn.Committed(s.ctx, s.c, []kafka.TopicPartition{*s.assigned}, s.log)
		if err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			return err
		}
		next, from = 0, "committed offset" // nothing committed yet: from the beginning
		if committed[0].Offset >= 0 {
			next = committed[0].Offset
		}
	}
	s.next = next
	if s.cfg.Trending != nil {
		var f *trendFollower
		if w != nil {
			f = w.trend
		}
		if err := s.takeTrend(f); err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	s.table = t
	// The restore's garbage (every record read was a few allocations)
	// would otherwise stay resident until the heap grew into it again.
	debug.FreeOSMemory()
	s.m.RestoreSeconds.Set(time.Since(start).Seconds())
	s.m.RestoredRecords.Set(float64(n))
	s.m.StateHashtags.Set(float64(t.Len()))
	s.m.Batch.Set(float64(t.Meta().Batch))
	s.m.Restored.Set(1)
	s.ready.Store(true)
	s.log.Info("totals restored", "topic", s.cfg.Counts, "partition", s.assigned.Partition,
		"records", n, "from", source, "hashtags", t.Len(), "batch", t.Meta().Batch, "posts", t.Meta().Posts,
		"offset", s.next, "offset_from", from, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// load builds the totals of the assigned partition: from the warm
// standby's table w, caught up with the state topic's end, when there is
// one, else by a restore of the whole partition.
func (s *Stage) load(w *standby) (t *Table, records int64, from string, err error) {
	if w != nil {
		n, err := w.catchUp(s.ctx)
		s.log.Info("warm standby caught up", "records", w.tailed, "caught_up", n)
		return w.table, n, "warm standby", err
	}
	t = NewTable()
	records, err = s.readState(t)
	return t, records, "state topic", err
}

// takeOver is called once the totals of a newly assigned partition are
// restored. When the predecessor's last snapshot is older than the last
// window due (it died, or its partition moved, before it published that
// window), that window is published as soon as the deltas it did not
// publish are read, instead of at the next window's publish time: a
// takeover then costs the time to take the partition, not that plus up to
// a window.
func (s *Stage) takeOver() {
	w, ok := missed(time.Now(), s.table.Meta().WindowEnd, s.cfg.Window, s.cfg.Grace)
	if !ok {
		return
	}
	_, hi, err := s.c.QueryWatermarkOffsets(s.cfg.Deltas, s.assigned.Partition, 1000)
	if err != nil {
		s.log.Warn("deltas end unknown; the missed window goes into the next snapshot", "err", err)
		return
	}
	s.late, s.lateEnd, s.lateBy = &w, hi, time.Now().Add(s.cfg.Window)
	s.log.Info("publishing the window the predecessor missed once its deltas are read", "window", w, "deltas_end", hi)
}

// ResumeAt is the delta offset that totals restored with meta m end at, and
// where it comes from; -1 when m does not carry it (state written before the
// meta record held it, or no state at all), for the caller to ask the
// group's committed offset instead.
func ResumeAt(m state.Meta) (kafka.Offset, string) {
	if m.NextDelta == nil {
		return -1, ""
	}
	return kafka.Offset(*m.NextDelta), "meta record"
}

// rebalance runs inside Poll. An assignment restores before the first delta
// is read; a revoke or a loss drops the totals, whose uncommitted part the
// next owner rebuilds from the state topic and the deltas.
func (s *Stage) rebalance(c *kafka.Consumer, ev kafka.Event) error {
	switch e := ev.(type) {
	case kafka.AssignedPartitions:
		if len(e.Partitions) == 0 {
			return c.IncrementalAssign(e.Partitions)
		}
		tp := e.Partitions[0]
		s.assigned = &tp
		s.log.Info("deltas partition assigned, restoring", "topic", s.cfg.Deltas, "partition", tp.Partition)
		if err := s.restore(); err != nil && s.fatal == nil {
			s.fatal = err
		}
		if s.table == nil {
			// Failed or shut down: nothing is applied without a table.
			return c.IncrementalAssign(e.Partitions)
		}
		s.takeOver()
		// Start the deltas exactly where the restored totals end. The
		// offset is given explicitly so that librdkafka never looks a
		// start offset up itself (see txn.Assign).
		start := tp
		start.Offset = s.next
		return c.IncrementalAssign([]kafka.TopicPartition{start})
	case kafka.RevokedPartitions:
		s.log.Info("deltas partition revoked", "lost", c.AssignmentLost())
		s.assigned, s.table, s.next, s.trend, s.late = nil, nil, -1, nil, nil
		s.m.Restored.Set(0)
		s.m.SetTop(nil)
		s.m.SetTrending(nil)
		s.ready.Store(true)
		if !s.stopping && s.ctx.Err() == nil && s.warm == nil {
			// The totals held were ahead of the state topic (deltas
			// applied since the last snapshot): follow it anew.
			s.startStandby()
		}
		return c.IncrementalUnassign(e.Partitions)
	}
	return nil
}
