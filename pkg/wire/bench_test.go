package wire

import (
	"encoding/json"
	"testing"

	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/pkg/systest"
)

// The benchmarks run over the reference recordings, one line per op, so
// ns/op is per post, MB/s is over the raw lines and posts/s is the rate.
// The json-map and json-struct cases are the baseline: encoding/json alone
// on the same lines, into map[string]any and into a struct of id and text.

func BenchmarkV1(b *testing.B) {
	lines := systest.SharedLines(b, "tweets", "ctit-dutch-tweets.json.gz")
	var minimal struct {
		IDStr string `json:"id_str"`
		Text  string `json:"text"`
	}
	benchSuite(b, lines, DecodeV1, &minimal, true)
}

func BenchmarkV2(b *testing.B) {
	lines := systest.SharedLines(b, "tweets", "twarc-csv-v2-streaming_output_with_error.jsonl")
	lines = lines[:len(lines)-1] // the cut-off line
	var minimal struct {
		Data struct {
			ID   string `json:"id"`
			Text string `json:"text"`
		} `json:"data"`
	}
	benchSuite(b, lines, DecodeV2, &minimal, true)
}

// benchSuite runs the cases; auto adds Decode's, for the lines it tells
// apart.
func benchSuite(b *testing.B, lines [][]byte, decode func([]byte) (Result, error), minimal any, auto bool) {
	b.Run("json-map", func(b *testing.B) {
		perLine(b, lines, func(line []byte) error {
			var m map[string]any
			return json.Unmarshal(line, &m)
		})
	})
	b.Run("json-struct", func(b *testing.B) {
		perLine(b, lines, func(line []byte) error { return json.Unmarshal(line, minimal) })
	})
	b.Run("decode", func(b *testing.B) {
		perLine(b, lines, func(line []byte) error {
			_, err := decode(line)
			return err
		})
	})
	tags := make([]hashtag.Tag, 0, 16)
	b.Run("decode+hashtags", func(b *testing.B) {
		perLine(b, lines, func(line []byte) error {
			r, err := decode(line)
			tags = hashtag.OfAppend(tags[:0], r.Post)
			return err
		})
	})
	if auto {
		b.Run("auto-decode+hashtags", func(b *testing.B) {
			perLine(b, lines, func(line []byte) error {
				r, err := Decode(line)
				tags = hashtag.OfAppend(tags[:0], r.Post)
				return err
			})
		})
	}
	texts := make([]string, len(lines))
	for i, line := range lines {
		r, _ := decode(line)
		texts[i] = r.Post.Text
	}
	matches := make([]hashtag.Match, 0, 16)
	b.Run("extract", func(b *testing.B) {
		perLine(b, texts, func(text string) error {
			matches = hashtag.ExtractAppend(matches[:0], text)
			return nil
		})
	})
}

// perLine runs f on one line per op, cycling through lines.
func perLine[T string | []byte](b *testing.B, lines []T, f func(T) error) {
	total := 0
	for _, l := range lines {
		total += len(l)
	}
	b.SetBytes(int64(total / len(lines)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := f(lines[i]); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(lines) {
			i = 0
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
}

// BenchmarkJetstream is the same suite for Jetstream events, all kinds (most
// are likes and follows, as on the live stream), against encoding/json into
// the envelope and the post's text.
func BenchmarkJetstream(b *testing.B) {
	lines := systest.SharedLines(b, "bluesky", "jetstream-v1-expected_v1.jsonl")
	var minimal struct {
		Did    string `json:"did"`
		TimeUS int64  `json:"time_us"`
		Kind   string `json:"kind"`
		Commit struct {
			Collection string `json:"collection"`
			Record     struct {
				Text string `json:"text"`
			} `json:"record"`
		} `json:"commit"`
	}
	benchSuite(b, lines, Jetstream{}.Decode, &minimal, false)
}
