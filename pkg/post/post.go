// Package post is the normalised record that every source is turned into and
// that travels on the tweets topic: one versioned JSON object per post,
// whatever platform it came from. Decoders for the platforms' wire formats
// live in package wire; the hashtag rules in package hashtag.
package post

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/hashtrend/hashtrend/pkg/strict"
)

// Version is the schema version written in every Post's "v" field.
const Version = 1

// TimeLayout is RFC 3339 with milliseconds, always in UTC.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Post is one social-media post, normalised.
//
// Hashtags holds the source's own hashtag entities, in order, as the source
// spelled them. It is nil when the source gave none (the tags are then
// extracted from Text) and non-nil but empty when the source said the post
// has no hashtags. For a retweet, Text and Hashtags are the original's.
type Post struct {
	ID        string    // the source's id of the post, unique within Source
	Source    string    // the platform: "twitter" (API v1.1), "x" (API v2), "bluesky", "mastodon"
	CreatedAt time.Time // when the post was made; encoded in UTC to the millisecond
	Text      string    // the full text, as the source sent it
	Lang      string    // the source's language code, if any
	Author    string    // the source's handle or id of the author, if any
	RetweetOf string    // the original's id when this is a retweet
	Hashtags  []string  // the source's hashtag entities, without the hash sign
}

// wirePost is the JSON form of Post.
type wirePost struct {
	V         int       `json:"v"`
	ID        string    `json:"id"`
	Source    string    `json:"source"`
	CreatedAt string    `json:"created_at"`
	Text      string    `json:"text"`
	Lang      string    `json:"lang,omitempty"`
	Author    string    `json:"author,omitempty"`
	RetweetOf string    `json:"retweet_of,omitempty"`
	Hashtags  *[]string `json:"hashtags,omitempty"`
}

// MarshalJSON writes the versioned wire form.
func (p Post) MarshalJSON() ([]byte, error) {
	w := wirePost{
		V:         Version,
		ID:        p.ID,
		Source:    p.Source,
		CreatedAt: p.CreatedAt.UTC().Format(TimeLayout),
		Text:      p.Text,
		Lang:      p.Lang,
		Author:    p.Author,
		RetweetOf: p.RetweetOf,
	}
	if p.Hashtags != nil {
		tags := p.Hashtags
		w.Hashtags = &tags
	}
	return json.Marshal(w)
}

// Encode returns the JSON bytes of p, or an error when p is not valid.
func Encode(p Post) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p.MarshalJSON()
}

// Validate reports why p cannot travel as a Post: a missing id or source, a
// created_at outside the years 0000 to 9999 that RFC 3339 can write, text
// that is not UTF-8, or an empty hashtag.
func (p Post) Validate() error { return p.validate(true) }

// validate is Validate, with the UTF-8 check of the text only when text
// is set: decodeFast has checked it already.
func (p Post) validate(text bool) error {
	if p.ID == "" {
		return fmt.Errorf("%w: missing id", ErrInvalid)
	}
	if p.Source == "" {
		return fmt.Errorf("%w: post %s: missing source", ErrInvalid, p.ID)
	}
	if y := p.CreatedAt.UTC().Year(); y < 0 || y > 9999 {
		return fmt.Errorf("%w: post %s: created_at year %d outside 0000-9999", ErrInvalid, p.ID, y)
	}
	if text && !utf8.ValidString(p.Text) {
		return fmt.Errorf("%w: post %s: text is not valid UTF-8", ErrInvalid, p.ID)
	}
	for i, h := range p.Hashtags {
		if h == "" {
			return fmt.Errorf("%w: post %s: hashtags[%d] is empty", ErrInvalid, p.ID, i)
		}
	}
	return nil
}

// ErrInvalid marks a value that is not a valid Post; errors.Is works on every
// error Decode returns.
var ErrInvalid = errors.New("invalid post")

// Decode parses a Post strictly: the value must be valid UTF-8 JSON holding
// exactly one object of schema version 1 with no unknown fields, a
// created_at in RFC 3339, and pass Validate.
func Decode(b []byte) (Post, error) {
	if p, ok := decodeFast(b, false); ok {
		return p, nil
	}
	return decodeStrict(b)
}

// DecodeShared is Decode for a caller that hands b over: the Post's strings
// may share b's memory, so b must not be modified afterwards. It saves
// copying every post a consumer reads (a record's value is the consumer's
// own).
func DecodeShared(b []byte) (Post, error) {
	if p, ok := decodeFast(b, true); ok {
		return p, nil
	}
	return decodeStrict(b)
}

// decodeStrict is Decode by encoding/json: the definition of what Decode
// accepts, and the path that words every error.
func decodeStrict(b []byte) (Post, error) {
	if len(b) == 0 {
		return Post{}, fmt.Errorf("%w: empty value", ErrInvalid)
	}
	if !utf8.Valid(b) {
		return Post{}, fmt.Errorf("%w: not valid UTF-8", ErrInvalid)
	}
	var w wirePost
	if err := strict.Decode(b, &w, &w.V, Version, Version, ErrInvalid); err != nil {
		return Post{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, w.CreatedAt)
	if err != nil {
		return Post{}, fmt.Errorf("%w: post %q: created_at: %v", ErrInvalid, w.ID, err)
	}
	p := Post{
		ID:        w.ID,
		Source:    w.Source,
		CreatedAt: t.UTC(),
		Text:      w.Text,
		Lang:      w.Lang,
		Author:    w.Author,
		RetweetOf: w.RetweetOf,
	}
	if w.Hashtags != nil {
		p.Hashtags = *w.Hashtags
		if p.Hashtags == nil {
			p.Hashtags = []string{}
		}
	}
	if err := p.Validate(); err != nil {
		return Post{}, err
	}
	return p, nil
}
