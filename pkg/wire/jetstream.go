package wire

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashtrend/hashtrend/pkg/post"
)

// Jetstream is the decoder of Bluesky Jetstream's v1 /subscribe events, one
// JSON object per WebSocket message (after zstd, when the connection is
// compressed). The zero value leaves cashtags out.
type Jetstream struct {
	// Cashtags counts cashtag facets ($AAPL, sent as #tag facets) as
	// hashtags, spelled with their "$"; off, they are left out.
	Cashtags bool
}

// MaxJetstreamFrame is the largest event Jetstream.Decode reads. A Bluesky
// record is at most 1 MiB and an event wraps one record, so a longer frame
// is not an event.
const MaxJetstreamFrame = 2 << 20

// jetstreamPost is the collection of Bluesky posts.
const jetstreamPost = "app.bsky.feed.post"

// Decode decodes one Jetstream event. Result.TimeUS is the event's time_us,
// the stream's position, for every kind.
//
// A commit that creates an app.bsky.feed.post record is a post: ID
// at://<did>/app.bsky.feed.post/<rkey>, Source "bluesky", CreatedAt the
// record's createdAt (time_us when createdAt is missing or not RFC 3339),
// Lang the first of langs, Author the did. Hashtags are the record's
// #tag facets in order, then its tags field: never nil, since the record
// itself says which tags it has. A #tag facet over text that starts with
// "$", or whose tag does, is a cashtag and left out unless j.Cashtags.
//
// A commit that deletes or updates a post is KindDelete or KindUpdate with
// Notice.StatusID the post's id; a commit to another collection is
// KindRecord with Notice.Name the collection; identity and account events
// are KindIdentity and KindAccount. Anything else is ErrMalformed: a frame
// that is not a JSON object or is longer than MaxJetstreamFrame, an unknown
// kind or operation, a post record without text, or a facet whose byte
// range lies outside the text or splits a UTF-8 sequence.
func (j Jetstream) Decode(frame []byte) (Result, error) {
	if len(frame) > MaxJetstreamFrame {
		return Result{}, fmt.Errorf("%w: frame of %d bytes, over the %d of an event", ErrMalformed, len(frame), MaxJetstreamFrame)
	}
	if isBlank(frame) {
		return Result{}, fmt.Errorf("%w: empty frame", ErrMalformed)
	}
	var e jetstreamEvent
	if err := unmarshal(frame, &e); err != nil {
		return Result{}, err
	}
	if e.Did == "" || e.TimeUS <= 0 {
		return Result{}, fmt.Errorf("%w: event without did or time_us", ErrMalformed)
	}
	r := Result{TimeUS: e.TimeUS}
	switch e.Kind {
	case "commit":
		return j.commit(r, &e)
	case "identity":
		r.Kind = KindIdentity
	case "account":
		r.Kind = KindAccount
	default:
		return Result{}, fmt.Errorf("%w: event %d: unknown kind %q", ErrMalformed, e.TimeUS, e.Kind)
	}
	r.Notice = Notice{Name: r.Kind.String(), UserID: e.Did}
	return r, nil
}

// jetstreamEvent is the envelope of a v1 event; the record stays raw until
// it is known to be a post.
type jetstreamEvent struct {
	Did    string `json:"did"`
	TimeUS int64  `json:"time_us"`
	Kind   string `json:"kind"`
	Commit *struct {
		Operation  string          `json:"operation"`
		Collection string          `json:"collection"`
		RKey       string          `json:"rkey"`
		Record     json.RawMessage `json:"record"`
	} `json:"commit"`
}

// bskyPost is the part of an app.bsky.feed.post record the decoder reads.
type bskyPost struct {
	Text      *string     `json:"text"`
	CreatedAt string      `json:"createdAt"`
	Langs     []string    `json:"langs"`
	Facets    []bskyFacet `json:"facets"`
	Tags      []string    `json:"tags"`
}

type bskyFacet struct {
	Index struct {
		ByteStart int `json:"byteStart"`
		ByteEnd   int `json:"byteEnd"`
	} `json:"index"`
	Features []struct {
		Type string `json:"$type"`
		Tag  string `json:"tag"`
	} `json:"features"`
}

// bskyTag is the facet feature type of a hashtag (and, since 2026, of a
// cashtag).
const bskyTag = "app.bsky.richtext.facet#tag"

