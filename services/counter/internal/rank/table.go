package rank

import (
	"cmp"
	"slices"

	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
	"github.com/hashtrend/hashtrend/services/counter/internal/state"
)

// Table holds the running totals and what changed since the last snapshot.
// It is the updateStateByKey of the Spark original.
type Table struct {
	totals  map[string]*hashtag.Spellings // a hashtag's running total is its spellings' Total
	changed map[string]struct{}
	window  map[string]int64 // counted in the open snapshot
	meta    state.Meta
}

// NewTable returns an empty table.
func NewTable() *Table {
	return &Table{totals: map[string]*hashtag.Spellings{}, changed: map[string]struct{}{}, window: map[string]int64{}}
}

// Len is the number of distinct hashtags.
func (t *Table) Len() int { return len(t.totals) }

// Meta returns the running figures and the last batch number.
func (t *Table) Meta() state.Meta { return t.meta }

// Load restores one record of the state topic.
func (t *Table) Load(key, value []byte) error {
	if string(key) == state.MetaKey {
		m, err := state.DecodeMeta(value)
		if err != nil {
			return err
		}
		t.meta = m
		return nil
	}
	if value == nil {
		delete(t.totals, string(key))
		return nil
	}
	v, err := state.DecodeTotal(value)
	if err != nil {
		return err
	}
	e := &hashtag.Spellings{}
	e.AddOthers(v.Count, v.Spelling, v.Others)
	t.totals[string(key)] = e
	return nil
}

// Apply adds a delta to the totals and to the open snapshot's window.
func (t *Table) Apply(d delta.Delta) {
	t.meta.Posts += d.Posts
	t.meta.PostsWithHashtags += d.PostsWithHashtags
	for _, c := range d.Counts {
		e := t.totals[c.Key]
		if e == nil {
			e = &hashtag.Spellings{}
			t.totals[c.Key] = e
		}
		c.AddTo(e)
		t.changed[c.Key] = struct{}{}
		t.window[c.Key] += c.N
	}
}

// Changed calls fn for each total changed since the last Published.
func (t *Table) Changed(fn func(key string, v state.Total) error) error {
	for k := range t.changed {
		e := t.totals[k]
		if err := fn(k, state.Total{Count: e.Total(), Spelling: e.Best(), Others: e.Others()}); err != nil {
			return err
		}
	}
	return nil
}

// Published starts the next snapshot after one was committed as batch.
func (t *Table) Published(batch int64) {
	t.meta.Batch = batch
	clear(t.changed)
	clear(t.window)
}

// Top returns the n largest running totals.
func (t *Table) Top(n int) []snapshot.Entry {
	return top(n, func(yield func(string, int64) bool) {
		for k, e := range t.totals {
			if !yield(k, e.Total()) {
				return
			}
		}
	}, t.spelling)
}

// WindowTop returns the n largest counts of the open snapshot's window.
func (t *Table) WindowTop(n int) []snapshot.Entry {
	return top(n, func(yield func(string, int64) bool) {
		for k, c := range t.window {
			if !yield(k, c) {
				return
			}
		}
	}, t.spelling)
}

func (t *Table) spelling(key string) string {
	if e := t.totals[key]; e != nil {
		return e.Best()
	}
	return key
}

type ranked struct {
	key string
	n   int64
}

// before orders by count descending, then key ascending: a deterministic
// order for ties.
func before(a, b ranked) int {
	if c := cmp.Compare(b.n, a.n); c != 0 {
		return c
	}
	return cmp.Compare(a.key, b.key)
}

// top keeps the n best of all in a small sorted slice: one pass, no
// sorting of the whole table.
func top(n int, all func(func(string, int64) bool), spelling func(string) string) []snapshot.Entry {
	if n <= 0 {
		return []snapshot.Entry{}
	}
	best := make([]ranked, 0, n+1)
	for k, c := range all {
		r := ranked{k, c}
		if len(best) == n && before(r, best[n-1]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(best, r, before)
		best = slices.Insert(best, i, r)
		if len(best) > n {
			best = best[:n]
		}
	}
	out := make([]snapshot.Entry, len(best))
	for i, r := range best {
		out[i] = snapshot.Entry{Rank: i + 1, Hashtag: spelling(r.key), Key: r.key, Count: r.n}
	}
	return out
}
