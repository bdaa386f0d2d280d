// Package facet names the slices of the stream that the counter keeps its
// lists for, as design.md fixes them: everything (`all`), one network
// (`source:bluesky`), one language (`lang:ja`), or one network's posts in
// one language (`source:bluesky/lang:ja`). The counter counts each post
// in one cell, its network and its language (Cell, CellOf), and a facet
// adds up the cells it holds (Route); the printer takes a facet's name
// from its configuration (Parse).
//
// A network is the post's source when the project reads that network
// (Networks), and `other` for any other source, so that a source nobody
// planned for cannot grow the number of facets. A language is the
// primary subtag of the post's language tag, lowercased and with a
// deprecated code replaced by its preferred one (`in` is `id`, `iw` is
// `he`), as golang.org/x/text/language reads BCP 47; `und` when the post
// has none, when it is not a known language tag, and for the codes that
// say a post has no language: `zxx` and the private-use range `qaa` to
// `qtz`, where X puts `qme` (media only), `qht` (hashtags only) and the
// like. Only the busiest languages keep facets of their own; the others
// fold into `other` (Busiest).
package facet

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/text/language"
)

// Names of the facets and cells that are not a network or a language.
const (
	All   = "all"   // every post
	Other = "other" // the fold: other networks, languages beyond the busiest
	Und   = "und"   // no language, or none the post's tag names
)

// networks are the networks with facets of their own, as post.Post.Source
// names them (pkg/wire).
var networks = []string{"bluesky", "mastodon", "twitter", "x"}

// Networks returns the networks with facets of their own, sorted.
func Networks() []string { return slices.Clone(networks) }

// Network is the network a post of source counts in: source itself when
// it is one of Networks, Other for any other.
func Network(source string) string {
	for _, n := range networks {
		if source == n {
			return n
		}
	}
	return Other
}

// Language is the language a post with the language tag lang counts in:
// its primary subtag, lowercased and canonical, or Und (see the package
// comment).
func Language(lang string) string {
	if l, ok := plain[lang]; ok {
		return l
	}
	return parseLanguage(lang)
}

// plain holds Language of the bare subtags seen most (the languages of
// the networks' own pickers), so that most posts skip the parse. It is
// filled once and only read.
var plain = func() map[string]string {
	m := map[string]string{}
	for _, l := range strings.Fields("ar bg bn ca cs da de el en es et eu fa fi fr ga gl he hi hr hu hy id it ja ka ko lt lv ms nl no pl pt ro ru sk sl sr sv ta th tl tr uk ur vi zh und zxx in iw") {
		m[l] = parseLanguage(l)
	}
	return m
}()

// parseLanguage is Language without the cache.
func parseLanguage(lang string) string {
	if lang == "" {
		return Und
	}
	t, err := language.Deprecated.Parse(lang)
	if err != nil {
		return Und
	}
	b, conf := t.Base()
	if conf != language.Exact {
		return Und // und itself, or a tag without a language (x-…)
	}
	if s := b.String(); s != "zxx" && !privateUse(s) {
		return s
	}
	return Und
}

// privateUse tells whether a language subtag is in BCP 47's private-use
// range qaa..qtz.
func privateUse(s string) bool { return len(s) == 3 && s[0] == 'q' && s[1] >= 'a' && s[1] <= 't' }

// Cell is where one post counts: its network and its language, both as
// Network and Language give them.
type Cell struct{ Network, Language string }

// CellOf is the cell of a post from source with the language tag lang.
func CellOf(source, lang string) Cell { return Cell{Network(source), Language(lang)} }

// Cells is CellOf with a memory of the pairs it has seen, for one
// goroutine that asks for millions of posts (a language tag other than a
// bare common one takes a parse of a few hundred nanoseconds). It
// remembers at most cellsKept pairs; others are worked out each time.
// The zero value is ready.
type Cells struct {
	m    map[string]map[string]Cell // source → language tag → cell
	kept int
}

const cellsKept = 4096

// Of is CellOf(source, lang). source and lang may be read into again
// after Of returns: what it keeps is copied.
func (cs *Cells) Of(source, lang string) Cell {
	if c, ok := cs.m[source][lang]; ok {
		return c
	}
	c := CellOf(source, lang)
	if cs.kept < cellsKept {
		if cs.m == nil {
			cs.m = map[string]map[string]Cell{}
		}
		bySource := cs.m[source]
		if bySource == nil {
			bySource = map[string]Cell{}
			cs.m[strings.Clone(source)] = bySource
		}
		bySource[strings.Clone(lang)] = c
		cs.kept++
	}
	return c
}

// String is the cell's form in the counter's records: network/language.
func (c Cell) String() string { return c.Network + "/" + c.Language }

