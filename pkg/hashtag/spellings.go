package hashtag

import (
	"iter"
	"maps"
	"slices"
	"strings"
)

// Spellings counts the spellings seen for one key and reports the most
// frequent, ties going to the lexicographically smallest so that every
// replica picks the same. Its Total is the key's count, so a running count
// of a hashtag is a Spellings and nothing more. Records carry it in the
// form "total, best spelling, counts of the others": Best, Total and
// Others write that form, AddOthers reads it back. The zero value is empty and ready to use. It
// holds the leading spelling inline and the others, which most keys never
// have, behind one pointer. A Spellings is not safe for concurrent use.
type Spellings struct {
	best  spelling
	other *[]spelling
}

type spelling struct {
	s string
	n int64
}

// beats reports whether a should be shown rather than b.
func (a spelling) beats(b spelling) bool {
	return a.n > b.n || a.n == b.n && a.s < b.s
}

// Add counts n more sightings of s; n <= 0 and an empty s are ignored.
func (sp *Spellings) Add(s string, n int64) {
	if n <= 0 || s == "" {
		return
	}
	if sp.best.n == 0 {
		sp.best.s = s
	}
	if sp.best.s == s {
		sp.best.n += n
		return
	}
	if sp.other == nil {
		sp.other = new([]spelling)
	}
	others := *sp.other
	i := 0
	for i < len(others) && others[i].s != s {
		i++
	}
	if i == len(others) {
		others = append(others, spelling{s: s})
		*sp.other = others
	}
	others[i].n += n
	if others[i].beats(sp.best) {
		sp.best, others[i] = others[i], sp.best
	}
}

// AddCopy is Add for an s whose bytes the caller reuses (a string cut
// from a buffer read into again): what sp keeps of s is a copy, made when
// s is new to sp.
func (sp *Spellings) AddCopy(s string, n int64) {
	if n > 0 && !sp.has(s) {
		s = strings.Clone(s)
	}
	sp.Add(s, n)
}

// has reports whether s is among the spellings counted.
func (sp *Spellings) has(s string) bool {
	if sp.best.n > 0 && sp.best.s == s {
		return true
	}
	if sp.other == nil {
		return false
	}
	for _, o := range *sp.other {
		if o.s == s {
			return true
		}
	}
	return false
}

// Best returns the most frequent spelling, or "" when none was added.
func (sp *Spellings) Best() string { return sp.best.s }

// All yields every spelling with its count, the best first.
func (sp *Spellings) All() iter.Seq2[string, int64] {
	return func(yield func(string, int64) bool) {
		if sp.best.n == 0 || !yield(sp.best.s, sp.best.n) {
			return
		}
		if sp.other == nil {
			return
		}
		for _, o := range *sp.other {
			if !yield(o.s, o.n) {
				return
			}
		}
	}
}

// Total returns the sightings of all spellings together.
func (sp *Spellings) Total() int64 {
	n := sp.best.n
	if sp.other != nil {
		for _, o := range *sp.other {
			n += o.n
		}
	}
	return n
}

// Others returns the count of every spelling but the best, or nil when
// there is none: with Best and Total, the form records carry.
func (sp *Spellings) Others() map[string]int64 {
	if sp.other == nil || len(*sp.other) == 0 {
		return nil
	}
	m := make(map[string]int64, len(*sp.other))
	for _, o := range *sp.other {
		m[o.s] = o.n
	}
	return m
}

// AddOthers adds total sightings given in the form Others writes: others[s]
// of them spelled s, the rest spelled best. The others are added in sorted
// order, so that replaying the same records builds the same Spellings.
func (sp *Spellings) AddOthers(total int64, best string, others map[string]int64) {
	for _, s := range slices.Sorted(maps.Keys(others)) {
		sp.Add(s, others[s])
		total -= others[s]
	}
	sp.Add(best, total)
}
