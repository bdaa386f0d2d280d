package rank

import (
	"context"

	"github.com/hashtrend/hashtrend/pkg/partition"
	"github.com/hashtrend/hashtrend/services/counter/internal/state"
)

// standbyPartition is the state partition a standby follows: the one of
// the deltas topic's only partition, which is what an assignment hands
// over.
const standbyPartition = 0

// standby is the phase of a member without the deltas partition: warm is
// its copy of the totals, nil when it has none.
type standby struct{ warm *warm }

func (*standby) name() string { return "standby" }

// warm is a warm copy of the totals that a standby keeps current by
// following the state topic (tail) in a goroutine of its own, and, with
// trending on, of the trending buckets, kept current by following the
// deltas topic up to what those totals hold (trendFollower). When the
// member is assigned the partition, takeStandby stops the goroutines and
// hands over the copies, which then only have to catch up with the records
// written since; the state they reach is the same a restore and a rebuild
// from the beginning would read.
type warm struct {
	table  *Table
	tail   *partition.Reader
	tailed int64          // records the tail applied, once its goroutine is done
	trend  *trendFollower // nil with trending off, or when it failed
	stop   context.CancelFunc
	done   chan error
	// trendDone yields the follower's outcome; nil without a follower.
	trendDone chan error
}

// startStandby opens a tail and starts following it, and returns the
// standby phase; without a warm copy when the tail cannot be opened (an
// assignment then restores in full). A trending follower that cannot be
// opened only costs a rebuild at the assignment. Should compaction ever
// move the start past the tail's offset, reading again from the beginning
// builds the same totals (partition.Settings resets to the earliest
// offset).
func (s *Stage) startStandby() *standby {
	tail, err := s.openReader("counter-standby", s.cfg.Counts, standbyPartition)
	if err != nil {
		s.log.Warn("no warm standby; an assignment restores in full", "err", err)
		return &standby{}
	}
	ctx, stop := context.WithCancel(s.ctx)
	w := &warm{table: s.newTable(), tail: tail, stop: stop, done: make(chan error, 1)}
	apply := w.table.Restore
	if s.postTime() {
		f, err := s.newTrendFollower(standbyPartition)
		if err != nil {
			s.log.Warn("no warm trending buckets; an assignment rebuilds them", "err", err)
		} else {
			w.trend, w.trendDone = f, make(chan error, 1)
			apply = func(r state.Record) error {
				err := w.table.Restore(r)
				f.holds(r)
				return err
			}
			go func() { w.trendDone <- f.follow(ctx, s.newView, s.askTweetsPartitions) }()
		}
	}
	go func() {
		n, err := partition.Decode(ctx, tail, nil, decodeState, apply)
		w.tailed += n
		w.done <- err
	}()
	s.log.Info("warm standby following the state topic", "topic", s.cfg.Counts, "partition", standbyPartition, "trending", w.trend != nil)
	return &standby{warm: w}
}

// takeStandby stops the standby's goroutines and returns its copies for a
// catch-up, or nil when the member is no standby with a warm copy, its
// copy is of another partition or its totals failed; its trend is nil when
// only the trending follower failed.
func (s *Stage) takeStandby(p int32) *warm {
	sb, ok := s.phase.(*standby)
	if !ok || sb.warm == nil {
		return nil
	}
	w := sb.warm
	sb.warm = nil
	w.stop()
	err := <-w.done
	if w.trend != nil {
		if terr := <-w.trendDone; terr != nil {
			s.log.Warn("warm trending buckets failed; rebuilding them", "err", terr)
			w.trend.r.Close()
			w.trend = nil
		}
	}
	if err != nil || p != standbyPartition {
		w.close()
		if err != nil {
			s.log.Warn("warm standby failed; restoring in full", "err", err)
		}
		return nil
	}
	return w
}

// catchUp applies the records of the state topic from where the tail
// stopped to the partition's high watermark as it stands now, as a
// restore would read them, and returns how many it applied. Records past
// that end are not applied: it is the tail's last read.
func (w *warm) catchUp(ctx context.Context) (int64, error) {
	end, err := w.tail.HighWatermark(ctx, standbyPartition)
	if err != nil {
		return 0, err
	}
	n, err := partition.Decode(ctx, w.tail, map[int32]int64{standbyPartition: end}, decodeState, w.table.Restore)
	w.tailed += n
	return n, err
}

// close releases the warm copy's consumers.
func (w *warm) close() {
	w.tail.Close()
	if w.trend != nil {
		w.trend.r.Close()
	}
}

// stopStandby ends the standby's warm copy, if any.
func (s *Stage) stopStandby() {
	if w := s.takeStandby(-1); w != nil {
		w.close()
	}
}
