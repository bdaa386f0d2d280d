// Package cells is what deltas and state records carry of a hashtag's
// posts by cell (pkg/facet: a network and a language): a JSON object from
// each cell to its posts, {"bluesky/en":30,"x/und":9}, written in the
// order of the cells and read without reflection in that form, since rank
// reads one per hashtag of every delta and of every state record of a
// restore. Any other form of the object (another order, escapes, spaces)
// is read by encoding/json, which says what a valid one is.
package cells

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Count is one cell's posts.
type Count struct {
	Cell string // facet.Cell's network/language form
	N    int64
}

// Counts are a hashtag's posts by cell, sorted by cell with each cell
// once (as Of makes them and UnmarshalJSON reads them).
type Counts []Count

// Of returns the counts of m, sorted; nil for none.
func Of(m map[string]int64) Counts {
	if len(m) == 0 {
		return nil
	}
	c := make(Counts, 0, len(m))
	for cell, n := range m {
		c = append(c, Count{cell, n})
	}
	c.sort()
	return c
}

func (c Counts) sort() {
	slices.SortFunc(c, func(a, b Count) int { return strings.Compare(a.Cell, b.Cell) })
}

// Map returns the counts as a map (tests and checks).
func (c Counts) Map() map[string]int64 {
	if c == nil {
		return nil
	}
	m := make(map[string]int64, len(c))
	for _, x := range c {
		m[x.Cell] = x.N
	}
	return m
}

// Sum is the posts of every cell.
func (c Counts) Sum() int64 {
	s := int64(0)
	for _, x := range c {
		s += x.N
	}
	return s
}

// MarshalJSON writes the object, cells in their order.
func (c Counts) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+len(c)*20)
	b = append(b, '{')
	for i, x := range c {
		if i > 0 {
			b = append(b, ',')
		}
		if plain(x.Cell) {
			b = append(append(append(b, '"'), x.Cell...), '"', ':')
		} else {
			k, err := json.Marshal(x.Cell)
			if err != nil {
				return nil, err
			}
			b = append(append(b, k...), ':')
		}
		b = strconv.AppendInt(b, x.N, 10)
	}
	return append(b, '}'), nil
}

// plain tells whether s is written in JSON as it is: the letters of a
// cell's name, nothing to escape.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '/' || c == '-') {
			return false
		}
	}
	return true
}

// UnmarshalJSON reads the object: the form MarshalJSON writes without
// reflection, any other through encoding/json (and sorted). A cell given
// twice is an error either way.
func (c *Counts) UnmarshalJSON(b []byte) error {
	if got, ok := fast(b); ok {
		*c = got
		return nil
	}
	if string(b) == "null" {
		*c = nil
		return nil
	}
	// encoding/json keeps the last of a key given twice; so that this
	// path and the fast one agree, a repeated cell is refused here.
	var m map[string]int64
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	got := Of(m)
	if got == nil {
		got = Counts{}
	}
	if n, err := members(b); err == nil && n != len(got) {
		return fmt.Errorf("cells: a cell given twice in %s", b)
	}
	*c = got
	return nil
}

// members counts the members of the JSON object b.
func members(b []byte) (int, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	if _, err := d.Token(); err != nil {
		return 0, err
	}
	n := 0
	for d.More() {
		if _, err := d.Token(); err != nil {
			return 0, err
		}
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// fast reads {"cell":n,...} with cells of lowercase letters, digits, '/'
// and '-' in increasing order, counts of digits without a sign or a
// leading zero (at most 18), no space; false for anything else.
func fast(b []byte) (Counts, bool) {
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return nil, false
	}
	b = b[1 : len(b)-1]
	c := Counts{}
	for len(b) > 0 {
		if len(c) > 0 {
			if b[0] != ',' {
				return nil, false
			}
			b = b[1:]
		}
		if len(b) == 0 || b[0] != '"' {
			return nil, false
		}
		b = b[1:]
		i := 0
		for i < len(b) && (b[i] >= 'a' && b[i] <= 'z' || b[i] >= '0' && b[i] <= '9' || b[i] == '/' || b[i] == '-') {
			i++
		}
		if i == 0 || i+1 >= len(b) || b[i] != '"' || b[i+1] != ':' {
			return nil, false
		}
		cell := string(b[:i])
		b = b[i+2:]
		j := 0
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == 0 || j > 18 || b[0] == '0' && j > 1 {
			return nil, false
		}
		n := int64(0)
		for _, d := range b[:j] {
			n = n*10 + int64(d-'0')
		}
		b = b[j:]
		if len(c) > 0 && c[len(c)-1].Cell >= cell {
			return nil, false // out of order or repeated: the slow path says which
		}
		c = append(c, Count{cell, n})
	}
	return c, true
}
