package hashtag

import (
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/transform"
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

// folder is a case-folding Caser with its buffers. A cases.Caser keeps
// state between calls and must not be shared by goroutines, and building
// one, or letting Caser.String allocate its buffers, costs more than the
// fold of a short tag; so folders are pooled.
type folder struct {
	caser    cases.Caser
	src, dst []byte
}

var folders = sync.Pool{New: func() any {
	return &folder{caser: cases.Fold(), src: make([]byte, 0, 64), dst: make([]byte, 0, 128)}
}}

// fold returns the Unicode case fold of s, s itself when it is unchanged.
func fold(s string) string {
	f := folders.Get().(*folder)
	defer folders.Put(f)
	f.src = append(f.src[:0], s...)
	for {
		f.caser.Reset()
		n, read, err := f.caser.Transform(f.dst[:cap(f.dst)], f.src, true)
		if err == transform.ErrShortDst {
			f.dst = make([]byte, 0, 2*cap(f.dst)+len(s))
			continue
		}
		if err != nil || read < len(f.src) { // not expected; fall back to the plain call
			return cherokeeCapitals(f.caser.String(s))
		}
		if string(f.dst[:n]) == s {
			return cherokeeCapitals(s)
		}
		return cherokeeCapitals(string(f.dst[:n]))
	}
}

// cherokeeCapitals maps the small Cherokee letters of s to capitals and
// leaves every other byte as it is, invalid UTF-8 included (strings.Map
// would turn that into U+FFFD, which the next Key would then keep: the key
// would not be its own key).
func cherokeeCapitals(s string) string {
	first := -1
	for i, r := range s {
		if cherokeeCapital(r) != r {
			first = i
			break
		}
	}
	if first < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:first])
	for i := first; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteByte(s[i])
		} else {
			b.WriteRune(cherokeeCapital(r))
		}
		i += n
	}
	return b.String()
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