// ParseCell reads a cell's String form, strictly: a network of Networks or
// Other, a canonical language (never Other: a cell is a post's, before any
// fold).
func ParseCell(s string) (Cell, error) {
	n, l, ok := strings.Cut(s, "/")
	if !ok {
		return Cell{}, fmt.Errorf("cell %q: not network/language", s)
	}
	if !validNetwork(n) {
		return Cell{}, fmt.Errorf("cell %q: %q is not a network (%s or %s)", s, n, strings.Join(networks, ", "), Other)
	}
	if !IsLanguage(l) {
		return Cell{}, fmt.Errorf("cell %q: %q is not a language as the counter writes it", s, l)
	}
	return Cell{n, l}, nil
}

func validNetwork(n string) bool { return n == Other || Network(n) == n }

// IsLanguage tells whether l is a language as Language gives it.
func IsLanguage(l string) bool { return l != "" && l != Other && Language(l) == l }

// validLanguage: a language as Language gives it, or the fold.
func validLanguage(l string) bool { return l == Other || IsLanguage(l) }

// Name is a facet: the posts of one network (Network, "" for any) in one
// language (Language, "" for any). The zero Name is All.
type Name struct{ Network, Language string }

const (
	sourcePrefix = "source:"
	langPrefix   = "lang:"
)

// String is the facet's name: all, source:<network>, lang:<language> or
// source:<network>/lang:<language>.
func (n Name) String() string {
	switch {
	case n.Network == "" && n.Language == "":
		return All
	case n.Language == "":
		return sourcePrefix + n.Network
	case n.Network == "":
		return langPrefix + n.Language
	}
	return sourcePrefix + n.Network + "/" + langPrefix + n.Language
}

// IsAll tells whether n is the facet of every post.
func (n Name) IsAll() bool { return n == Name{} }

// Parse reads a facet's name as String writes it. A network must be one
// of Networks or Other, a language one that Language gives or Other; a
// name that only differs from a facet's in letter case or in a language
// written another way (lang:EN, lang:iw) is an error that names the
// facet meant.
func Parse(s string) (Name, error) {
	if s == All {
		return Name{}, nil
	}
	if s == "" {
		return Name{}, notAFacet(s, "empty: all, source:<network>, lang:<language> or source:<network>/lang:<language>")
	}
	var n Name
	rest := s
	if after, ok := strings.CutPrefix(rest, sourcePrefix); ok {
		n.Network, rest, _ = strings.Cut(after, "/")
		if rest == "" && strings.HasSuffix(after, "/") || rest != "" && !strings.HasPrefix(rest, langPrefix) {
			return Name{}, notAFacet(s, "after source:<network> only /lang:<language> may follow")
		}
		if n.Network == "" {
			return Name{}, notAFacet(s, "the network is empty")
		}
	}
	if after, ok := strings.CutPrefix(rest, langPrefix); ok {
		n.Language = after
		if n.Language == "" {
			return Name{}, notAFacet(s, "the language is empty")
		}
	} else if rest != "" {
		return Name{}, notAFacet(s, "not all, source:<network>, lang:<language> or source:<network>/lang:<language>")
	}
	if n.Network != "" && !validNetwork(n.Network) {
		if l := strings.ToLower(n.Network); validNetwork(l) {
			return Name{}, notAFacet(s, fmt.Sprintf("networks are lowercase: did you mean %s?", Name{l, n.Language}))
		}
		return Name{}, notAFacet(s, fmt.Sprintf("%q is not a network: %s, or %s for any other source", n.Network, strings.Join(networks, ", "), Other))
	}
	if n.Language != "" && !validLanguage(n.Language) {
		if l := Language(n.Language); l != Und || strings.EqualFold(n.Language, Und) {
			return Name{}, notAFacet(s, fmt.Sprintf("did you mean %s?", Name{n.Network, l}))
		}
		return Name{}, notAFacet(s, fmt.Sprintf("%q is not a language: a BCP 47 primary subtag such as en or ja, %s, or %s", n.Language, Und, Other))
	}
	return n, nil
}

func notAFacet(s, why string) error { return fmt.Errorf("%q is not a facet: %s", s, why) }

// Route is the facets a post of cell c counts in besides All, when the
// languages for which own(language) is true have facets of their own and
// the rest fold into Other: its network's, its language's and the two
// together.
func Route(c Cell, own func(language string) bool) [3]Name {
	l := c.Language
	if !own(l) {
		l = Other
	}
	return [3]Name{{Network: c.Network}, {Language: l}, {c.Network, l}}
}

// Busiest returns the n languages with the most posts, most first, ties
// by language; a language without posts is never among them. The fold is
// what Route does with the rest.
func Busiest(posts map[string]int64, n int) []string {
	out := make([]string, 0, len(posts))
	for l, p := range posts {
		if p > 0 {
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		if c := cmp.Compare(posts[b], posts[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return out[:min(max(n, 0), len(out))]
}
