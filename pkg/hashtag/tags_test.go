package hashtag

import (
	"slices"
	"testing"

	"github.com/hashtrend/hashtrend/pkg/post"
)

func TestOf(t *testing.T) {
	tests := []struct {
		name string
		p    post.Post
		want []Tag
	}{
		{"tags are extracted from the text when the source gave none",
			post.Post{Text: "#Go and #Kafka"}, []Tag{{"go", "Go"}, {"kafka", "Kafka"}}},
		{"the source's entities win over the text",
			post.Post{Text: "#cut… ", Hashtags: []string{"Cutoff", "Full"}}, []Tag{{"cutoff", "Cutoff"}, {"full", "Full"}}},
		{"tags extracted from a cut-off text leave out the fragment that runs into its final ellipsis",
			post.Post{Text: "RT @a: … #Kafka #Stre…"}, []Tag{{"kafka", "Kafka"}}},
		{"the source's entities of a cut-off text are taken as they are",
			post.Post{Text: "RT @a: … #Kafka #Stre…", Hashtags: []string{"Kafka", "Streams"}}, []Tag{{"kafka", "Kafka"}, {"streams", "Streams"}}},
		{"an empty entity list means no hashtags even when the text has some",
			post.Post{Text: "#notatag in a code sample", Hashtags: []string{}}, nil},
		{"a tag counts once per post, with its first spelling",
			post.Post{Text: "#TikTok #tiktok #ＴＩＫＴＯＫ #TikTok"}, []Tag{{"tiktok", "TikTok"}}},
		{"entities are deduplicated by key as well",
			post.Post{Hashtags: []string{"Go", "GO", "go"}}, []Tag{{"go", "Go"}}},
		{"empty entity strings are skipped",
			post.Post{Hashtags: []string{"", "x"}}, []Tag{{"x", "x"}}},
		{"a post without hashtags has none", post.Post{Text: "plain"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Of(tt.p); !slices.Equal(got, tt.want) {
				t.Errorf("Of() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestOfAppendKeepsWhatDstHeld(t *testing.T) {
	dst := []Tag{{"go", "Go"}}
	got := OfAppend(dst, post.Post{Text: "#go #rust"})
	want := []Tag{{"go", "Go"}, {"go", "go"}, {"rust", "rust"}}
	if !slices.Equal(got, want) {
		t.Errorf("OfAppend() = %+v, want %+v: earlier posts' tags must not hide this post's", got, want)
	}
}

func TestOfAppendOnLowercaseTagsDoesNotAllocate(t *testing.T) {
	p := post.Post{Text: "RT the #news about #go_lang and #kafka"}
	dst := make([]Tag, 0, 8)
	if n := testing.AllocsPerRun(100, func() { dst = OfAppend(dst[:0], p) }); n != 0 {
		t.Errorf("OfAppend allocated %v times per post, want 0", n)
	}
}
