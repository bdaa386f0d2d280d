package hashtag

import (
	"testing"

	"github.com/hashtrend/hashtrend/pkg/post"
)

// benchTexts are synthetic posts in the shapes a stream carries: plain,
// tagged, non-Latin, with URLs, and a retweet cut off mid-tag.
var benchTexts = []string{
	"Just had the best coffee of my life this morning, no tags at all here.",
	"Watching the match tonight #WorldCup #football #ARGvFRA https://t.co/abc123",
	"RT @someone: Big news for #golang developers: generics are here! #go #programming…",
	"今日はいい天気ですね #日本 #東京 #カタカナ・ハッシュ ＃全角",
	"Check this out http://example.com/#anchor and www.example.org/a/#b #real",
	"#Μαχάτμα_Γκάντι #ашок #트위터 #مرحبا #il·lusió &#39; foo#bar #123",
}

func BenchmarkExtract(b *testing.B) {
	total := 0
	for _, t := range benchTexts {
		total += len(t)
	}
	b.SetBytes(int64(total / len(benchTexts)))
	dst := make([]Match, 0, 16)
	perPost(b, benchTexts, func(text string) { dst = ExtractAppend(dst[:0], text) })
}

func BenchmarkOfAppend(b *testing.B) {
	posts := make([]post.Post, len(benchTexts))
	for i, t := range benchTexts {
		posts[i] = post.Post{Text: t}
	}
	dst := make([]Tag, 0, 16)
	perPost(b, posts, func(p post.Post) { dst = OfAppend(dst[:0], p) })
}

// perPost runs f on each of posts in turn, one per iteration, and reports
// the rate in posts/s beside the allocations.
func perPost[T any](b *testing.B, posts []T, f func(T)) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		f(posts[i])
		if i++; i == len(posts) {
			i = 0
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
}

func BenchmarkKey(b *testing.B) {
	for _, tag := range []string{"golang", "WorldCup", "Straße", "東京"} {
		b.Run(tag, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Key(tag)
			}
		})
	}
}
