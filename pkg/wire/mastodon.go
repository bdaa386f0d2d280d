package wire

import (
	"fmt"
	"html"
	"strings"

	"github.com/hashtrend/hashtrend/pkg/post"
)

// MaxMastodonEvent is the largest event data DecodeMastodon reads. A
// Status is a few kilobytes, a long one with a poll and a card tens of
// them; a megabyte is not a Status.
const MaxMastodonEvent = 1 << 20

// DecodeMastodon decodes one event of Mastodon's streaming API
// (/api/v1/streaming/...), given its SSE event name and data.
//
// "update" is a post (see DecodeMastodonStatus); "delete" is KindDelete
// with Notice.StatusID the instance's id of the status; "status.update"
// (an edit) is KindUpdate with Notice.StatusID its URI; any other event
// (notification, conversation, announcement, filters_changed...) is
// KindEvent with Notice.Name the event. Data that is empty, over
// MaxMastodonEvent or not the JSON the event carries is ErrMalformed.
func DecodeMastodon(event string, data []byte) (Result, error) {
	if len(data) > MaxMastodonEvent {
		return Result{}, fmt.Errorf("%w: %s event of %d bytes, over the %d of one", ErrMalformed, event, len(data), MaxMastodonEvent)
	}
	switch event {
	case "update":
		return DecodeMastodonStatus(data)
	case "delete":
		id := strings.TrimSpace(string(data))
		if id == "" || strings.ContainsAny(id, "{}\" \t\r\n") {
			return Result{}, fmt.Errorf("%w: delete event without a status id", ErrMalformed)
		}
		return Result{Kind: KindDelete, Notice: Notice{Name: KindDelete.String(), StatusID: id}}, nil
	case "status.update":
		var s mastodonStatus
		if err := unmarshalData(data, &s); err != nil {
			return Result{}, err
		}
		if s.URI == "" {
			return Result{}, fmt.Errorf("%w: status.update without a uri", ErrMalformed)
		}
		return Result{Kind: KindUpdate, LocalID: s.ID, Notice: Notice{Name: KindUpdate.String(), StatusID: s.URI}}, nil
	}
	return Result{Kind: KindEvent, Notice: Notice{Name: event}}, nil
}

// DecodeMastodonStatus decodes one Mastodon Status, the data of an update
// event or an entry of a timeline page, into a post: ID the status's URI
// (unique across instances, where ids are per instance), Source
// "mastodon", CreatedAt its created_at, Author the account's acct
// (user@host for remote accounts), Text its content with the HTML reduced
// to text, Lang its language, Hashtags its tags' names. A reblog takes
// its original's text, tags and language, and RetweetOf is the
// original's URI. Result.LocalID is the status's id on this instance.
func DecodeMastodonStatus(data []byte) (Result, error) {
	var s mastodonStatus
	if err := unmarshalData(data, &s); err != nil {
		return Result{}, err
	}
	if s.URI == "" || s.ID == "" {
		return Result{}, fmt.Errorf("%w: status without uri or id", ErrMalformed)
	}
	created, err := parseTime(s.CreatedAt)
	if err != nil {
		return Result{}, fmt.Errorf("%w: status %s: created_at: %v", ErrMalformed, s.URI, err)
	}
	p := post.Post{ID: s.URI, Source: SourceMastodon, CreatedAt: created, Author: s.Account.Acct}
	content := &s.mastodonContent
	if s.Reblog != nil {
		if s.Reblog.URI == "" {
			return Result{}, fmt.Errorf("%w: status %s: reblog without a uri", ErrMalformed, s.URI)
		}
		p.RetweetOf, content = s.Reblog.URI, &s.Reblog.mastodonContent
	}
	p.Text = htmlText(content.Content)
	if p.Lang = content.Language; p.Lang == "" {
		p.Lang = s.Language
	}
	if content.Tags != nil {
		p.Hashtags = names(content.Tags)
	}
	if err := p.Validate(); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return Result{Kind: KindPost, Post: p, LocalID: s.ID}, nil
}

// mastodonStatus is the part of a Status the decoder reads.
type mastodonStatus struct {
	ID        string `json:"id"`
	URI       string `json:"uri"`
	CreatedAt string `json:"created_at"`
	Account   struct {
		Acct string `json:"acct"`
	} `json:"account"`
	mastodonContent
	Reblog *struct {
		URI string `json:"uri"`
		mastodonContent
	} `json:"reblog"`
}

// mastodonContent is what a reblog takes from its original.
type mastodonContent struct {
	Content  string        `json:"content"`
	Language string        `json:"language"`
	Tags     []mastodonTag `json:"tags"`
}

type mastodonTag struct {
	Name string `json:"name"`
}

func (t mastodonTag) name() string { return t.Name }

// unmarshalData decodes an event's JSON object.
func unmarshalData(data []byte, v any) error {
	if isBlank(data) {
		return fmt.Errorf("%w: empty event data", ErrMalformed)
	}
	return unmarshal(data, v)
}

// htmlText reduces a status's HTML, which Mastodon sanitises to a few
// tags (p, br, a, span, and the like), to plain text: tags go, a <br>
// becomes a line break and paragraphs are separated by a blank line, and
// character references are unescaped. The text of every element stays,
// the parts of a link Mastodon hides included, so a URL reads whole.
func htmlText(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for len(s) > 0 {
		lt := strings.IndexByte(s, '<')
		if lt < 0 {
			b.WriteString(html.UnescapeString(s))
			break
		}
		b.WriteString(html.UnescapeString(s[:lt]))
		name, end := tagAt(s[lt:])
		if end == 0 {
			// Not a tag: a "<" that the HTML did not escape.
			b.WriteByte('<')
			s = s[lt+1:]
			continue
		}
		switch name {
		case "br":
			b.WriteByte('\n')
		case "p":
			if b.Len() > 0 {
				b.WriteString("\n\n")
			}
		}
		s = s[lt+end:]
	}
	return b.String()
}

// tagAt reads the tag at the start of s ("<name ...>" or "</name>"): its
// lowercased name, "" for a closing tag, and its length; 0 when s does
// not start with a tag. Quoted attribute values may hold ">".
func tagAt(s string) (name string, n int) {
	if len(s) < 3 {
		return "", 0
	}
	i := 1
	closing := s[i] == '/'
	if closing {
		i++
	}
	if i >= len(s) || !isASCIILetter(s[i]) {
		return "", 0
	}
	start := i
	for i < len(s) && s[i] != '>' && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '/' {
		i++
	}
	name = strings.ToLower(s[start:i])
	var quote byte
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			if closing {
				return "", i + 1
			}
			return name, i + 1
		}
	}
	return "", 0
}

func isASCIILetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
