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
// they never depend on when rank ran. Each trend's lifecycle (since when
// it trends, its peak, its status) is checkpointed with the totals, as it
// can reach back further than the deltas (lifecycle.go).
//
// The transactional loop, the clients and the rebalance callback are the
// stage runner's (package stage); rank supplies what happens at an
// assignment (a restore), a revoke, each delta, each publish time and an
// abort, and is in one of the phases of phase.go.
package rank

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
	"github.com/hashtrend/hashtrend/services/counter/internal/kafkaio"
	"github.com/hashtrend/hashtrend/services/counter/internal/metrics"
	"github.com/hashtrend/hashtrend/services/counter/internal/stage"
	"github.com/hashtrend/hashtrend/services/counter/internal/state"
	"github.com/hashtrend/hashtrend/services/counter/internal/trend"
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
	// RestoreStall bounds a restore's reads that make no progress
	// (partition.Config.Stall): such a restore fails the stage.
	RestoreStall time.Duration
	// Trending, when set, adds the trending list to every snapshot, from
	// the deltas' post-time buckets of the input partitions of Tweets
	// (TweetsPartitions of them while the topic does not exist).
	Trending         *trend.Config
	Tweets           string
	TweetsPartitions int
	// Lifecycle is the definition of each trend's lifecycle (its
	// half-life), with Trending on.
	Lifecycle trend.LifecycleConfig
	// Facets, when set, keeps every hashtag's posts by cell and the lists
	// of every facet (facets.go), the languages with facets of their own
	// chosen by the fold (fold.go).
	Facets *Facets
	// Committed, when set, is called after each committed transaction
	// (the supervisor's sign that a run worked).
	Committed func()
}

// Facets are the settings of the facets.
type Facets struct {
	// PostTime is the post-time clock of the language fold: its bucket
	// and recent window (the trending view's settings).
	PostTime trend.Config
	// Languages is how many languages have facets of their own.
	Languages int
	// Topic is the compacted topic of the facets' lists.
	Topic string
	// Budget is the most bytes (keys and values) of the snapshot and the
	// facet records written per window; facets beyond it wait.
	Budget int
	// Trending adds each facet's trending list, with the trending view
	// on (facettrend.go).
	Trending bool
}

// newTable returns an empty table, keeping cells and facets when they are
// on.
func (s *Stage) newTable() *Table {
	t := NewTable()
	if s.cfg.Facets != nil {
		t.EnableFacets(s.cfg.TopN)
	}
	return t
}

// snapshotKey is the key of every snapshot on the snapshots topic.
const snapshotKey = "top"

// facetRecords are the facet records to write with snapshot batch of
// window w, snapshot bytes long, within the budget (facetwriter.go), and
// how many facets wait for a later window; none with facets off. The
// languages with facets of their own are the fold's at this snapshot.
func (s *Stage) facetRecords(a *active, batch int64, w window.Window, snapshot int) ([]facetRecord, int, error) {
	if a.facets == nil {
		return nil, 0, nil
	}
	var own []string
	if a.view.fold != nil {
		own, _ = a.view.fold.own()
		a.table.SetOwn(own)
	}
	tops := a.table.FacetTops()
	if a.view.facets != nil {
		lists, at := a.view.facets.lists(own, s.cfg.TopN)
		for i := range tops {
			l := lists[tops[i].Name]
			if len(l) == 0 {
				continue
			}
			tops[i].Trending, tops[i].Watermark = spell(l, a.table), &at
		}
	}
	return a.facets.due(tops, batch, w.End, s.cfg.Facets.Budget-len(snapshotKey)-snapshot)
}

// Stage is one running rank.
type Stage struct {
	cfg Config
	log *slog.Logger
	m   *metrics.Metrics
	r   *stage.Runner
	ctx context.Context

	// phase is the member's phase (phase.go), this goroutine's; phaseName
	// is its name for readiness.
	phase     phase
	phaseName atomic.Value
	// due is the window published next, at its end plus the grace.
	due window.Window
	// trendAt is the watermark of the last trending list published.
	trendAt time.Time
}

