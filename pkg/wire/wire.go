// Package wire turns the platforms' stream messages into posts, one at a
// time: DecodeV1 reads Twitter API v1.1 stream lines, DecodeV2 X API v2
// filtered-stream lines, and Decode tells the two apart line by line for
// recorded files and stdin; Jetstream.Decode reads Bluesky Jetstream
// events, DecodeMastodon the events of Mastodon's streaming API and
// DecodeMastodonStatus its Statuses. A message is a post, a non-post
// message the stream sends (keep-alive, delete, limit, disconnect, edit,
// another record...), or a v2 stream error; only a message that is none of
// these, such as cut-off JSON, is an error.
//
// The decoders apply the source side of design.md's hashtag rules: a
// retweet's (reblog's) text and hashtags are its original's, quoted posts
// are ignored, and the source's entities (Bluesky's tag facets, Mastodon's
// tags) fill post.Post.Hashtags when it gives them. Each source is one
// decoder over its own JSON shapes.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashtrend/hashtrend/pkg/post"
)

// Source names written in post.Post.Source.
const (
	SourceTwitter  = "twitter"  // Twitter API v1.1
	SourceX        = "x"        // X API v2
	SourceBluesky  = "bluesky"  // Bluesky, through Jetstream
	SourceMastodon = "mastodon" // Mastodon's streaming API
)

// Kind says what a stream line was.
type Kind int

// The kinds of line. Every kind up to KindWarning but KindPost is a v1.1
// message, except KindKeepAlive (blank lines, both) and KindUnknown (any
// JSON object the decoder does not recognise, both); KindDelete is also a
// Bluesky or Mastodon deletion. The kinds after KindStreamError are
// Bluesky's and Mastodon's.
const (
	KindUnknown        Kind = iota
	KindPost                // Result.Post holds the post
	KindKeepAlive           // a blank line
	KindDelete              // a status deletion: Notice.StatusID, Notice.UserID
	KindScrubGeo            // location deletion: Notice.UserID, Notice.StatusID (up to)
	KindLimit               // undelivered matches: Notice.Limit
	KindStatusWithheld      // Notice.StatusID, Notice.UserID, Notice.Countries
	KindUserWithheld        // Notice.UserID, Notice.Countries
	KindDisconnect          // the stream closes: Notice.Code, Notice.Reason
	KindWarning             // stall warning: Notice.Code, Notice.Reason
	KindStreamError         // a v2 {"errors": [...]} line: Result.Errors
	KindUpdate              // an edited post (Bluesky, Mastodon): Notice.StatusID
	KindRecord              // a Bluesky commit to another collection: Notice.Name is the collection
	KindIdentity            // a Bluesky identity event: Notice.UserID
	KindAccount             // a Bluesky account event: Notice.UserID
	KindEvent               // a Mastodon event of another type: Notice.Name is the event

	// KindLast is the last kind, for ranging over them all.
	KindLast = KindEvent
)

var kindNames = [...]string{
	KindUnknown:        "unknown",
	KindPost:           "post",
	KindKeepAlive:      "keep-alive",
	KindDelete:         "delete",
	KindScrubGeo:       "scrub_geo",
	KindLimit:          "limit",
	KindStatusWithheld: "status_withheld",
	KindUserWithheld:   "user_withheld",
	KindDisconnect:     "disconnect",
	KindWarning:        "warning",
	KindStreamError:    "stream error",
	KindUpdate:         "update",
	KindRecord:         "record",
	KindIdentity:       "identity",
	KindAccount:        "account",
	KindEvent:          "event",
}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Result is one decoded stream line.
type Result struct {
	Kind Kind
	// Post is the post of a KindPost line.
	Post post.Post
	// Notice holds the details of a v1.1 non-post message.
	Notice Notice
	// Errors holds a KindStreamError line's errors, and on a v2 KindPost
	// line the partial errors that came with it (an expansion that could
	// not be resolved, for instance).
	Errors []StreamError
	// TimeUS is a Jetstream event's time_us, the stream's position, on
	// every kind.
	TimeUS int64
	// LocalID is a Mastodon status's id on the instance that streamed it
	// (the Post's ID is its URI): the min_id of a timeline request.
	LocalID string
}

