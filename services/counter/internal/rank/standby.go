package rank

import (
	"context"

	"github.com/hashtrend/hashtrend/services/counter/internal/state"
)

// standbyPartition is the state partition a standby follows: the one of
// the deltas topic's only partition, which is what an assignment hands
// over.
const standbyPartition = 0

// standby is a warm copy of the totals that a member without the deltas
// partition keeps current by following the state topic (state.Tail) in a
// goroutine of its own. When the member is assigned the partition, take
// stops the goroutine and hands over the table and the tail, which then
// only has to catch up with the records written since; the state it
// reaches is the same a restore from the beginning would read.
type standby struct {
	table *Table
	tail  *state.Tail
	stop  context.CancelFunc
	done  chan error
}

// startStandby opens a tail and starts following it; nil when the tail
// cannot be opened (an assignment then restores in full).
func (s *Stage) startStandby() {
	tail, err := state.OpenTail(s.cfg.Kafka, s.cfg.Counts, standbyPartition, s.log)
	if err != nil {
		s.log.Warn("no warm standby; an assignment restores in full", "err", err)
		return
	}
	ctx, stop := context.WithCancel(s.ctx)
	w := &standby{table: NewTable(), tail: tail, stop: stop, done: make(chan error, 1)}
	go func() { w.done <- tail.Follow(ctx, w.table.Restore) }()
	s.warm = w
	s.log.Info("warm standby following the state topic", "topic", s.cfg.Counts, "partition", standbyPartition)
}

// takeStandby stops the standby's goroutine and returns its table and tail
// for a catch-up, or nil when there is none for partition or it failed.
func (s *Stage) takeStandby(partition int32) *standby {
	w := s.warm
	s.warm = nil
	if w == nil {
		return nil
	}
	w.stop()
	err := <-w.done
	if err != nil || w.tail.Partition() != partition {
		w.tail.Close()
		if err != nil {
			s.log.Warn("warm standby failed; restoring in full", "err", err)
		}
		return nil
	}
	return w
}

// stopStandby ends the standby, if any.
func (s *Stage) stopStandby() {
	if w := s.takeStandby(-1); w != nil {
		w.tail.Close()
	}
}
