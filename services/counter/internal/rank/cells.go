package rank

import (
	"github.com/hashtrend/hashtrend/pkg/facet"
)

// cells holds each hashtag's posts by cell (network and language,
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
type cells struct {
	names  []facet.Cell
	ids    map[string]uint32 // a cell's String form → its id
	blocks [][]uint32
	lists  [][]cellCount
	free   []uint32 // lists no entry uses any more
}

type cellCount struct {
	cell uint32
	n    int64
}

const wholeless = 1 << 31

func newCells() *cells { return &cells{ids: map[string]uint32{}} }

// id is the id of the cell written s; s was checked by the record's
// decoder.
func (cs *cells) id(s string) uint32 {
	if id, ok := cs.ids[s]; ok {
		return id
	}
	c, err := facet.ParseCell(s)
	if err != nil {
		panic("rank: a cell the decoder let through: " + err.Error())
	}
	id := uint32(len(cs.names))
	cs.names = append(cs.names, c)
	cs.ids[s] = id
	return id
}

func (cs *cells) word(id uint32) *uint32 {
	b := int(id >> blockBits)
	for b >= len(cs.blocks) {
		cs.blocks = append(cs.blocks, make([]uint32, 1<<blockBits))
	}
	return &cs.blocks[b][id&(1<<blockBits-1)]
}

// list returns the cells of an entry whose total is n, as a list.
func (cs *cells) list(w uint32, n int64) []cellCount {
	switch {
	case w == 0:
		return nil
	case w&wholeless == 0:
		return []cellCount{{w - 1, n}}
	}
	return cs.lists[w&^wholeless]
}

// each calls fn for each cell of entry id, whose total is n.
func (cs *cells) each(id uint32, n int64, fn func(cell uint32, n int64)) {
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
func (cs *cells) set(id uint32, n int64, l []cellCount) {
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

func (cs *cells) release(w uint32) {
	if w&wholeless != 0 {
		i := w &^ wholeless
		cs.lists[i] = nil
		cs.free = append(cs.free, i)
	}
}

// add counts a delta's posts of entry id, whose total was n before them:
// counts by cell (nil for a delta without cells) of added posts.
func (cs *cells) add(id uint32, n int64, counts map[string]int64, added int64) {
	w := *cs.word(id)
	if n == 0 && w == 0 && len(counts) == 1 {
		for s, k := range counts {
			if k == added {
				*cs.word(id) = cs.id(s) + 1
				return
			}
		}
	}
	if len(counts) == 0 && w == 0 {
		return // no cell before, none now
	}
	l := cs.list(w, n)
	if w&wholeless == 0 {
		l = append(make([]cellCount, 0, len(l)+len(counts)), l...)
	}
	for s, k := range counts {
		c := cs.id(s)
		i := 0
		for i < len(l) && l[i].cell != c {
			i++
		}
		if i == len(l) {
			l = append(l, cellCount{c, 0})
		}
		l[i].n += k
	}
	cs.set(id, n+added, l)
}

// restore makes counts the cells of entry id, whose total is n.
func (cs *cells) restore(id uint32, n int64, counts map[string]int64) {
	w := *cs.word(id)
	var l []cellCount
	if w&wholeless != 0 {
		l = cs.lists[w&^wholeless][:0]
	}
	for s, k := range counts {
		l = append(l, cellCount{cs.id(s), k})
	}
	cs.set(id, n, l)
}

// remove drops the cells of entry id.
func (cs *cells) remove(id uint32) { cs.set(id, 0, nil) }

// encode is the cells of entry id, whose total is n, as a state record
// writes them; nil for none.
func (cs *cells) encode(id uint32, n int64) map[string]int64 {
	var m map[string]int64
	cs.each(id, n, func(c uint32, k int64) {
		if m == nil {
			m = map[string]int64{}
		}
		m[cs.names[c].String()] = k
	})
	return m
}
