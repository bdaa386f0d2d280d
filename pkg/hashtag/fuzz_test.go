package hashtag

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

var fuzzSeeds = []string{
	"", "#", "#a", "a #b #c", "foo#bar", "&#x27;", "#a#b", "##a", "#http://x",
	"http://x.com/#a", "x.com/#a", "✌\uFE0F#a", "#\uFE0F\u20E3", "＃ｈａｓｈ",
	"#il·lusió", "#ශ්\u200dරී", "#ℌ", "\xff#\xfe", "#\u0301", "#123",
	"#a…", "a #b …", "#a… #b…", "#a...", "x.com/#a…", "#a#b…", "\xe2\x80#a\xe2\x80\xa6",
}

// FuzzExtract checks that extraction never panics, that every match lies
// within the text at the indices it claims, that the text there is a hash
// sign and the tag, and that a tag's key is its own key. For a text ending
// in an ellipsis it checks the one rule that departs from twitter-text: the
// matches are those of the same text with a space after the ellipsis (which
// no longer ends it), less a last match that ran into the ellipsis.
func FuzzExtract(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		runes := []rune(text)
		got := Extract(text)
		if strings.HasSuffix(text, ellipsis) {
			want := Extract(text + " ")
			if n := len(want); n > 0 && want[n-1].End == len(runes)-1 {
				want = want[:n-1]
			}
			if !slices.Equal(got, want) {
				t.Fatalf("Extract(%q) = %+v, want %+v: the text's matches with a space after the final ellipsis, less one running into it", text, got, want)
			}
		}
		prevEnd := 0
		for _, m := range got {
			if m.Start < prevEnd || m.Start >= m.End || m.End > len(runes) {
				t.Fatalf("match %+v out of order or outside the text of %d code points", m, len(runes))
			}
			prevEnd = m.End
			if h := runes[m.Start]; h != '#' && h != fullwidthHash {
				t.Fatalf("match %+v does not start at a hash sign but at %q", m, h)
			}
			if body := string(runes[m.Start+1 : m.End]); body != m.Tag {
				t.Fatalf("match %+v: text at its indices is %q", m, body)
			}
			k := Key(m.Tag)
			if k2 := Key(k); k2 != k {
				t.Fatalf("Key(%q) = %q but Key of that is %q", m.Tag, k, k2)
			}
		}
	})
}

// FuzzKey checks that any string's key is its own key, and that the key is
// the design's rule whenever that rule is itself stable.
func FuzzKey(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Add("ẞΣİıǅ")
	f.Fuzz(func(t *testing.T, tag string) {
		k := Key(tag)
		if k2 := Key(k); k2 != k {
			t.Fatalf("Key(%q) = %q but Key of that is %q", tag, k, k2)
		}
		rule := norm.NFKC.String(cases.Fold().String(tag))
		if norm.NFKC.String(cases.Fold().String(rule)) == rule && k != rule {
			t.Fatalf("Key(%q) = %q, want the design's %q", tag, k, rule)
		}
	})
}
