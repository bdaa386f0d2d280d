package wire

import (
	"fmt"

	"github.com/hashtrend/hashtrend/pkg/post"
)

// DecodeV2 decodes one X API v2 filtered-stream line: {data, includes,
// matching_rules} is a post, {errors: [...]} without data a stream error.
//
// A post has Source "x", CreatedAt from created_at, Author its author_id.
// Text is note_tweet.text for a long post, else text, and Hashtags the
// entities that go with that text; for a retweet (referenced_tweets type
// "retweeted") both are taken from the original in includes.tweets, and
// RetweetOf is its id. When the stream did not include the original, the
// retweet's own text and entities are used. Quoted posts are ignored.
// Hashtags is nil when the post has no entities object; v2 leaves out an
// empty hashtags array, so an entities object without one means none.
func DecodeV2(line []byte) (Result, error) {
	return decodeLine(line, func(l *v2Line) (Result, error) {
		if !l.isV2() {
			return Result{Kind: KindUnknown, Notice: Notice{Name: firstKey(line)}}, nil
		}
		return l.result()
	})
}

// v2Line holds every top-level field the decoder reads from a v2 line.
type v2Line struct {
	Data     *v2Tweet `json:"data"`
	Includes struct {
		Tweets []v2Tweet `json:"tweets"`
	} `json:"includes"`
	Errors []StreamError `json:"errors"`
}

type v2Tweet struct {
	ID        string      `json:"id"`
	Text      string      `json:"text"`
	CreatedAt string      `json:"created_at"`
	AuthorID  string      `json:"author_id"`
	Lang      string      `json:"lang"`
	Entities  *v2Entities `json:"entities"`
	NoteTweet *struct {
		Text     string      `json:"text"`
		Entities *v2Entities `json:"entities"`
	} `json:"note_tweet"`
	Referenced []struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"referenced_tweets"`
}

type v2Entities struct {
	Hashtags []v2Hashtag `json:"hashtags"`
}

type v2Hashtag struct {
	Tag string `json:"tag"`
}

func (h v2Hashtag) name() string { return h.Tag }

// isV2 reports whether the line had the fields of a v2 stream line.
func (l *v2Line) isV2() bool { return l.Data != nil || l.Errors != nil }

// result turns a v2 line into a post or a stream error.
func (l *v2Line) result() (Result, error) {
	if l.Data == nil {
		return Result{Kind: KindStreamError, Errors: l.Errors}, nil
	}
	p, err := l.post()
	if err != nil {
		return Result{}, err
	}
	return Result{Kind: KindPost, Post: p, Errors: l.Errors}, nil
}

// post normalises the line's data.
func (l *v2Line) post() (post.Post, error) {
	d := l.Data
	if d.ID == "" {
		return post.Post{}, fmt.Errorf("%w: data without an id", ErrMalformed)
	}
	if d.CreatedAt == "" {
		return post.Post{}, fmt.Errorf("%w: post %s: no created_at", ErrMalformed, d.ID)
	}
	created, err := parseTime(d.CreatedAt)
	if err != nil {
		return post.Post{}, fmt.Errorf("%w: post %s: created_at: %v", ErrMalformed, d.ID, err)
	}
	p := post.Post{ID: d.ID, Source: SourceX, CreatedAt: created, Lang: d.Lang, Author: d.AuthorID}
	content := d
	for _, r := range d.Referenced {
		if r.Type != "retweeted" {
			continue
		}
		p.RetweetOf = r.ID
		for i := range l.Includes.Tweets {
			if l.Includes.Tweets[i].ID == r.ID {
				content = &l.Includes.Tweets[i]
				break
			}
		}
		break
	}
	p.Text, p.Hashtags = content.content()
	if err := p.Validate(); err != nil {
		return post.Post{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return p, nil
}

// content returns a post's full text and the hashtag entities that go with
// it: note_tweet's for a long post.
func (t *v2Tweet) content() (string, []string) {
	if t.NoteTweet != nil && t.NoteTweet.Text != "" {
		return t.NoteTweet.Text, t.NoteTweet.Entities.tags()
	}
	return t.Text, t.Entities.tags()
}

// tags returns the hashtag tags: nil without entities, else non-nil.
func (e *v2Entities) tags() []string {
	if e == nil {
		return nil
	}
	return names(e.Hashtags)
}
