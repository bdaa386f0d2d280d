package wire

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashtrend/hashtrend/pkg/hashtag"

	"github.com/hashtrend/hashtrend/pkg/systest"
)

func TestRealV1TweetsDecodeAndTheExtractorAgreesWithTheirEntities(t *testing.T) {
	lines := systest.SharedLines(t, "tweets", "ctit-dutch-tweets.json.gz")
	posts, agree, withTags, retweets, retweetsMissingTags := 0, 0, 0, 0, 0
	for i, line := range lines {
		for name, decode := range decoders(DecodeV1) {
			r, err := decode(line)
			if err != nil {
				t.Fatalf("%s: line %d: %v", name, i+1, err)
			}
			if r.Kind != KindPost {
				t.Fatalf("%s: line %d: got a %v, want a post", name, i+1, r.Kind)
			}
		}
		r, _ := DecodeV1(line)
		p := r.Post
		posts++
		if p.Hashtags == nil {
			t.Errorf("line %d: post %s has no entities", i+1, p.ID)
			continue
		}
		if len(p.Hashtags) > 0 {
			withTags++
		}
		if p.RetweetOf != "" {
			retweets++
			var l v1Line
			if err := unmarshal(line, &l); err != nil {
				t.Fatal(err)
			}
			if own, _ := l.v1Tweet.content(); len(hashtag.Extract(own)) < len(p.Hashtags) {
				retweetsMissingTags++
			}
		}
		var extracted []string
		for _, m := range hashtag.Extract(p.Text) {
			extracted = append(extracted, m.Tag)
		}
		if slices.Equal(extracted, p.Hashtags) || len(extracted) == 0 && len(p.Hashtags) == 0 {
			agree++
			continue
		}
		t.Logf("disagreement on line %d, post %s (retweet of %q):\n  text      %q\n  entities  %q\n  extracted %q",
			i+1, p.ID, p.RetweetOf, p.Text, p.Hashtags, extracted)
	}
	share := float64(agree) / float64(posts)
	t.Logf("%d posts, %d with hashtags; the extractor agrees with the entities on %d (%.1f%%)", posts, withTags, agree, 100*share)
	t.Logf("%d retweets, of which %d would have lost hashtags had their own cut-off text been split", retweets, retweetsMissingTags)
	if posts != 1000 {
		t.Errorf("decoded %d posts, want 1000", posts)
	}
	if share < 0.99 {
		t.Errorf("agreement %.1f%%, want at least 99%%", 100*share)
	}
}

// A v1.1 retweet's own text is the original's cut at 140 characters with
// "…", at times inside a hashtag. The platform's entities of such a text
// never hold the fragment, and the extractor leaves it out as well (and
// nothing else): the rule in package hashtag, on the real texts that show it.
func TestRealTextsCutInsideAHashtagLoseOnlyTheFragment(t *testing.T) {
	lines := systest.SharedLines(t, "tweets", "ctit-dutch-tweets.json.gz")
	cutInTag := regexp.MustCompile(`[#＃]([\p{L}\p{M}\p{Nd}_]+)…$`)
	cut := 0
	for i, line := range lines {
		var l v1Line
		if err := unmarshal(line, &l); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		own, entities := l.v1Tweet.content()
		m := cutInTag.FindStringSubmatch(own)
		if m == nil {
			continue
		}
		cut++
		fragment := m[1]
		if slices.Contains(entities, fragment) {
			t.Errorf("line %d: the platform's entities %q hold the fragment %q of %q", i+1, entities, fragment, own)
		}
		got := hashtag.Extract(own)
		// The same text without its ellipsis ends in the fragment, which
		// twitter-text takes for a tag: that list, less its last, is the
		// text's own.
		want := hashtag.Extract(strings.TrimSuffix(own, "…"))
		if len(want) == 0 || want[len(want)-1].Tag != fragment {
			t.Fatalf("line %d: %q without its ellipsis gives %+v, which does not end in %q", i+1, own, want, fragment)
		}
		want = want[:len(want)-1]
		if !slices.Equal(got, want) {
			t.Errorf("line %d: Extract(%q) = %+v, want %+v", i+1, own, got, want)
		}
		t.Logf("line %d: %q: entities %q, extracted %d tags, the fragment %q left out", i+1, own, entities, len(got), fragment)
	}
	if cut == 0 {
		t.Fatal("no text in the recording ends inside a hashtag; the test checks nothing")
	}
}

func TestRealV2StreamLinesDecodeAndTheCutOffLastLineIsAnError(t *testing.T) {
	lines := systest.SharedLines(t, "tweets", "twarc-csv-v2-streaming_output_with_error.jsonl")
	last := len(lines) - 1
	for name, decode := range decoders(DecodeV2) {
		for i, line := range lines[:last] {
			r, err := decode(line)
			if err != nil {
				t.Fatalf("%s: line %d: %v", name, i+1, err)
			}
			if r.Kind != KindPost || r.Post.ID == "" || r.Post.CreatedAt.IsZero() || r.Post.Author == "" {
				t.Errorf("%s: line %d: got %v %+v, want a complete post", name, i+1, r.Kind, r.Post)
			}
		}
		_, err := decode(lines[last])
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "cut off") {
			t.Errorf("%s: last line: got error %v, want one saying the JSON is cut off", name, err)
		}
		t.Logf("%s: %d posts; last line: %v", name, last, err)
	}
}
