package state

import (
	"bytes"
	"unicode/utf8"
)

// The canonical total record, as EncodeTotal writes it for a hashtag seen
// in one spelling (most of them): {"v":1,"count":N,"spelling":"S"}.
var (
	totalHead     = []byte(`{"v":1,"count":`)
	totalSpelling = []byte(`,"spelling":"`)
)

// decodeTotalFast reads the canonical form without reflection: digits
// without a sign or a leading zero, a spelling with no escape, no control
// character and valid UTF-8, nothing else before or after. It returns
// false for anything else, for the strict decoder to read (and judge), so
// whatever it accepts the strict decoder reads the same way.
func decodeTotalFast(b []byte) (Total, bool) {
	if !bytes.HasPrefix(b, totalHead) {
		return Total{}, false
	}
	b = b[len(totalHead):]
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == 0 || i > 18 || b[0] == '0' {
		return Total{}, false // empty, possibly past int64, or a leading zero
	}
	count := int64(0)
	for _, c := range b[:i] {
		count = count*10 + int64(c-'0') // 18 digits cannot overflow
	}
	b = b[i:]
	if !bytes.HasPrefix(b, totalSpelling) {
		return Total{}, false
	}
	b = b[len(totalSpelling):]
	end := len(b) - len(`"}`)
	if end < 1 || string(b[end:]) != `"}` {
		return Total{}, false
	}
	s := b[:end]
	for _, c := range s {
		if c == '"' || c == '\\' || c < 0x20 {
			return Total{}, false
		}
	}
	if !utf8.Valid(s) {
		return Total{}, false
	}
	return Total{V: Version, Count: count, Spelling: string(s)}, true
}
