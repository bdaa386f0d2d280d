package render

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/rivo/uniseg"
)

// Width is the number of terminal columns s takes: grapheme clusters are
// measured as a whole, so East Asian wide and fullwidth characters and
// emoji (ZWJ sequences and flags included) take two columns, and combining
// marks, joiners and variation selectors none of their own.
func Width(s string) int { return uniseg.StringWidth(s) }

// Truncate cuts s to at most limit columns the way Spark's show() does:
// a longer value keeps its first limit-3 columns followed by "...", or just
// its first limit columns when limit is below 4. A limit of 0 or less keeps
// s whole. The cut never splits a grapheme cluster; where a wide character
// does not fit it is left out, so the result may be a column short.
func Truncate(s string, limit int) string {
	if limit <= 0 || Width(s) <= limit {
		return s
	}
	keep, dots := limit-3, "..."
	if limit < 4 {
		keep, dots = limit, ""
	}
	var b strings.Builder
	used, state := 0, -1
	for rest := s; rest != ""; {
		var cluster string
		var w int
		cluster, rest, w, state = uniseg.FirstGraphemeClusterInString(rest, state)
		if used+w > keep {
			break
		}
		b.WriteString(cluster)
		used += w
	}
	return b.String() + dots
}

// printable replaces control characters (newlines, tabs, escape sequences
// that would repaint the terminal) with visible escapes, as show() does for
// newlines and tabs, so that a cell is always one line of plain text.
func printable(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case unicode.IsControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
