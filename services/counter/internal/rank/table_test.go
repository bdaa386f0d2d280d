package rank

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
	"github.com/hashtrend/hashtrend/services/counter/internal/state"
)

func d(counts ...delta.Count) delta.Delta {
	return delta.Delta{WindowStart: time.Unix(0, 0), WindowEnd: time.Unix(2, 0), Posts: int64(len(counts)), Counts: counts}
}

func c(key, spelling string, n int64) delta.Count {
	return delta.Count{Key: key, N: n, Spelling: spelling}
}

func keys(t *Table, n int, window bool) string {
	es := t.Top(n)
	if window {
		es = t.WindowTop(n)
	}
	s := ""
	for _, e := range es {
		s += fmt.Sprintf("%d:%s=%d ", e.Rank, e.Hashtag, e.Count)
	}
	return s
}

func TestTopOrdersByCountThenKey(t *testing.T) {
	tests := []struct {
		name   string
		deltas []delta.Delta
		n      int
		want   string
	}{
		{"an empty table has an empty top", nil, 10, ""},
		{"larger counts rank first", []delta.Delta{d(c("a", "a", 1), c("b", "b", 3), c("c", "c", 2))}, 10, "1:b=3 2:c=2 3:a=1 "},
		{"ties go to the smaller key", []delta.Delta{d(c("zed", "Zed", 2), c("amy", "Amy", 2), c("kim", "Kim", 2))}, 10, "1:Amy=2 2:Kim=2 3:Zed=2 "},
		{"only the first n are kept", []delta.Delta{d(c("a", "a", 5), c("b", "b", 4), c("c", "c", 3))}, 2, "1:a=5 2:b=4 "},
		{"counts add up across deltas", []delta.Delta{d(c("a", "a", 1), c("b", "b", 2)), d(c("a", "a", 2))}, 10, "1:a=3 2:b=2 "},
		{"a tie at the cut keeps the smaller key", []delta.Delta{d(c("b", "b", 1), c("a", "a", 1), c("c", "c", 1))}, 2, "1:a=1 2:b=1 "},
		{"the display spelling is the one seen most often", []delta.Delta{d(c("go", "Go", 1)), d(delta.Count{Key: "go", N: 3, Spelling: "GO", Others: map[string]int64{"Go": 1}})}, 10, "1:GO=4 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := NewTable()
			for _, x := range tt.deltas {
				tb.Apply(x)
			}
			if got := keys(tb, tt.n, false); got != tt.want {
				t.Fatalf("Top(%d) = %q, want %q", tt.n, got, tt.want)
			}
		})
	}
}

func TestWindowTopHoldsOnlyTheOpenSnapshot(t *testing.T) {
	tb := NewTable()
	tb.Apply(d(c("a", "a", 5)))
	tb.Published(1)
	tb.Apply(d(c("b", "b", 1)))
	if got := keys(tb, 10, true); got != "1:b=1 " {
		t.Fatalf("WindowTop = %q", got)
	}
	if got := keys(tb, 10, false); got != "1:a=5 2:b=1 " {
		t.Fatalf("Top = %q", got)
	}
	if tb.Meta().Batch != 1 || tb.Meta().Posts != 2 {
		t.Fatalf("meta %+v", tb.Meta())
	}
}

func TestChangedTotalsRestoreToTheSameTable(t *testing.T) {
	tb := NewTable()
	tb.Apply(d(c("a", "A", 2), delta.Count{Key: "b", N: 3, Spelling: "B", Others: map[string]int64{"b": 1}}))
	back := NewTable()
	err := tb.Changed(func(k string, v state.Total) error {
		b, err := state.EncodeTotal(v)
		if err != nil {
			return err
		}
		return back.Load([]byte(k), b)
	})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := state.EncodeMeta(tb.Meta())
	if err := back.Load([]byte(state.MetaKey), m); err != nil {
		t.Fatal(err)
	}
	if keys(back, 10, false) != keys(tb, 10, false) || back.Meta().Posts != tb.Meta().Posts || back.Meta().Batch != tb.Meta().Batch {
		t.Fatalf("restored %q %+v, want %q %+v", keys(back, 10, false), back.Meta(), keys(tb, 10, false), tb.Meta())
	}
	if err := back.Load([]byte("x"), []byte(`{"v":1,"count":1}`)); err == nil {
		t.Fatal("a total without a spelling was accepted")
	}
}

// A restore resumes the deltas at the offset written with the totals it
// read, not at whatever the group's offset store answers: the last meta
// record read wins, as its totals do.
func TestRestoreResumesWhereTheRestoredTotalsEnd(t *testing.T) {
	tb := NewTable()
	if at, _ := ResumeAt(tb.Meta()); at != -1 {
		t.Fatalf("empty state resumes at %v, want -1 (ask the committed offset)", at)
	}
	old, _ := state.EncodeMeta(state.Meta{Batch: 3, Posts: 9})
	if err := tb.Load([]byte(state.MetaKey), old); err != nil {
		t.Fatal(err)
	}
	if at, _ := ResumeAt(tb.Meta()); at != -1 {
		t.Fatalf("a meta record without the offset resumes at %v, want -1", at)
	}
	for _, next := range []int64{11, 17} {
		n := next
		b, _ := state.EncodeMeta(state.Meta{Batch: 4, Posts: 12, NextDelta: &n})
		if err := tb.Load([]byte(state.MetaKey), b); err != nil {
			t.Fatal(err)
		}
	}
	if at, from := ResumeAt(tb.Meta()); at != 17 || from != "meta record" {
		t.Fatalf("resumes at %v (%s), want 17 from the meta record", at, from)
	}
}