// New returns a stage; Run runs it. Ready reports its readiness before Run.
func New(cfg Config, log *slog.Logger, m *metrics.Metrics) *Stage {
	s := &Stage{cfg: cfg, log: log.With("stage", "rank", "group", cfg.Group), m: m, phase: &standby{}}
	s.phaseName.Store("")
	s.r = stage.New(stage.Config{
		Name: "rank", Kafka: cfg.Kafka, Instance: cfg.Instance, Group: cfg.Group, Topic: cfg.Deltas,
		TxnTimeout: cfg.TxnTimeout, SessionTimeout: cfg.SessionTimeout, StatsInterval: cfg.StatsInterval,
		MaxRecordBytes: cfg.MaxRecordBytes,
		Settings:       map[string]any{"max.poll.interval.ms": 600000},
		MaxWait:        100 * time.Millisecond,
		Committed:      cfg.Committed,
		Started:        []any{"window", cfg.Window, "grace", cfg.Grace},
	}, s.log, m)
	return s
}

// Ready is nil once the stage has joined its group, except while it
// restores the totals of an assigned partition; a standby is ready, as it
// has nothing to restore.
func (s *Stage) Ready() error {
	if s.r.Ready() != nil || s.phaseName.Load() == "restoring" {
		return errors.New("rank: restoring the running totals")
	}
	return nil
}

// Run runs the stage until ctx ends or a fatal error.
func (s *Stage) Run(ctx context.Context) error {
	s.ctx = ctx
	// Registered first so that it runs last.
	defer s.stopStandby()
	return s.r.Run(ctx, s)
}

// Opened starts the standby, which follows the state topic while the
// producer initialises, so that a restarted instance, which is assigned
// the partition at once, has read most of it by then. It cannot read past
// a crashed predecessor's open transaction, which the producer's
// initialisation aborts at once when the predecessor had the same id.
func (s *Stage) Opened() { s.enter(s.startStandby()) }

// Stop leaves the open snapshot uncommitted: the next owner reads its
// deltas again.
func (s *Stage) Stop() error { return nil }

