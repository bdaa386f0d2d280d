package rank

import (
	"cmp"
	"slices"
	"strings"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/services/counter/internal/cells"
)

// cellTable holds each hashtag's posts by cell (network and language,
// pkg/facet), beside the table's entries, with facets on: what every
// facet's count of a hashtag is made of.
//
// Most hashtags have all their posts in one cell, so each entry has one
// 32-bit word here, in blocks parallel to the table's: 0 for no cell,
// the cell's id+1 when every post of the entry is in that one cell (its
// count is then the entry's total), or wholeless|i when the posts are in
// several cells, or only some in a cell (posts counted before facets
// were on are in none): lists[i] holds them. A hashtag of one cell costs
// 4 bytes more than without facets.
type cellTable struct {
	names  []facet.Cell
	strs   []string          // id → the cell's String form
	ids    map[string]uint32 // a cell's String form → its id
	blocks [][]uint32
	lists  [][]cellCount
	free   []uint32 // lists no entry uses any more
	at     []int32  // scratch of add: cell id → its index in a list, +1
	order  []uint32 // cell id → its place among the cells by String form
}

type cellCount struct {
	cell uint32
	n    int64
}

const wholeless = 1 << 31

func newCells() *cellTable { return &cellTable{ids: map[string]uint32{}} }

// id is the id of the cell written s; s was checked by the record's
// decoder.
func (cs *cellTable) id(s string) uint32 {
	if id, ok := cs.ids[s]; ok {
		return id
	}
	c, err := facet.ParseCell(s)
	if err != nil {
		panic("rank: a cell the decoder let through: " + err.Error())
	}
	id := uint32(len(cs.names))
	cs.names, cs.strs = append(cs.names, c), append(cs.strs, s)
	cs.at = append(cs.at, 0)
	cs.ids[s] = id
	// A new cell is rare (a language or network not seen before): place
	// every cell again.
	ids := make([]uint32, len(cs.strs))
	for i := range ids {
		ids[i] = uint32(i)
	}
	slices.SortFunc(ids, func(a, b uint32) int { return strings.Compare(cs.strs[a], cs.strs[b]) })
	cs.order = make([]uint32, len(ids))
	for place, i := range ids {
		cs.order[i] = uint32(place)
	}
	return id
}

func (cs *cellTable) word(id uint32) *uint32 {
	b := int(id >> blockBits)
	for b >= len(cs.blocks) {
		cs.blocks = append(cs.blocks, make([]uint32, 1<<blockBits))
	}
	return &cs.blocks[b][id&(1<<blockBits-1)]
}

// list returns the cells of an entry whose total is n, as a list.
func (cs *cellTable) list(w uint32, n int64) []cellCount {
	switch {
	case w == 0:
		return nil
	case w&wholeless == 0:
		return []cellCount{{w - 1, n}}
	}
	return cs.lists[w&^wholeless]
}

// each calls fn for each cell of entry id, whose total is n.
func (cs *cellTable) each(id uint32, n int64, fn func(cell uint32, n int64)) {
	w := *cs.word(id)
	switch {
	case w == 0:
	case w&wholeless == 0:
		fn(w-1, n)
	default:
		for _, c := range cs.lists[w&^wholeless] {
			fn(c.cell, c.n)
		}
	}
}

// set makes l the cells of entry id, whose total is n.
func (cs *cellTable) set(id uint32, n int64, l []cellCount) {
	w := cs.word(id)
	if len(l) == 1 && l[0].n == n {
		cs.release(*w)
		*w = l[0].cell + 1
		return
	}
	if len(l) == 0 {
		cs.release(*w)
		*w = 0
		return
	}
	if *w&wholeless != 0 {
		cs.lists[*w&^wholeless] = l
		return
	}
	var i uint32
	if k := len(cs.free); k > 0 {
		i, cs.free = cs.free[k-1], cs.free[:k-1]
		cs.lists[i] = l
	} else {
		i = uint32(len(cs.lists))
		cs.lists = append(cs.lists, l)
	}
	*w = wholeless | i
}

func (cs *cellTable) release(w uint32) {
	if w&wholeless != 0 {
		i := w &^ wholeless
		cs.lists[i] = nil
		cs.free = append(cs.free, i)
	}
}

// add counts a delta's posts of entry id, whose total was n before them:
// counts by cell (nil for a delta without cells) of added posts.
func (cs *cellTable) add(id uint32, n int64, counts cells.Counts, added int64) {
	w := *cs.word(id)
	if n == 0 && w == 0 && len(counts) == 1 && counts[0].N == added {
		*cs.word(id) = cs.id(counts[0].Cell) + 1
		return
	}
	if len(counts) == 0 && w == 0 {
		return // no cell before, none now
	}
	l := cs.list(w, n)
	if w&wholeless == 0 {
		l = append(make([]cellCount, 0, len(l)+len(counts)), l...)
	}
	for _, x := range counts {
		cs.id(x.Cell) // every cell has its slot in cs.at
	}
	for i, c := range l {
		cs.at[c.cell] = int32(i + 1)
	}
	for _, x := range counts {
		c := cs.ids[x.Cell]
		if cs.at[c] == 0 {
			l = append(l, cellCount{c, 0})
			cs.at[c] = int32(len(l))
		}
		l[cs.at[c]-1].n += x.N
	}
	for _, c := range l {
		cs.at[c.cell] = 0
	}
	cs.set(id, n+added, l)
}

// restore makes counts the cells of entry id, whose total is n.
func (cs *cellTable) restore(id uint32, n int64, counts cells.Counts) {
	w := *cs.word(id)
	var l []cellCount
	if w&wholeless != 0 {
		l = cs.lists[w&^wholeless][:0]
	}
	for _, x := range counts {
		l = append(l, cellCount{cs.id(x.Cell), x.N})
	}
	cs.set(id, n, l)
}

// remove drops the cells of entry id.
func (cs *cellTable) remove(id uint32) { cs.set(id, 0, nil) }

// encode is the cells of entry id, whose total is n, as a state record
// writes them; nil for none.
func (cs *cellTable) encode(id uint32, n int64) cells.Counts {
	w := *cs.word(id)
	if w == 0 {
		return nil
	}
	if w&wholeless == 0 {
		return cells.Counts{{Cell: cs.strs[w-1], N: n}}
	}
	l := cs.lists[w&^wholeless]
	slices.SortFunc(l, func(a, b cellCount) int { return cmp.Compare(cs.order[a.cell], cs.order[b.cell]) })
	out := make(cells.Counts, len(l))
	for i, c := range l {
		out[i] = cells.Count{Cell: cs.strs[c.cell], N: c.n}
	}
	return out
}