func (j Jetstream) commit(r Result, e *jetstreamEvent) (Result, error) {
	c := e.Commit
	if c == nil || c.Collection == "" || c.RKey == "" {
		return Result{}, fmt.Errorf("%w: commit event %d without collection or rkey", ErrMalformed, e.TimeUS)
	}
	id := "at://" + e.Did + "/" + c.Collection + "/" + c.RKey
	if c.Collection != jetstreamPost {
		switch c.Operation {
		case "create", "update", "delete":
		default:
			return Result{}, fmt.Errorf("%w: commit %s: unknown operation %q", ErrMalformed, id, c.Operation)
		}
		r.Kind, r.Notice = KindRecord, Notice{Name: c.Collection, StatusID: id, UserID: e.Did}
		return r, nil
	}
	switch c.Operation {
	case "create":
	case "update":
		r.Kind, r.Notice = KindUpdate, Notice{Name: KindUpdate.String(), StatusID: id, UserID: e.Did}
		return r, nil
	case "delete":
		r.Kind, r.Notice = KindDelete, Notice{Name: KindDelete.String(), StatusID: id, UserID: e.Did}
		return r, nil
	default:
		return Result{}, fmt.Errorf("%w: commit %s: unknown operation %q", ErrMalformed, id, c.Operation)
	}
	if len(c.Record) == 0 || c.Record[0] != '{' {
		return Result{}, fmt.Errorf("%w: post %s: no record", ErrMalformed, id)
	}
	var rec bskyPost
	if err := json.Unmarshal(c.Record, &rec); err != nil {
		return Result{}, fmt.Errorf("%w: post %s: record: %v", ErrMalformed, id, err)
	}
	if rec.Text == nil {
		return Result{}, fmt.Errorf("%w: post %s: record without text", ErrMalformed, id)
	}
	p := post.Post{ID: id, Source: SourceBluesky, Text: *rec.Text, Author: e.Did}
	if len(rec.Langs) > 0 {
		p.Lang = rec.Langs[0]
	}
	p.CreatedAt = createdAt(rec.CreatedAt, e.TimeUS)
	var err error
	if p.Hashtags, err = j.tags(&rec); err != nil {
		return Result{}, fmt.Errorf("%w: post %s: %v", ErrMalformed, id, err)
	}
	if err := p.Validate(); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	r.Kind, r.Post = KindPost, p
	return r, nil
}

// createdAt is the record's createdAt, which the author's client sets, or
// the time Jetstream saw the event when that is missing or unusable.
func createdAt(s string, timeUS int64) time.Time {
	if t, err := parseTime(s); err == nil && t.Year() >= 0 && t.Year() <= 9999 {
		return t
	}
	return time.UnixMicro(timeUS).UTC()
}

// tags returns the record's hashtags: its #tag facets, then its tags field,
// never nil. Every facet must index the text: a range outside it or one
// that splits a UTF-8 sequence means the record is not what it claims.
func (j Jetstream) tags(rec *bskyPost) ([]string, error) {
	text := *rec.Text
	tags := make([]string, 0, len(rec.Facets)+len(rec.Tags))
	for i := range rec.Facets {
		f := &rec.Facets[i]
		start, end := f.Index.ByteStart, f.Index.ByteEnd
		if start < 0 || end > len(text) || start > end {
			return nil, fmt.Errorf("facet %d: byte range [%d,%d) outside the text's %d bytes", i, start, end, len(text))
		}
		if !boundary(text, start) || !boundary(text, end) {
			return nil, fmt.Errorf("facet %d: byte range [%d,%d) splits a UTF-8 sequence", i, start, end)
		}
		for _, ft := range f.Features {
			if ft.Type != bskyTag || ft.Tag == "" {
				continue
			}
			tag := ft.Tag
			if strings.HasPrefix(text[start:end], "$") && !strings.HasPrefix(tag, "$") {
				tag = "$" + tag
			}
			tags = j.appendTag(tags, tag)
		}
	}
	for _, tag := range rec.Tags {
		tags = j.appendTag(tags, strings.TrimPrefix(tag, "#"))
	}
	return tags, nil
}

// appendTag appends tag unless it is empty, or a cashtag that is not
// counted.
func (j Jetstream) appendTag(tags []string, tag string) []string {
	if tag == "" || tag == "$" || (!j.Cashtags && tag[0] == '$') {
		return tags
	}
	return append(tags, tag)
}

// boundary reports whether byte offset i of s starts a UTF-8 sequence (or
// is the end of s).
func boundary(s string, i int) bool {
	return i == len(s) || utf8.RuneStart(s[i])
}
