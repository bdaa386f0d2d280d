package hashtag

import (
	"slices"
	"strings"
	"testing"
)

func TestExtractFollowsEachRule(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []Match
	}{
		{"a plain hashtag is found with its code-point indices", "go #golang now", []Match{{"golang", 3, 10}}},
		{"a hashtag at the start of the text is found", "#go", []Match{{"go", 0, 3}}},
		{"a full-width hash sign starts a hashtag too", "見て ＃猫", []Match{{"猫", 3, 5}}},
		{"indices count code points, not bytes", "ünïcödé #tag", []Match{{"tag", 8, 12}}},
		{"indices count an astral code point as one", "😀 #tag", []Match{{"tag", 2, 6}}},
		{"trailing punctuation is not part of the tag", "#TikTok! #TikTok, (#TikTok)", []Match{{"TikTok", 0, 7}, {"TikTok", 9, 16}, {"TikTok", 19, 26}}},
		{"a hash sign inside a word starts no hashtag", "foo#bar", nil},
		{"a hash sign after a digit starts no hashtag", "1#bar", nil},
		{"a hash sign after an underscore starts no hashtag", "_#bar", nil},
		{"a hash sign after an ampersand starts no hashtag", "&#bar and &#x27;", nil},
		{"a hash sign after a mark starts no hashtag", "é#bar", nil},
		{"a hash sign after a variation selector does start one", "✌\uFE0F#peace ✌\uFE0E#calm", []Match{{"peace", 2, 8}, {"calm", 11, 16}}},
		{"a hash sign after a hash sign starts one", "##double", []Match{{"double", 1, 8}}},
		{"a keycap emoji is not a hashtag", "#\uFE0F\u20E3 #\u20E3a", nil},
		{"digits, underscores and letters mix", "#a_1 #1a #_a", []Match{{"a_1", 0, 4}, {"1a", 5, 8}, {"_a", 9, 12}}},
		{"a tag needs a letter or a mark", "#123 #_ #1_2 #〃", nil},
		{"a combining mark alone is enough", "#\u0301", []Match{{"\u0301", 0, 2}}},
		{"letters of other scripts count", "#ελληνικά #עברית #हिन्दी", []Match{{"ελληνικά", 0, 9}, {"עברית", 10, 16}, {"हिन्दी", 17, 24}}},
		{"the special joiners stay inside the tag", "#a·b #カ・タ #a\u200Cb #a\u200Db #בית־ספר #メ～テレ #メ〜テレ #ゔ゛゜゠ #各〃 #ཀ་ཁ༌ #꙾a #א׳ #א״ב",
			[]Match{{"a·b", 0, 4}, {"カ・タ", 5, 9}, {"a\u200Cb", 10, 14}, {"a\u200Db", 15, 19}, {"בית־ספר", 20, 28}, {"メ～テレ", 29, 34}, {"メ〜テレ", 35, 40}, {"ゔ゛゜゠", 41, 46}, {"各〃", 47, 50}, {"ཀ་ཁ༌", 51, 56}, {"꙾a", 57, 60}, {"א׳", 61, 64}, {"א״ב", 65, 69}}},
		{"other punctuation ends the tag", "#a-b #a.b #a'b #a’b", []Match{{"a", 0, 2}, {"a", 5, 7}, {"a", 10, 12}, {"a", 15, 17}}},
		{"a tag followed by a hash sign is rejected", "#foo#bar #foo＃bar", nil},
		{"a tag followed by a URL scheme separator is rejected", "#http://x.com #https://x.com", nil},
		{"a tag followed by a lone colon is kept", "#news: today", []Match{{"news", 0, 5}}},
		{"a hash sign inside a URL with a scheme starts no hashtag", "see http://example.com/#anchor and x:https://a.io/p#q", nil},
		{"a hash sign inside a URL without a scheme starts no hashtag", "example.com/#anchor (www.example.org/a/#b", nil},
		{"a hash sign after a slash that is not a URL does start one", "either/#or 1.5/#x", []Match{{"or", 7, 10}, {"x", 15, 17}}},
		{"a hashtag before a URL in the same token is kept", "#tag,http://x.com/#no", []Match{{"tag", 0, 4}}},
		{"a hashtag ends at a line break", "#one\n#two\r\n#three", []Match{{"one", 0, 4}, {"two", 5, 9}, {"three", 11, 17}}},
		{"a hashtag running into the ellipsis that ends a cut-off text is a fragment, not a tag", "RT @a: love #TikTok #Tik…", []Match{{"TikTok", 12, 19}}},
		{"a whole text that is a hashtag running into a final ellipsis has none", "#Kafka…", nil},
		{"a full-width hashtag running into a final ellipsis is a fragment too", "見て ＃猫…", nil},
		{"a hashtag followed by a space and then the final ellipsis is kept", "#Kafka …", []Match{{"Kafka", 0, 6}}},
		{"a hashtag before an ellipsis in the middle of the text is kept", "#Kafka… and #Go…", []Match{{"Kafka", 0, 6}}},
		{"a hashtag before an ellipsis that a line break follows is kept", "#Kafka…\n", []Match{{"Kafka", 0, 6}}},
		{"a hashtag before a doubled ellipsis is kept: only a single final one cuts", "#Kafka……", []Match{{"Kafka", 0, 6}}},
		{"a hashtag before three dots is kept", "#Kafka #Streams...", []Match{{"Kafka", 0, 6}, {"Streams", 7, 15}}},
		{"a whole text that is a hashtag not ending in an ellipsis is one", "#Kafka", []Match{{"Kafka", 0, 6}}},
		{"text without hash signs has no hashtags", "nothing here", nil},
		{"an empty text has no hashtags", "", nil},
		{"invalid UTF-8 is scanned rune by rune", "\xff#ok \xfe", []Match{{"ok", 1, 4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Extract(tt.text)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Extract(%q) =\n %+v\nwant\n %+v", tt.text, got, tt.want)
			}
		})
	}
}

func TestExtractAppendReusesTheSlice(t *testing.T) {
	buf := make([]Match, 0, 8)
	text := "a #b #c"
	if n := testing.AllocsPerRun(100, func() { buf = ExtractAppend(buf[:0], text) }); n != 0 {
		t.Errorf("ExtractAppend allocated %v times per call, want 0", n)
	}
	if len(buf) != 2 {
		t.Errorf("got %d matches, want 2", len(buf))
	}
}

func TestExtractStaysLinearOnManyHashSignsInOneToken(t *testing.T) {
	text := strings.Repeat("x/#a!", 100_000)
	if got := len(Extract(text)); got != 100_000 {
		t.Errorf("got %d hashtags, want 100000", got)
	}
}

func TestIsValid(t *testing.T) {
	tests := []struct {
		name string
		s    string
		want bool
	}{
		{"one hashtag is valid", "#tag", true},
		{"a full-width hashtag is valid", "＃タグ", true},
		{"digits alone are not valid", "#2024", false},
		{"a word without hash sign is not valid", "tag", false},
		{"trailing punctuation is not valid", "#tag!", false},
		{"two hashtags are not valid", "#a #b", false},
		{"leading space is not valid", " #a", false},
		{"a lone hash sign is not valid", "#", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsValid(tt.s); got != tt.want {
				t.Errorf("IsValid(%q) = %v, want %v", tt.s, got, tt.want)
			}
		})
	}
}
