package rank

import (
	"bytes"
	"cmp"
	"slices"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
	"github.com/hashtrend/hashtrend/services/counter/internal/state"
)

// Table holds the running totals and what changed since the last snapshot.
// It is the updateStateByKey of the Spark original.
//
// It is built to hold millions of hashtags compactly: each is one 16-byte
// entry in fixed-size blocks (its total unboxed and where its key and,
// for the common hashtag seen in one spelling only, that spelling are
// held in the keys arena), found through keys' index; only a hashtag with
// several spellings has a hashtag.Spellings of its own. The top of the
// running totals is kept up to date from the changed keys alone (totals
// only grow), so a snapshot costs what its window changed, not the
// table's size.
type Table struct {
	keys    keys
	blocks  [][]entry
	len     int                  // live entries
	multi   []*hashtag.Spellings // the spellings of entries with more than one
	window  map[uint32]int64     // id → counted in the open snapshot: what changed
	meta    state.Meta
	lead    []uint32 // the best leadN ids by total, best first
	leadN   int      // how many lead holds at most: the largest n asked of Top
	stale   bool     // lead must be rebuilt from every entry
	scratch []byte
	// cells and facets hold the hashtags' posts by cell and the tops of
	// the facets (cells.go, facets.go); nil with facets off.
	cells  *cellTable
	facets *facets
	// lives are the facets' lifecycle records restored (facet → the
	// latest), for the trending view made beside the totals; nil once
	// taken (TakeLifecycles).
	lives map[facet.Name][]byte
}

// entry is one hashtag: its running total, its record in the keys arena
// (its key, and its spelling while it has only one), and bits: its flags
// and, above them, where its spellings are when it has several (multi-1
// in Table.multi, 0 for none).
type entry struct {
	n    int64
	rec  ref
	bits uint32
}

const (
	dead       uint32 = 1 << iota // removed by a tombstone
	inLead                        // one of Table.lead
	multiShift = iota
)

func (e *entry) multi() uint32 { return e.bits >> multiShift }

const blockBits = 14 // 16,384 entries (256 KiB) per block

// NewTable returns an empty table.
func NewTable() *Table {
	return &Table{keys: newKeys(), window: map[uint32]int64{}}
}

// EnableFacets makes an empty table keep its hashtags' cells and the top
// n of every facet.
func (t *Table) EnableFacets(n int) {
	t.cells, t.facets = newCells(), newFacets(n)
}

// TakeLifecycles returns the lifecycle records restored, by facet, and
// forgets them.
func (t *Table) TakeLifecycles() map[facet.Name][]byte {
	l := t.lives
	t.lives = nil
	return l
}

// Len is the number of distinct hashtags.
func (t *Table) Len() int { return t.len }

// Meta returns the running figures and the last batch number.
func (t *Table) Meta() state.Meta { return t.meta }

func (t *Table) at(id uint32) *entry { return &t.blocks[id>>blockBits][id&(1<<blockBits-1)] }

func (t *Table) keyOf(id uint32) []byte { return t.keys.key(t.at(id).rec) }

// lookup returns the id of key, adding an empty entry spelled as given
// when it is new.
func (t *Table) lookup(key, spelling []byte) uint32 {
	h := t.keys.hash(key)
	slot, id, ok := t.keys.probe(h, key, t.keyOf)
	if ok {
		return id
	}
	id = uint32(t.count())
	if id&(1<<blockBits-1) == 0 {
		t.blocks = append(t.blocks, make([]entry, 0, 1<<blockBits))
	}
	b := &t.blocks[len(t.blocks)-1]
	*b = append(*b, entry{rec: t.keys.put(key, spelling)})
	if t.keys.insert(slot, h, id) {
		t.keys.grow(t.live, t.keyOf)
	}
	t.len++
	return id
}

// live yields the id of every entry not removed, in order.
func (t *Table) live(yield func(uint32) bool) {
	for b, block := range t.blocks {
		for i := range block {
			if block[i].bits&dead == 0 && !yield(uint32(b<<blockBits+i)) {
				return
			}
		}
	}
}

// count is the number of entries ever added, dead ones included.
func (t *Table) count() int {
	if len(t.blocks) == 0 {
		return 0
	}
	return (len(t.blocks)-1)<<blockBits + len(t.blocks[len(t.blocks)-1])
}

