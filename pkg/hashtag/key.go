package hashtag

import (
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Key returns the counting key of a hashtag: its Unicode case fold in NFKC,
// norm.NFKC.String(cases.Fold().String(tag)), so that #TikTok, #tiktok and
// #ＴｉｋＴｏｋ count as one. For the few compatibility characters whose
// NFKC form can be folded further (ℌ becomes H), the rule is applied again
// until the key no longer changes, so that a key is its own key; and
// Cherokee folds to its capitals as Unicode says, which x/text gets wrong.
//
// An all-ASCII tag takes a fast path that lowercases it, which gives the
// same key; a tag that is already its key is returned without allocating.
// Key is safe for concurrent use.
func Key(tag string) string {
	for range 4 {
		if k, ok := asciiKey(tag); ok {
			return k
		}
		f := fold(tag)
		if norm.NFKC.IsNormalString(f) {
			return f // folding is idempotent, so f is its own key
		}
		tag = norm.NFKC.String(f)
	}
	return tag
}

// asciiKey lowercases an all-ASCII tag; ok is false when tag is not ASCII.
func asciiKey(tag string) (key string, ok bool) {
	upper := false
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if c >= utf8.RuneSelf {
			return "", false
		}
		upper = upper || 'A' <= c && c <= 'Z'
	}
	if !upper {
		return tag, true
	}
	b := make([]byte, len(tag))
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	return string(b), true
}

// folders holds case-folding Casers: a cases.Caser keeps state between
// calls and must not be shared by goroutines, and building one per call
// costs more than the fold of a short tag.
var folders = sync.Pool{New: func() any {
	c := cases.Fold()
	return &c
}}

// fold returns the Unicode case fold of s.
func fold(s string) string {
	c := folders.Get().(*cases.Caser)
	f := c.String(s)
	folders.Put(c)
	for _, r := range f {
		if cherokeeCapital(r) != r {
			return strings.Map(cherokeeCapital, f)
		}
	}
	return f
}

// cherokeeCapital maps small Cherokee letters to capitals. Unicode folds
// Cherokee to the capitals, but golang.org/x/text folds the capitals to
// small letters (go.dev/issue/46101), so without this a key would flip
// between the two on every application and never be its own key.
func cherokeeCapital(r rune) rune {
	switch {
	case 0xAB70 <= r && r <= 0xABBF:
		return r - 0xAB70 + 0x13A0
	case 0x13F8 <= r && r <= 0x13FD:
		return r - 0x13F8 + 0x13F0
	}
	return r
}