// Notice is the content of a v1.1 non-post message; which fields are set
// depends on the Kind.
type Notice struct {
	// Name is the message's key, "delete" or "limit" for instance, and for
	// KindUnknown the object's first key.
	Name      string
	StatusID  string
	UserID    string
	Limit     int64    // limit: matches not delivered since the connection opened
	Countries []string // withheld: ISO country codes
	Code      string   // disconnect: the numeric code in decimal; warning: e.g. FALLING_BEHIND
	Reason    string   // disconnect: reason; warning: message
}

// StreamError is one entry of an X API v2 "errors" array.
type StreamError struct {
	Title          string `json:"title"`
	Type           string `json:"type"` // a problem URI, e.g. https://api.twitter.com/2/problems/operational-disconnect
	Detail         string `json:"detail"`
	DisconnectType string `json:"disconnect_type,omitempty"`
	ResourceType   string `json:"resource_type,omitempty"`
	ResourceID     string `json:"resource_id,omitempty"`
	Parameter      string `json:"parameter,omitempty"`
}

func (e StreamError) Error() string {
	if e.Detail == "" {
		return e.Title
	}
	return e.Title + ": " + e.Detail
}

// ErrMalformed marks a line that is neither a post nor a message the stream
// sends; errors.Is works on every error the decoders return.
var ErrMalformed = errors.New("malformed stream line")

// Decode decodes one line of either stream, telling them apart by the line's
// top-level fields: X API v2 lines have "data" or "errors", Twitter v1.1
// lines never do.
func Decode(line []byte) (Result, error) {
	type either struct {
		v1Line
		v2Line
	}
	return decodeLine(line, func(l *either) (Result, error) {
		if l.v2Line.isV2() {
			return l.v2Line.result()
		}
		return l.v1Line.result(line)
	})
}

// decodeLine is what the stream decoders share: a blank line is a
// keep-alive, any other must be a JSON object, decoded into a new L that
// result turns into the line's Result.
func decodeLine[L any](line []byte, result func(l *L) (Result, error)) (Result, error) {
	if isBlank(line) {
		return Result{Kind: KindKeepAlive}, nil
	}
	var l L
	if err := unmarshal(line, &l); err != nil {
		return Result{}, err
	}
	return result(&l)
}

// names returns the names of the hashtag objects among items that have
// one, in order; never nil.
func names[T interface{ name() string }](items []T) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		if n := it.name(); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// isBlank reports whether line holds only whitespace, a keep-alive.
func isBlank(line []byte) bool {
	return len(bytes.TrimSpace(line)) == 0
}

// unmarshal decodes a line's JSON object with an error that says what is
// wrong and where.
func unmarshal(line []byte, v any) error {
	trimmed := bytes.TrimSpace(line)
	if trimmed[0] != '{' {
		return fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	err := json.Unmarshal(trimmed, v)
	var syn *json.SyntaxError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &syn) && syn.Offset >= int64(len(trimmed)):
		return fmt.Errorf("%w: JSON cut off after %d bytes", ErrMalformed, len(trimmed))
	case syn != nil:
		return fmt.Errorf("%w: %v at byte %d", ErrMalformed, err, syn.Offset)
	}
	return fmt.Errorf("%w: %v", ErrMalformed, err)
}

// firstKey returns the first key of the JSON object in line, for naming
// messages the decoder does not know.
func firstKey(line []byte) string {
	dec := json.NewDecoder(bytes.NewReader(line))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	if t, err := dec.Token(); err == nil {
		if s, ok := t.(string); ok {
			return s
		}
	}
	return ""
}

// parseTime parses an RFC 3339 time into UTC.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err
}