// add counts n more posts of id spelled as given (others: the counts of
// its spellings other than spelling, within n).
func (t *Table) add(id uint32, n int64, spelling string, others map[string]int64) {
	e := t.at(id)
	single := e.multi() == 0 && len(others) == 0
	switch {
	case single && string(t.keys.spelling(e.rec)) == spelling:
	case single && e.n == 0:
		t.scratch = append(t.scratch[:0], spelling...)
		e.rec = t.keys.put(t.keys.key(e.rec), t.scratch)
	default:
		if e.multi() == 0 {
			sp := &hashtag.Spellings{}
			if e.n > 0 {
				sp.Add(string(t.keys.spelling(e.rec)), e.n)
			}
			t.multi = append(t.multi, sp)
			e.bits |= uint32(len(t.multi)) << multiShift
		}
		t.multi[e.multi()-1].AddOthers(n, spelling, others)
	}
	e.n += n
}

func (t *Table) spelling(id uint32) string {
	e := t.at(id)
	if m := e.multi(); m > 0 {
		return t.multi[m-1].Best()
	}
	return string(t.keys.spelling(e.rec))
}

func (t *Table) others(id uint32) map[string]int64 {
	if m := t.at(id).multi(); m > 0 {
		return t.multi[m-1].Others()
	}
	return nil
}

// Restore loads one record of the state topic: a later record of a key
// replaces an earlier one, a tombstone removes the key. A facet's
// lifecycle record is kept as it is for the trending view
// (TakeLifecycles).
func (t *Table) Restore(r state.Record) error {
	switch {
	case r.Meta != nil:
		t.meta = *r.Meta
	case r.Lifecycle != nil:
		if t.lives == nil {
			t.lives = map[facet.Name][]byte{}
		}
		if r.Lifecycle.State == nil {
			delete(t.lives, r.Lifecycle.Facet)
		} else {
			t.lives[r.Lifecycle.Facet] = r.Lifecycle.State
		}
	case r.Deleted:
		t.remove(r.Key)
	default:
		sp := r.Key // a hashtag of several spellings keeps them elsewhere
		if len(r.Total.Others) == 0 {
			t.scratch = append(t.scratch[:0], r.Total.Spelling...)
			sp = t.scratch
		}
		id := t.lookup(r.Key, sp)
		e := t.at(id)
		if m := e.multi(); m > 0 {
			// Replaced in place, so that a standby applying every
			// window's records holds one Spellings per hashtag.
			*t.multi[m-1] = hashtag.Spellings{}
		}
		e.n = 0
		t.add(id, r.Total.Count, r.Total.Spelling, r.Total.Others)
		t.stale = true
		if t.cells != nil {
			t.cells.restore(id, r.Total.Count, r.Total.Cells)
			t.facets.stale = true
		}
	}
	return nil
}

func (t *Table) remove(key []byte) {
	slot, id, ok := t.keys.find(key, t.keyOf)
	if !ok {
		return
	}
	t.keys.remove(slot, t.keyOf)
	e := t.at(id)
	if m := e.multi(); m > 0 {
		*t.multi[m-1] = hashtag.Spellings{}
	}
	e.bits |= dead
	t.len--
	delete(t.window, id)
	t.stale = true
	if t.cells != nil {
		t.cells.remove(id)
		t.facets.stale = true
	}
}

// Apply adds a delta to the totals and to the open snapshot's window.
func (t *Table) Apply(d delta.Delta) {
	t.meta.Posts += d.Posts
	t.meta.PostsWithHashtags += d.PostsWithHashtags
	for _, c := range d.Counts {
		id := t.lookup([]byte(c.Key), []byte(c.Spelling))
		before := t.at(id).n
		t.add(id, c.N, c.Spelling, c.Others)
		t.window[id] += c.N
		t.raise(id)
		if t.cells != nil {
			t.cells.add(id, before, c.Cells, c.N)
			t.facets.raise(t, id, c)
		}
	}
}

// Changed calls fn for each total changed since the last Published.
func (t *Table) Changed(fn func(key string, v state.Total) error) error {
	for id := range t.window {
		e := t.at(id)
		v := state.Total{Count: e.n, Spelling: t.spelling(id), Others: t.others(id)}
		if t.cells != nil {
			v.Cells = t.cells.encode(id, e.n)
		}
		if err := fn(string(t.keyOf(id)), v); err != nil {
			return err
		}
	}
	return nil
}

