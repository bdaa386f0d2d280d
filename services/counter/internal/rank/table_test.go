package rank

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
	"github.com/hashtrend/hashtrend/services/counter/internal/state"
)

func d(counts ...delta.Count) delta.Delta {
	return delta.Delta{WindowStart: time.Unix(0, 0), WindowEnd: time.Unix(2, 0), Posts: int64(len(counts)), Counts: counts}
}

func c(key, spelling string, n int64) delta.Count {
	return delta.Count{Key: key, N: n, Spelling: spelling}
}

// load decodes and restores one record, as a restore does.
func load(t *Table, key, value []byte) error {
	r, err := state.DecodeRecord(key, value)
	if err != nil {
		return err
	}
	return t.Restore(r)
}

func topOf(t *Table, n int, window bool) string {
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
			if got := topOf(tb, tt.n, false); got != tt.want {
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
	if got := topOf(tb, 10, true); got != "1:b=1 " {
		t.Fatalf("WindowTop = %q", got)
	}
	if got := topOf(tb, 10, false); got != "1:a=5 2:b=1 " {
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
		return load(back, []byte(k), b)
	})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := state.EncodeMeta(tb.Meta())
	if err := load(back, []byte(state.MetaKey), m); err != nil {
		t.Fatal(err)
	}
	if topOf(back, 10, false) != topOf(tb, 10, false) || back.Meta().Posts != tb.Meta().Posts || back.Meta().Batch != tb.Meta().Batch {
		t.Fatalf("restored %q %+v, want %q %+v", topOf(back, 10, false), back.Meta(), topOf(tb, 10, false), tb.Meta())
	}
	if err := load(back, []byte("x"), []byte(`{"v":1,"count":1}`)); err == nil {
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
	if err := load(tb, []byte(state.MetaKey), old); err != nil {
		t.Fatal(err)
	}
	if at, _ := ResumeAt(tb.Meta()); at != -1 {
		t.Fatalf("a meta record without the offset resumes at %v, want -1", at)
	}
	for _, next := range []int64{11, 17} {
		n := next
		b, _ := state.EncodeMeta(state.Meta{Batch: 4, Posts: 12, NextDelta: &n})
		if err := load(tb, []byte(state.MetaKey), b); err != nil {
			t.Fatal(err)
		}
	}
	if at, from := ResumeAt(tb.Meta()); at != 17 || from != "meta record" {
		t.Fatalf("resumes at %v (%s), want 17 from the meta record", at, from)
	}
}

// model is the table as a plain map of Spellings, its top found by sorting
// everything: what Table must agree with.
type model struct {
	totals map[string]*hashtag.Spellings
	window map[string]int64
}

func (m *model) top(n int, window bool) string {
	type kv struct {
		k string
		n int64
	}
	var all []kv
	for k, sp := range m.totals {
		c := sp.Total()
		if window {
			if c = m.window[k]; c == 0 {
				continue
			}
		}
		all = append(all, kv{k, c})
	}
	slices.SortFunc(all, func(a, b kv) int {
		if a.n != b.n {
			return cmp.Compare(b.n, a.n)
		}
		return cmp.Compare(a.k, b.k)
	})
	s := ""
	for i, e := range all[:min(n, len(all))] {
		s += fmt.Sprintf("%d:%s=%d ", i+1, m.totals[e.k].Best(), e.n)
	}
	return s
}

// TestTableAgreesWithAPlainMapOfSpellings drives the table and the model
// with the same random deltas, restores and tombstones, asking for tops of
// several sizes in between: the maintained top, the spellings and the
// changed totals must be the model's at every step.
func TestTableAgreesWithAPlainMapOfSpellings(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tb := NewTable()
	m := &model{totals: map[string]*hashtag.Spellings{}, window: map[string]int64{}}
	spellings := []string{"a", "A", "ä", "AA"}
	for step := range 20_000 {
		key := fmt.Sprintf("k%d", r.IntN(300))
		switch x := r.IntN(100); {
		case x < 85:
			c := delta.Count{Key: key, N: 1 + r.Int64N(5), Spelling: key + spellings[r.IntN(len(spellings))]}
			if r.IntN(10) == 0 {
				c.Others = map[string]int64{key + "Other": 1}
				c.N++
			}
			tb.Apply(d(c))
			if m.totals[key] == nil {
				m.totals[key] = &hashtag.Spellings{}
			}
			c.AddTo(m.totals[key])
			m.window[key] += c.N
		case x < 90:
			sp := &hashtag.Spellings{}
			sp.AddOthers(3+r.Int64N(50), key+"Restored", map[string]int64{key + "r": 1})
			b, _ := state.EncodeTotal(state.Total{Count: sp.Total(), Spelling: sp.Best(), Others: sp.Others()})
			if err := load(tb, []byte(key), b); err != nil {
				t.Fatal(err)
			}
			m.totals[key] = sp
		case x < 93:
			if err := load(tb, []byte(key), nil); err != nil {
				t.Fatal(err)
			}
			delete(m.totals, key)
			delete(m.window, key)
		case x < 96:
			tb.Published(int64(step))
			clear(m.window)
		default:
			n := []int{1, 3, 10, 50}[r.IntN(4)]
			if got, want := topOf(tb, n, false), m.top(n, false); got != want {
				t.Fatalf("step %d: Top(%d) = %q, want %q", step, n, got, want)
			}
			if got, want := topOf(tb, n, true), m.top(n, true); got != want {
				t.Fatalf("step %d: WindowTop(%d) = %q, want %q", step, n, got, want)
			}
		}
		if tb.Len() != len(m.totals) {
			t.Fatalf("step %d: Len %d, want %d", step, tb.Len(), len(m.totals))
		}
	}
	seen := 0
	err := tb.Changed(func(k string, v state.Total) error {
		seen++
		sp := m.totals[k]
		if sp == nil || m.window[k] == 0 || v.Count != sp.Total() || v.Spelling != sp.Best() || !maps.Equal(v.Others, sp.Others()) {
			return fmt.Errorf("changed %s = %+v, want total %d of %q, others %v", k, v, sp.Total(), sp.Best(), sp.Others())
		}
		return nil
	})
	if err != nil || seen != len(m.window) {
		t.Fatalf("Changed: %v; %d keys, want %d", err, seen, len(m.window))
	}
}

func TestKeysSurviveGrowthAndRemoval(t *testing.T) {
	tb := NewTable()
	const n = 100_000
	for i := range n {
		tb.Apply(d(c(fmt.Sprintf("tag%d", i), fmt.Sprintf("Tag%d", i), int64(i+1))))
	}
	for i := 0; i < n; i += 3 {
		if err := load(tb, fmt.Appendf(nil, "tag%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	long := strings.Repeat("x", chunkSize)
	tb.Apply(d(c(long, long, 1)))
	for i := range n {
		slot, id, ok := tb.keys.find(fmt.Appendf(nil, "tag%d", i), tb.keyOf)
		_ = slot
		if ok != (i%3 != 0) || ok && (tb.at(id).n != int64(i+1) || tb.spelling(id) != fmt.Sprintf("Tag%d", i)) {
			t.Fatalf("tag%d: found %v, total %d", i, ok, tb.at(id).n)
		}
	}
	if _, id, ok := tb.keys.find([]byte(long), tb.keyOf); !ok || tb.spelling(id) != long {
		t.Fatal("the long key was not kept")
	}
	if want := n - (n+2)/3 + 1; tb.Len() != want {
		t.Fatalf("Len %d, want %d", tb.Len(), want)
	}
}

// A standby applies every window's record of a hashtag, not only the last
// one: a record replacing another reuses the hashtag's spellings and its
// arena record rather than adding new ones.
func TestARecordReplacedAgainAndAgainHoldsNoMore(t *testing.T) {
	tb := NewTable()
	for i := range 1_000 {
		multi, _ := state.EncodeTotal(state.Total{Count: int64(i + 3), Spelling: "Go", Others: map[string]int64{"GO": 1}})
		single, _ := state.EncodeTotal(state.Total{Count: int64(i + 1), Spelling: "Rust"})
		if err := load(tb, []byte("go"), multi); err != nil {
			t.Fatal(err)
		}
		if err := load(tb, []byte("rust"), single); err != nil {
			t.Fatal(err)
		}
	}
	if len(tb.multi) != 1 || len(tb.keys.chunks) != 1 || len(tb.keys.chunks[0]) > 64 {
		t.Fatalf("after 1,000 replacements: %d spellings, %d arena bytes", len(tb.multi), len(tb.keys.chunks[0]))
	}
	if got := topOf(tb, 2, false); got != "1:Go=1002 2:Rust=1000 " {
		t.Fatalf("Top = %q", got)
	}
	if o := tb.others(tb.lookup([]byte("go"), nil)); len(o) != 1 || o["GO"] != 1 {
		t.Fatalf("others of go = %v", o)
	}
}
