package facet_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/pkg/wire"
)

func TestLanguageIsThePrimarySubtagOrUnd(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"a bare subtag is its own language", "ja", "ja"},
		{"letter case does not matter", "EN", "en"},
		{"a region is dropped", "en-US", "en"},
		{"a script and a region are dropped", "zh-Hant-TW", "zh"},
		{"an extension is dropped", "ar-SA-u-nu-latn", "ar"},
		{"a three-letter language stays", "cmn", "cmn"},
		{"a deprecated code takes its preferred value: Indonesian", "in", "id"},
		{"a deprecated code takes its preferred value: Hebrew", "iw", "he"},
		{"a grandfathered tag takes its preferred value", "i-klingon", "tlh"},
		{"Tagalog is not Filipino", "tl", "tl"},
		{"no language is und", "", "und"},
		{"und is und", "und", "und"},
		{"X's media-only code is und", "qme", "und"},
		{"X's hashtags-only code is und", "qht", "und"},
		{"any private-use language is und", "qtz", "und"},
		{"the first code past private use is a language", "qu", "qu"},
		{"no linguistic content is und", "zxx", "und"},
		{"a well-formed but unknown subtag is und", "xx", "und"},
		{"a private-use tag is und", "x-whatever", "und"},
		{"a word is not a tag", "english", "und"},
		{"digits are not a tag", "123", "und"},
		{"a single letter is not a tag", "e", "und"},
		{"the fold's name is not a language", "other", "und"},
		{"an empty subtag is not a tag", "en--US", "und"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := facet.Language(c.in); got != c.want {
				t.Errorf("Language(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestNetworkIsTheSourceOrOther(t *testing.T) {
	for in, want := range map[string]string{
		"bluesky": "bluesky", "mastodon": "mastodon", "twitter": "twitter", "x": "x",
		"synthetic": "other", "": "other", "Bluesky": "other", "other": "other",
	} {
		if got := facet.Network(in); got != want {
			t.Errorf("Network(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLanguagesOfRecordedPosts decodes every post of the reference
// recordings the way ingest does and checks the language each counts in
// against the table below, which names every language tag those
// recordings hold: a tag found there and missing here fails the test.
func TestLanguagesOfRecordedPosts(t *testing.T) {
	want := map[string]string{
		"": "und", "und": "und", "en": "en", "en-US": "en", "nl": "nl", "es": "es", "de": "de",
		"fr": "fr", "pt": "pt", "ja": "ja", "ko": "ko", "zh": "zh", "ru": "ru", "tr": "tr",
		"in": "id", "id": "id", "ht": "ht", "sl": "sl", "tl": "tl", "eu": "eu", "et": "et",
	}
	seen := map[string]int{}
	add := func(where string, p post.Post) {
		seen[p.Lang]++
		w, ok := want[p.Lang]
		if !ok {
			t.Errorf("%s: post %s has the language tag %q, which the table does not name", where, p.ID, p.Lang)
			return
		}
		if got := facet.Language(p.Lang); got != w {
			t.Errorf("%s: post %s: Language(%q) = %q, want %q", where, p.ID, p.Lang, got, w)
		}
	}
	for _, f := range [][]string{{"tweets", "ctit-dutch-tweets.json.gz"}, {"tweets", "twarc-csv-v2-streaming_output_with_error.jsonl"}} {
		for _, line := range systest.SharedLines(t, f...) {
			if r, err := wire.Decode(line); err == nil && r.Kind == wire.KindPost {
				add(f[1], r.Post)
			}
		}
	}
	for _, f := range []string{"jetstream-v1-expected_v1.jsonl", "jetstream-golden_v1.jsonl"} {
		for _, line := range systest.SharedLines(t, "bluesky", f) {
			if r, err := (wire.Jetstream{}).Decode(line); err == nil && r.Kind == wire.KindPost {
				add(f, r.Post)
			}
		}
	}
	for _, line := range systest.SharedLines(t, "mastodon", "rtoot-mastodonsocial-stream.jsonl") {
		if r, err := wire.DecodeMastodonStatus(line); err == nil && r.Kind == wire.KindPost {
			add("mastodon", r.Post)
		}
	}
	// The recordings hold the cases the rule is about: a deprecated code,
	// a region, und and no tag at all.
	for _, tag := range []string{"in", "en-US", "und", ""} {
		if seen[tag] == 0 {
			t.Errorf("no recorded post has the language tag %q (seen: %v)", tag, seen)
		}
	}
}

func TestCellsReadBackAsWritten(t *testing.T) {
	for _, c := range []facet.Cell{facet.CellOf("bluesky", "ja-JP"), facet.CellOf("synthetic", ""), facet.CellOf("x", "qme")} {
		got, err := facet.ParseCell(c.String())
		if err != nil || got != c {
			t.Errorf("ParseCell(%q) = %v, %v", c.String(), got, err)
		}
	}
	if c := facet.CellOf("synthetic", "iw"); c.String() != "other/he" {
		t.Errorf("CellOf(synthetic, iw) = %s", c)
	}
	for _, bad := range []string{"", "bluesky", "bluesky/", "/en", "bluesky/other", "bluesky/EN", "blue/en", "bluesky/en/x", "synthetic/en"} {
		if c, err := facet.ParseCell(bad); err == nil {
			t.Errorf("ParseCell(%q) = %v without an error", bad, c)
		}
	}
}

func TestCellsRemembersWhatCellOfSays(t *testing.T) {
	var cs facet.Cells
	tags := []string{"en", "pt-BR", "qme", "", "xx", "in"}
	for range 2 {
		for _, src := range []string{"bluesky", "x", "synthetic"} {
			for _, l := range tags {
				src, l := string([]byte(src)), string([]byte(l)) // not the strings cached
				if got, want := cs.Of(src, l), facet.CellOf(src, l); got != want {
					t.Errorf("Of(%q, %q) = %v, want %v", src, l, got, want)
				}
			}
		}
	}
	for i := range 5000 { // past what it keeps: still right
		l := fmt.Sprintf("en-x-%d", i)
		if got := cs.Of("x", l); got != facet.CellOf("x", "en") {
			t.Fatalf("Of(x, %q) = %v", l, got)
		}
	}
}

func TestFacetNames(t *testing.T) {
	for _, c := range []struct {
		in   string
		want facet.Name
	}{
		{"all", facet.Name{}},
		{"source:bluesky", facet.Name{Network: "bluesky"}},
		{"source:other", facet.Name{Network: "other"}},
		{"lang:de", facet.Name{Language: "de"}},
		{"lang:und", facet.Name{Language: "und"}},
		{"lang:other", facet.Name{Language: "other"}},
		{"lang:cmn", facet.Name{Language: "cmn"}},
		{"source:bluesky/lang:ja", facet.Name{Network: "bluesky", Language: "ja"}},
		{"source:x/lang:other", facet.Name{Network: "x", Language: "other"}},
	} {
		got, err := facet.Parse(c.in)
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			continue
		}
		if got.String() != c.in {
			t.Errorf("Parse(%q).String() = %q", c.in, got.String())
		}
		if got.IsAll() != (c.in == "all") {
			t.Errorf("Parse(%q).IsAll() = %v", c.in, got.IsAll())
		}
	}
}

func TestNamesThatCannotBeAFacet(t *testing.T) {
	for _, c := range []struct{ in, says string }{
		{"", "empty"},
		{"All", "not all, source:"},
		{"de", "not all, source:"},
		{"language:de", "not all, source:"},
		{"source:", "network is empty"},
		{"lang:", "language is empty"},
		{"source:bluesky/", "only /lang:<language> may follow"},
		{"source:bluesky/de", "only /lang:<language> may follow"},
		{"source:bluesky/lang:", "language is empty"},
		{"lang:ja/source:bluesky", "is not a language"},
		{"source:blusky", `"blusky" is not a network`},
		{"source:synthetic", `"synthetic" is not a network`},
		{"source:Bluesky", "did you mean source:bluesky?"},
		{"lang:DE", "did you mean lang:de?"},
		{"source:bluesky/lang:JA", "did you mean source:bluesky/lang:ja?"},
		{"lang:iw", "did you mean lang:he?"},
		{"lang:en-US", "did you mean lang:en?"},
		{"lang:UND", "did you mean lang:und?"},
		{"lang:xx", `"xx" is not a language`},
		{"lang:qme", `"qme" is not a language`},
		{"lang:english", `"english" is not a language`},
	} {
		n, err := facet.Parse(c.in)
		if err == nil {
			t.Errorf("Parse(%q) = %+v without an error", c.in, n)
			continue
		}
		if !strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), fmt.Sprintf("%q", c.in)) {
			t.Errorf("Parse(%q): %v; want it to name the input and say %q", c.in, err, c.says)
		}
	}
}

func TestRoutingFoldsTheLanguagesWithoutAFacet(t *testing.T) {
	own := func(l string) bool { return l == "ja" || l == "und" }
	for _, c := range []struct {
		cell facet.Cell
		want [3]string
	}{
		{facet.CellOf("bluesky", "ja"), [3]string{"source:bluesky", "lang:ja", "source:bluesky/lang:ja"}},
		{facet.CellOf("x", "qme"), [3]string{"source:x", "lang:und", "source:x/lang:und"}},
		{facet.CellOf("mastodon", "de"), [3]string{"source:mastodon", "lang:other", "source:mastodon/lang:other"}},
		{facet.CellOf("synthetic", "ja"), [3]string{"source:other", "lang:ja", "source:other/lang:ja"}},
	} {
		var got [3]string
		for i, n := range facet.Route(c.cell, own) {
			got[i] = n.String()
		}
		if got != c.want {
			t.Errorf("Route(%s) = %v, want %v", c.cell, got, c.want)
		}
	}
}

func TestBusiestLanguages(t *testing.T) {
	posts := map[string]int64{"en": 50, "ja": 20, "de": 20, "nl": 5, "und": 30, "fr": 0}
	for _, c := range []struct {
		n    int
		want []string
	}{
		{0, []string{}},
		{1, []string{"en"}},
		{3, []string{"en", "und", "de"}}, // de and ja tie: by code
		{4, []string{"en", "und", "de", "ja"}},
		{10, []string{"en", "und", "de", "ja", "nl"}}, // fr had no posts
	} {
		if got := facet.Busiest(posts, c.n); !slices.Equal(got, c.want) {
			t.Errorf("Busiest(%d) = %v, want %v", c.n, got, c.want)
		}
	}
}

func BenchmarkCells(b *testing.B) {
	var cs facet.Cells
	for range b.N {
		cs.Of("bluesky", "pt-BR")
	}
}

func BenchmarkLanguage(b *testing.B) {
	for _, tag := range []string{"en", "pt-BR", "qme"} {
		b.Run(tag, func(b *testing.B) {
			for range b.N {
				facet.Language(tag)
			}
		})
	}
}
