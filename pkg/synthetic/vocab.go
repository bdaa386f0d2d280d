package synthetic

import (
	"math"
	"math/rand"
	"slices"
	"strconv"

	"github.com/hashtrend/hashtrend/pkg/hashtag"
)

// tagList is one language's hashtags (or the neutral ones), the most
// popular first, and the Zipf draw of a rank.
type tagList struct {
	lang string // "" for the neutral list
	tags []string
	zipf *rand.Zipf
}

// neutralShare is the share of a post's tag draws that take a
// language-neutral tag rather than one of the post's language.
const neutralShare = 0.25

// buildVocab makes about n distinct hashtags (distinct by counting key)
// from the word lists: one list per language of langs that has tag words,
// and the neutral list, n shared evenly between them. Each list holds, in
// order of popularity, its single nouns, then noun and modifier pairs
// ("CoffeeTime"), noun pairs, the same with years, each tier shuffled; its
// tricky tags sit at their fixed ranks. A list never has fewer than its
// tricky tags and two more. keys are the counting keys of all the tags.
func buildVocab(rnd *rand.Rand, n int, langs []string) (neutral *tagList, byLang map[string]*tagList, keys map[string]bool) {
	var known []string
	for _, l := range langs {
		if _, ok := tagWords[l]; ok && !slices.Contains(known, l) {
			known = append(known, l)
		}
	}
	claimed := map[string]bool{}
	own := map[string][]int{} // list's language → indices into tricky
	for i, tr := range tricky {
		claimed[hashtag.Key(tr.tag)] = true
		lang := tr.lang
		if !slices.Contains(known, lang) {
			lang = ""
		}
		own[lang] = append(own[lang], i)
	}
	lists := len(known) + 1
	size := func(i int) int {
		s := n / lists
		if i < n%lists {
			s++
		}
		return s
	}
	neutral = buildList(rnd, "", neutralWords.nouns, neutralWords.modifiers, size(0), claimed, own[""])
	byLang = map[string]*tagList{}
	for i, l := range known {
		w := tagWords[l]
		byLang[l] = buildList(rnd, l, w.nouns, w.modifiers, size(i+1), claimed, own[l])
	}
	return neutral, byLang, claimed
}

func buildList(rnd *rand.Rand, lang string, nouns, modifiers []string, size int, claimed map[string]bool, own []int) *tagList {
	size = max(size, len(own)+2)
	need := size - len(own)
	out := make([]string, 0, size)
	for tier := 0; len(out) < need; tier++ {
		cands := candidates(nouns, modifiers, tier)
		rnd.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
		for _, c := range cands {
			if len(out) == need {
				break
			}
			if k := hashtag.Key(c); !claimed[k] {
				claimed[k] = true
				out = append(out, c)
			}
		}
	}
	for _, i := range own { // ascending ranks, as listed
		at := min(tricky[i].rank, len(out))
		out = slices.Insert(out, at, tricky[i].tag)
	}
	return &tagList{lang: lang, tags: out}
}

// candidates are the tags of one tier: nouns; noun and modifier; two
// nouns; noun and year; noun, modifier and year; two nouns and a year;
// beyond those, noun and modifier with a running number, so that any size
// can be filled.
func candidates(nouns, modifiers []string, tier int) []string {
	var out []string
	pairs := func(a, b []string, suffix string) {
		for _, x := range a {
			for _, y := range b {
				if x != y {
					out = append(out, x+y+suffix)
				}
			}
		}
	}
	switch tier {
	case 0:
		out = append(out, nouns...)
	case 1:
		pairs(nouns, modifiers, "")
	case 2:
		pairs(nouns, nouns, "")
	case 3:
		pairs(nouns, years, "")
	case 4, 5:
		for _, y := range years {
			if tier == 4 {
				pairs(nouns, modifiers, y)
			} else {
				pairs(nouns, nouns, y)
			}
		}
	default:
		pairs(nouns, modifiers, "No"+strconv.Itoa(tier-5))
	}
	return out
}

// withZipf gives the list its rank draw, exponent s over its length.
func (l *tagList) withZipf(rnd *rand.Rand, s float64) *tagList {
	l.zipf = rand.NewZipf(rnd, s, 1, uint64(len(l.tags)-1))
	return l
}

func (l *tagList) draw() string { return l.tags[l.zipf.Uint64()] }

// Vocabulary returns the hashtags of lang's list, most popular first, as
// listed (the stream also spells them in other cases); "" gives the
// language-neutral list, which posts of every language draw from. A
// language without tag words here has no list: its posts take neutral
// tags only, and Vocabulary returns nil.
func (g *Generator) Vocabulary(lang string) []string {
	if lang == "" {
		return slices.Clone(g.neutral.tags)
	}
	if l, ok := g.byLang[lang]; ok {
		return slices.Clone(l.tags)
	}
	return nil
}

// pickTag draws one tag for a post in lang: one of the old-style rising
// tags (Config.Rising), or by Zipf rank from the neutral list or lang's.
func (g *Generator) pickTag(lang string) string {
	if len(g.rising) > 0 && g.rnd.Float64() < g.cfg.RisingShare {
		// Younger rising tags are drawn more often: they are the ones rising.
		k := len(g.rising) - 1 - int(math.Sqrt(g.rnd.Float64())*float64(len(g.rising)))
		return g.rising[max(k, 0)]
	}
	l, ok := g.byLang[lang]
	if !ok || g.rnd.Float64() < neutralShare {
		l = g.neutral
	}
	return l.draw()
}

// tailTag picks an old-style rising tag: a neutral tag outside the head of
// the distribution, not rising already.
func (g *Generator) tailTag() string {
	tags := g.neutral.tags
	head := min(50, len(tags)/4)
	for {
		t := tags[head+g.rnd.Intn(len(tags)-head)]
		if !slices.Contains(g.rising, t) || len(tags)-head <= len(g.rising) {
			return t
		}
	}
}