// Due publishes the window due, and the window a predecessor missed once
// its deltas are read.
func (s *Stage) Due(now time.Time) (time.Time, error) {
	if s.due.End.IsZero() { // the first turn
		s.due = window.Of(now, s.cfg.Window)
	}
	if !now.Before(s.due.End.Add(s.cfg.Grace)) {
		if a, ok := s.phase.(*active); ok {
			a.late = nil // the window due now holds its deltas too
			if err := s.publish(a, s.due); err != nil {
				return time.Time{}, err
			}
		}
		s.due = nextDue(time.Now(), s.cfg.Window, s.cfg.Grace)
	}
	if a, ok := s.phase.(*active); ok && a.late != nil && s.caughtUp(a) {
		w := *a.late
		a.late = nil
		if err := s.publish(a, w); err != nil {
			return time.Time{}, err
		}
	}
	return s.due.End.Add(s.cfg.Grace), nil
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
func (s *Stage) caughtUp(a *active) bool {
	if a.next >= a.lateEnd || !time.Now().Before(a.lateBy) {
		return true
	}
	pos, err := s.r.Consumer().Position(a.partition)
	return err == nil && pos >= a.lateEnd
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

// Record applies a delta to the totals of the active phase.
func (s *Stage) Record(r kafkaio.Record) error {
	a, ok := s.phase.(*active)
	if !ok {
		// A message fetched before a revoke; nothing moves, so it is
		// read again by whoever restores next.
		return nil
	}
	d, err := delta.Decode(r.Value)
	if err != nil {
		// Only tally writes this topic, transactionally: a bad delta is a
		// bug or a foreign writer, and skipping it would make totals wrong.
		return fmt.Errorf("%s[%d]@%d: %w", s.cfg.Deltas, r.Partition, r.Offset, err)
	}
	a.table.Apply(d)
	if v := a.view; (v.tr != nil || v.fold != nil) && !v.add(d) {
		s.log.Warn("delta with another trending bucket length left out of the trending view", "offset", r.Offset, "bucket_ms", d.BucketMillis)
	}
	s.log.Debug("delta applied", "offset", r.Offset, "key", string(r.Key), "posts", d.Posts)
	a.next = r.Offset + 1
	s.m.DeltasApplied.Inc()
	return nil
}

// publish commits the snapshot of w with the changed totals, the meta
// record and the delta offsets. After an abort the runner calls Aborted,
// which rebuilds from the state topic and rewinds the deltas.
func (s *Stage) publish(a *active, w window.Window) error {
	t := a.table
	batch := t.Meta().Batch + 1
	meta := t.Meta()
	meta.Batch = batch
	next := a.next
	meta.NextDelta = &next // the same offset as the transaction commits
	meta.WindowEnd = w.End
	snap := snapshot.Snapshot{
		Batch: batch, WindowStart: w.Start, WindowEnd: w.End,
		Top: t.Top(s.cfg.TopN), WindowTop: t.WindowTop(s.cfg.TopN),
		Posts: meta.Posts, PostsWithTags: meta.PostsWithHashtags, DistinctHashtags: int64(t.Len()),
		ProducedAt: time.Now().UTC(),
	}
	snap.Trending, snap.Watermark, snap.BaselineUntil = s.trending(a, t)
	sb, err := snapshot.Encode(snap)
	if err != nil {
		return fmt.Errorf("encode snapshot: %w", err)
	}
	facets, waiting, err := s.facetRecords(a, batch, w, len(sb))
	if err != nil {
		return fmt.Errorf("facets of snapshot %d: %w", batch, err)
	}
	lives, err := a.view.checkpoints(a.lifeWritten)
	if err != nil {
		return fmt.Errorf("lifecycles of snapshot %d: %w", batch, err)
	}
	offsets := []kafkaio.Offset{{Partition: a.partition, Offset: a.next}}
	a.publishing = w
	committed, err := s.r.Commit(offsets, func(p *kafkaio.Producer) error {
		err := t.Changed(func(key string, v state.Total) error {
			b, err := state.EncodeTotal(v)
			if err != nil {
				return fmt.Errorf("encode total: %w", err)
			}
			return p.Produce(kafkaio.Message{Topic: s.cfg.Counts, Partition: a.partition, Key: []byte(key), Value: b})
		})
		if err != nil {
			return err
		}
		// Before the meta record: a warm standby's state tail then has
		// read them when the meta lets its trending copy go on.
		for _, l := range lives {
			if err := p.Produce(kafkaio.Message{Topic: s.cfg.Counts, Partition: a.partition, Key: []byte(l.key), Value: l.value}); err != nil {
				return err
			}
		}
		mb, err := state.EncodeMeta(meta)
		if err != nil {
			return fmt.Errorf("encode meta: %w", err)
		}
		if err := p.Produce(kafkaio.Message{Topic: s.cfg.Counts, Partition: a.partition, Key: []byte(state.MetaKey), Value: mb}); err != nil {
			return err
		}
		for _, f := range facets {
			if err := p.Produce(kafkaio.Message{Topic: s.cfg.Facets.Topic, Partition: 0, Key: []byte(f.key), Value: f.value}); err != nil {
				return err
			}
		}
		return p.Produce(kafkaio.Message{Topic: s.cfg.Top, Partition: 0, Key: []byte(snapshotKey), Value: sb})
	})
	if err != nil {
		return fmt.Errorf("rank snapshot %d: %w", batch, err)
	}
	if !committed {
		return nil
	}
	for _, l := range lives {
		a.lifeWritten[l.facet] = l.at
	}
	if a.facets != nil {
		a.facets.committed(facets)
		s.m.FacetRecords.Add(float64(len(facets)))
		s.m.FacetsWaiting.Set(float64(waiting))
	}
	written := len(snapshotKey) + len(sb)
	for _, f := range facets {
		written += len(f.key) + len(f.value)
	}
	s.m.WindowBytes.Set(float64(written))
	t.Published(batch)
	s.m.SnapshotSeconds.Observe(time.Since(w.End).Seconds())
	s.m.WindowsClosed.WithLabelValues("rank").Inc()
	s.m.Batch.Set(float64(batch))
	s.m.StateHashtags.Set(float64(t.Len()))
	s.m.SetTop(snap.Top)
	s.m.SetTrending(snap.Trending)
	s.log.Info("snapshot committed", "window", w, "batch", batch, "posts", meta.Posts, "distinct", t.Len(), "offset", a.next)
	return nil
}

// Aborted restores the totals from the state topic after an aborted
// snapshot, and moves the deltas partition, which is being fetched, to
// where the restored totals end, past nothing they do not hold.
func (s *Stage) Aborted(cause error) ([]kafkaio.Offset, error) {
	a := s.phase.(*active) // only the active member publishes
	s.log.Warn("snapshot aborted, restoring from the state topic", "window", a.publishing, "batch", a.table.Meta().Batch+1, "err", cause)
	restored, err := s.restore(a.partition)
	if err != nil || restored == nil {
		return nil, err
	}
	return []kafkaio.Offset{{Partition: restored.partition, Offset: restored.next}}, nil
}

// restore rebuilds the totals of partition from the warm standby or the
// state topic, and the trending buckets beside them, and enters the active
// phase with them, next set to the first delta they do not hold; the
// caller positions the deltas consumer there. It returns nil, nil after a
// restore interrupted by a shutdown (the phase stays restoring).
//
// The offset comes from the meta record read with the totals: rank writes
// totals, meta (with that offset) and its consumed offset in one
// transaction, so the last meta record of a read_committed restore is
// exactly as current as the totals. The group's committed offset is only
// the fallback for state written before the meta record carried it; it is
// asked for as a stable offset (kafkaio.Consumer.Committed), never taken
// from an answer with an error.
func (s *Stage) restore(partition int32) (*active, error) {
	w := s.takeStandby(partition)
	s.enter(restoring{})
	s.m.Restored.Set(0)
	start := time.Now()
	if w != nil {
		defer w.close()
	}
	t, n, source, err := s.load(w, partition)
	if err != nil {
		if s.ctx.Err() != nil {
			return nil, nil
		}
		return nil, fmt.Errorf("restore %s: %w", s.cfg.Counts, err)
	}
	next, from := ResumeAt(t.Meta())
	if next < 0 {
		committed, err := s.r.Consumer().Committed(s.ctx, []int32{partition})
		if err != nil {
			if s.ctx.Err() != nil {
				return nil, nil
			}
			return nil, err
		}
		next, from = 0, "committed offset" // nothing committed yet: from the beginning
		if committed[0].Offset >= 0 {
			next = committed[0].Offset
		}
	}
	a := &active{partition: partition, table: t, next: next}
	if s.cfg.Facets != nil {
		// What the facets topic holds is not known here: the first
		// windows write every facet's lists again.
		a.facets = newFacetWriter()
		a.facets.forget(t.FacetNames())
	}
	if s.postTime() {
		var f *trendFollower
		if w != nil {
			f = w.trend
		}
		if err := s.takeTrend(a, f); err != nil {
			if s.ctx.Err() != nil {
				return nil, nil
			}
			return nil, err
		}
	}
	// The restore's garbage (every record read was a few allocations)
	// would otherwise stay resident until the heap grew into it again.
	debug.FreeOSMemory()
	s.m.RestoreSeconds.Set(time.Since(start).Seconds())
	s.m.RestoredRecords.Set(float64(n))
	s.m.StateHashtags.Set(float64(t.Len()))
	s.m.Batch.Set(float64(t.Meta().Batch))
	s.m.Restored.Set(1)
	s.enter(a)
	s.log.Info("totals restored", "topic", s.cfg.Counts, "partition", partition,
		"records", n, "from", source, "hashtags", t.Len(), "batch", t.Meta().Batch, "posts", t.Meta().Posts,
		"offset", next, "offset_from", from, "took", time.Since(start).Round(time.Millisecond))
	return a, nil
}

// load builds the totals of partition: from the warm standby's table w,
// caught up with the state topic's end, when there is one, else by a
// restore of the whole partition.
func (s *Stage) load(w *warm, partition int32) (t *Table, records int64, from string, err error) {
	if w != nil {
		n, err := w.catchUp(s.ctx)
		if err == nil {
			s.log.Info("warm standby caught up", "records", w.tailed, "caught_up", n)
		}
		return w.table, n, "warm standby", err
	}
	t = s.newTable()
	records, err = s.readState(t, partition)
	return t, records, "state topic", err
}

// takeOver is called once the totals of a newly assigned partition are
// restored. When the predecessor's last snapshot is older than the last
// window due (it died, or its partition moved, before it published that
// window), that window is published as soon as the deltas it did not
// publish are read, instead of at the next window's publish time: a
// takeover then costs the time to take the partition, not that plus up to
// a window.
func (s *Stage) takeOver(a *active) {
	w, ok := missed(time.Now(), a.table.Meta().WindowEnd, s.cfg.Window, s.cfg.Grace)
	if !ok {
		return
	}
	hi, err := s.r.Consumer().End(a.partition)
	if err != nil {
		s.log.Warn("deltas end unknown; the missed window goes into the next snapshot", "err", err)
		return
	}
	a.late, a.lateEnd, a.lateBy = &w, hi, time.Now().Add(s.cfg.Window)
	s.log.Info("publishing the window the predecessor missed once its deltas are read", "window", w, "deltas_end", hi)
}

// ResumeAt is the delta offset that totals restored with meta m end at, and
// where it comes from; -1 when m does not carry it (state written before the
// meta record held it, or no state at all), for the caller to ask the
// group's committed offset instead.
func ResumeAt(m state.Meta) (int64, string) {
	if m.NextDelta == nil {
		return -1, ""
	}
	return *m.NextDelta, "meta record"
}

// Assigned runs inside Poll: the member leaves the standby phase and
// restores before the first delta is read.
func (s *Stage) Assigned(parts []int32) ([]kafkaio.Offset, error) {
	if len(parts) == 0 {
		return nil, nil
	}
	p := parts[0]
	s.log.Info("deltas partition assigned, restoring", "topic", s.cfg.Deltas, "partition", p)
	a, err := s.restore(p)
	if err != nil || a == nil {
		// Failed or shut down: nothing is applied outside the active
		// phase.
		return nil, err
	}
	s.takeOver(a)
	// Start the deltas exactly where the restored totals end. The offset
	// is given explicitly so that librdkafka never looks a start offset
	// up itself (see kafkaio.Consumer.Assign).
	return []kafkaio.Offset{{Partition: p, Offset: a.next}}, nil
}

// Revoked runs inside Poll: a revoke or a loss drops the totals, whose
// uncommitted part the next owner rebuilds from the state topic and the
// deltas, and the member is a standby again.
func (s *Stage) Revoked(parts []int32, lost bool) error {
	s.log.Info("deltas partition revoked", "lost", lost)
	s.m.Restored.Set(0)
	s.m.SetTop(nil)
	s.m.SetTrending(nil)
	if sb, ok := s.phase.(*standby); ok && sb.warm != nil {
		return nil // already following
	}
	if s.r.Closing() || s.ctx.Err() != nil {
		s.enter(&standby{}) // the revoke that closing brings starts no standby
		return nil
	}
	// The totals held were ahead of the state topic (deltas applied since
	// the last snapshot): follow it anew.
	s.enter(s.startStandby())
	return nil
}
