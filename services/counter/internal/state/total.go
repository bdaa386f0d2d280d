package state

import (
	"bytes"
	"unicode/utf8"

	"github.com/hashtrend/hashtrend/services/counter/internal/cells"
)

// The canonical total records, as EncodeTotal writes them for a hashtag
// seen in one spelling (most of them): {"v":1,"count":N,"spelling":"S"},
// and with facets on, when all its posts are in one cell (most of them
// too), {"v":2,"count":N,"spelling":"S","cells":{"C":M}}.
var (
	totalHead     = []byte(`{"v":1,"count":`)
	totalHeadV2   = []byte(`{"v":2,"count":`)
	totalSpelling = []byte(`,"spelling":"`)
	totalCell     = []byte(`","cells":{"`)
	totalCellN    = []byte(`":`)
)

// decodeTotalFast reads the canonical forms without reflection: digits
// without a sign or a leading zero, a spelling with no escape, no control
// character and valid UTF-8, a cell of lowercase letters and a slash,
// nothing else before or after. It returns false for anything else, for
// the strict decoder to read (and judge), so whatever it accepts the
// strict decoder reads the same way.
func decodeTotalFast(b []byte) (Total, bool) {
	v := Version
	switch {
	case bytes.HasPrefix(b, totalHead):
	case bytes.HasPrefix(b, totalHeadV2):
		v = CellsVersion
	default:
		return Total{}, false
	}
	count, b, ok := number(b[len(totalHead):])
	if !ok || !bytes.HasPrefix(b, totalSpelling) {
		return Total{}, false
	}
	b = b[len(totalSpelling):]
	end := bytes.IndexByte(b, '"')
	if end < 1 {
		return Total{}, false
	}
	s := b[:end]
	for _, c := range s {
		if c == '\\' || c < 0x20 {
			return Total{}, false
		}
	}
	if !utf8.Valid(s) {
		return Total{}, false
	}
	t := Total{V: v, Count: count, Spelling: string(s)}
	b = b[end:]
	if v == Version {
		return t, string(b) == `"}`
	}
	if !bytes.HasPrefix(b, totalCell) {
		return Total{}, false
	}
	b = b[len(totalCell):]
	end = bytes.IndexByte(b, '"')
	if end < 1 {
		return Total{}, false
	}
	cell := b[:end]
	for _, c := range cell {
		if (c < 'a' || c > 'z') && c != '/' {
			return Total{}, false
		}
	}
	b = b[end:]
	if !bytes.HasPrefix(b, totalCellN) {
		return Total{}, false
	}
	n, b, ok := number(b[len(totalCellN):])
	if !ok || string(b) != "}}" {
		return Total{}, false
	}
	t.Cells = cells.Counts{{Cell: string(cell), N: n}}
	return t, true
}

// number reads the digits at the start of b, without a sign or a leading
// zero and at most 18 of them (no overflow), and returns the rest.
func number(b []byte) (int64, []byte, bool) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == 0 || i > 18 || b[0] == '0' {
		return 0, nil, false // empty, possibly past int64, or a leading zero
	}
	n := int64(0)
	for _, c := range b[:i] {
		n = n*10 + int64(c-'0')
	}
	return n, b[i:], true
}