// Published starts the next snapshot after one was committed as batch.
func (t *Table) Published(batch int64) {
	t.meta.Batch = batch
	clear(t.window)
}

// before orders by count descending, then key ascending: a deterministic
// order for ties.
func (t *Table) before(a uint32, an int64, b uint32, bn int64) int {
	if c := cmp.Compare(bn, an); c != 0 {
		return c
	}
	return bytes.Compare(t.keyOf(a), t.keyOf(b))
}

func (t *Table) leads(a, b uint32) bool { return t.before(a, t.at(a).n, b, t.at(b).n) < 0 }

// raise updates the lead after id's total grew: it moves up within the
// lead, or enters it when it now beats the last one. Totals never shrink
// between rebuilds, so a hashtag outside the lead can only enter it by
// growing, which is when raise sees it.
func (t *Table) raise(id uint32) {
	if t.stale || t.leadN == 0 {
		return
	}
	e := t.at(id)
	var i int
	if e.bits&inLead != 0 {
		i = slices.Index(t.lead, id)
	} else {
		if len(t.lead) == t.leadN {
			last := t.lead[len(t.lead)-1]
			if !t.leads(id, last) {
				return
			}
			t.at(last).bits &^= inLead
			t.lead = t.lead[:len(t.lead)-1]
		}
		e.bits |= inLead
		t.lead = append(t.lead, id)
		i = len(t.lead) - 1
	}
	for ; i > 0 && t.leads(id, t.lead[i-1]); i-- {
		t.lead[i], t.lead[i-1] = t.lead[i-1], t.lead[i]
	}
}

// rebuild finds the lead again by looking at every entry: after a restore,
// or when a larger top is asked for.
func (t *Table) rebuild() {
	for _, id := range t.lead {
		t.at(id).bits &^= inLead
	}
	t.lead = t.best(t.leadN, func(yield func(uint32, int64) bool) {
		for b, block := range t.blocks {
			for i := range block {
				if block[i].bits&dead == 0 && !yield(uint32(b<<blockBits+i), block[i].n) {
					return
				}
			}
		}
	}, t.lead[:0])
	for _, id := range t.lead {
		t.at(id).bits |= inLead
	}
	t.stale = false
}

// Top returns the n largest running totals.
func (t *Table) Top(n int) []snapshot.Entry {
	if n > t.leadN {
		t.leadN, t.stale = n, true
	}
	if t.stale {
		t.rebuild()
	}
	out := make([]snapshot.Entry, 0, min(n, len(t.lead)))
	for i, id := range t.lead[:min(max(n, 0), len(t.lead))] {
		out = append(out, t.entryOf(i, id, t.at(id).n))
	}
	return out
}

// WindowTop returns the n largest counts of the open snapshot's window.
func (t *Table) WindowTop(n int) []snapshot.Entry {
	ids := t.best(n, func(yield func(uint32, int64) bool) {
		for id, c := range t.window {
			if !yield(id, c) {
				return
			}
		}
	}, nil)
	out := make([]snapshot.Entry, len(ids))
	for i, id := range ids {
		out[i] = t.entryOf(i, id, t.window[id])
	}
	return out
}

func (t *Table) entryOf(i int, id uint32, n int64) snapshot.Entry {
	return snapshot.Entry{Rank: i + 1, Hashtag: t.spelling(id), Key: string(t.keyOf(id)), Count: n}
}

type ranked struct {
	id uint32
	n  int64
}

// best keeps the n best of all in a small sorted slice: one pass, no
// sorting of the whole set. It appends their ids to out.
func (t *Table) best(n int, all func(func(uint32, int64) bool), out []uint32) []uint32 {
	if n <= 0 {
		return out
	}
	before := func(a, b ranked) int { return t.before(a.id, a.n, b.id, b.n) }
	best := make([]ranked, 0, n+1)
	for id, c := range all {
		r := ranked{id, c}
		if len(best) == n && before(r, best[n-1]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(best, r, before)
		best = slices.Insert(best, i, r)
		if len(best) > n {
			best = best[:n]
		}
	}
	for _, r := range best {
		out = append(out, r.id)
	}
	return out
}
