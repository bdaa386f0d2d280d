package partition

import (
	"testing"
	"time"
)

// TestTheStallRule walks reads through time: a position that moves at all
// within each bound is progress, however little and however slowly; a read
// is stalled once no partition moved for the whole bound.
func TestTheStallRule(t *testing.T) {
	const bound = time.Minute
	type step struct {
		after     time.Duration // since the read began
		partition int32
		pos       int64
		stalled   bool // what the rule says right after the step
	}
	tests := []struct {
		name  string
		start map[int32]int64
		steps []step
	}{
		{"a read that moves one offset just within each bound is never stalled", map[int32]int64{0: 0}, []step{
			{59 * time.Second, 0, 1, false},
			{118 * time.Second, 0, 2, false},
			{177 * time.Second, 0, 3, false},
			{236 * time.Second, 0, 4, false},
		}},
		{"a read that does not move for the bound is stalled", map[int32]int64{0: 10}, []step{
			{30 * time.Second, 0, 10, false},
			{59 * time.Second, 0, 10, false},
			{60 * time.Second, 0, 10, true},
		}},
		{"a read that moved and then stands still is stalled a bound after it last moved", map[int32]int64{0: 0}, []step{
			{50 * time.Second, 0, 500, false},
			{109 * time.Second, 0, 500, false},
			{110 * time.Second, 0, 500, true},
		}},
		{"a position back where it was is no progress", map[int32]int64{0: 100}, []step{
			{30 * time.Second, 0, 40, false},
			{60 * time.Second, 0, 100, true},
		}},
		{"one partition moving is progress for the read while another is held", map[int32]int64{0: 5, 1: 7}, []step{
			{40 * time.Second, 1, 8, false},
			{80 * time.Second, 1, 9, false},
			{100 * time.Second, 0, 5, false},
			{139 * time.Second, 0, 5, false},
			{140 * time.Second, 0, 5, true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			began := time.Unix(1_700_000_000, 0)
			g := newProgress(began)
			for p, pos := range tt.start {
				g.observe(p, pos, began)
			}
			if g.stalled(began, bound) {
				t.Fatal("stalled at its start")
			}
			for _, s := range tt.steps {
				now := began.Add(s.after)
				g.observe(s.partition, s.pos, now)
				if got := g.stalled(now, bound); got != s.stalled {
					t.Fatalf("after %s at %d on partition %d: stalled %v, want %v", s.after, s.pos, s.partition, got, s.stalled)
				}
			}
		})
	}
}

// TestNoBoundNeverStalls: a reader without Config.Stall waits for as long
// as it takes.
func TestNoBoundNeverStalls(t *testing.T) {
	began := time.Unix(1_700_000_000, 0)
	g := newProgress(began)
	g.observe(0, 3, began)
	if g.stalled(began.Add(24*time.Hour), 0) {
		t.Fatal("a read with no bound was stalled")
	}
	if !g.stalled(began.Add(24*time.Hour), time.Hour) {
		t.Fatal("the same read with a bound of an hour was not stalled a day later")
	}
}
