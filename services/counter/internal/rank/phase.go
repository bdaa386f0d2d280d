package rank

import (
	"time"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/services/counter/internal/window"
)

// phase is what a rank member is and holds. A member is in one phase at a
// time, and only the rebalance callback moves it from one to another
// (Assigned: standby → restoring → active; Revoked: → standby); an aborted
// snapshot goes through restoring to a new active phase, by the same
// restore as an assignment.
//
//   - standby: the member holds no deltas partition. It keeps a warm copy
//     of the totals and the trending buckets current (standby.go), or none
//     when the state topic could not be followed (an assignment then
//     restores in full). It is ready: it has nothing to restore.
//   - restoring: the partition was assigned and the totals are being
//     restored; nothing is applied or published. Not ready. A restore that
//     fails or is interrupted by a shutdown stays here until the run ends.
//   - active: the member holds the partition, its restored totals, the
//     trending tracker, the offset of the next delta, and after a takeover
//     the window its predecessor missed.
//
// Readiness and the metric hashtrend_counter_rank_phase report the phase.
type phase interface{ name() string }

// restoring is the phase of a restore.
type restoring struct{}

func (restoring) name() string { return "restoring" }

// active is the phase of the member that holds the deltas partition.
type active struct {
	partition int32 // of the deltas topic
	table     *Table
	// next is the delta offset the next snapshot commits, and writes into
	// the meta record beside the totals: the first delta not in the
	// totals. It starts where the restored totals end and advances only
	// with a delta applied, so a skipped message is never committed as
	// consumed. It is sent even when unchanged, so that a member that
	// lost the partition without noticing yet is fenced by the group
	// generation (KIP-447) rather than publish a stale snapshot.
	next int64
	// view holds the trending buckets beside table (its tracker nil with
	// trending off), every facet's (nil without trending per facet), and
	// the choice of the languages with facets of their own (its fold nil
	// with facets off).
	view view
	// lifeWritten is the last bucket end of each facet's lifecycle as the
	// state topic holds it (lifecycle.go).
	lifeWritten map[facet.Name]time.Time
	// rows are the global trending rows, unspelled, made at the bucket
	// end rowsAt.
	rows   []snapshot.Trend
	rowsAt time.Time
	// facets decides which facets' records the next snapshots write (nil
	// with facets off).
	facets *facetWriter
	// late is a window whose publish time passed before this member took
	// the partition over and that its predecessor did not publish: it is
	// published as soon as the deltas read reach lateEnd, the deltas'
	// end when the partition was assigned, or at lateBy at the latest.
	late    *window.Window
	lateEnd int64
	lateBy  time.Time
	// publishing is the window of the snapshot being committed, for the
	// line an abort logs.
	publishing window.Window
}

func (*active) name() string { return "active" }

// enter makes p the stage's phase, for readiness and the phase metric
// too.
func (s *Stage) enter(p phase) {
	s.phase = p
	s.phaseName.Store(p.name())
	s.m.SetRankPhase(p.name())
}
