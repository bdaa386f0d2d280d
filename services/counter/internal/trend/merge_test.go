package trend

import (
	"math/rand"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/services/counter/internal/hll"
)

// TestAMergeRanksAsOneTrackerFedEverything feeds random cells, split over
// three trackers by a made-up language, and all of them to a fourth, with
// the same watermarks: at every watermark the merge of the three ranks as
// the fourth does, and so does the merge of two against a tracker fed
// those two's cells.
func TestAMergeRanksAsOneTrackerFedEverything(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	parts := []*Tracker{NewTracker(cfg, 2), NewTracker(cfg, 2), NewTracker(cfg, 2)}
	all, two := NewTracker(cfg, 2), NewTracker(cfg, 2)
	compared := 0
	for m := range 90 {
		bucket := t0.Add(time.Duration(m) * time.Minute).UnixMilli()
		for range 40 {
			tag := "t" + strconv.Itoa(r.Intn(12))
			if m > 70 && r.Intn(3) == 0 {
				tag = "rising" // many new authors in the last minutes
			}
			var sk hll.Sketch
			sk.AddString(tag + "-" + strconv.Itoa(r.Intn(30+m)))
			i := r.Intn(len(parts))
			parts[i].Add(tag, bucket, 1, &sk)
			all.Add(tag, bucket, 1, &sk)
			if i < 2 {
				two.Add(tag, bucket, 1, &sk)
			}
		}
		for _, tr := range append(slices.Clone(parts), all, two) {
			tr.Advance(0, bucket+cfg.Bucket.Milliseconds())
			tr.Advance(1, bucket+cfg.Bucket.Milliseconds())
		}
		want, at := all.Top(10)
		got, gotAt := Merge(cfg, parts...).Top(10)
		if !slices.Equal(got, want) || !gotAt.Equal(at) {
			t.Fatalf("minute %d: the merge ranks %v at %v, one tracker %v at %v", m, got, gotAt, want, at)
		}
		want2, _ := two.Top(10)
		if got2, _ := Merge(cfg, parts[0], parts[1]).Top(10); !slices.Equal(got2, want2) {
			t.Fatalf("minute %d: the merge of two ranks %v, one tracker %v", m, got2, want2)
		}
		if len(want) > 0 {
			compared++
		}
	}
	if compared < 5 {
		t.Fatalf("only %d lists had a tag in them", compared)
	}
}
