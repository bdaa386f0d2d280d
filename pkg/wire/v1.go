package wire

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hashtrend/hashtrend/pkg/post"
)

// DecodeV1 decodes one Twitter API v1.1 stream line (statuses/filter,
// statuses/sample): a tweet, or one of the stream's other messages.
//
// A tweet becomes a post with Source "twitter", CreatedAt from timestamp_ms
// or else created_at, Author the user's screen name (else id). Text is
// extended_tweet.full_text when the tweet has it, else text, and Hashtags
// the entities that go with that text; for a retweet both are taken from
// retweeted_status, and RetweetOf is its id. A quoted_status is ignored.
// Hashtags is nil when the tweet has no entities object and empty when its
// hashtags array is.
func DecodeV1(line []byte) (Result, error) {
	return decodeLine(line, func(l *v1Line) (Result, error) { return l.result(line) })
}

// v1CreatedAt is the layout of v1.1's created_at.
const v1CreatedAt = "Mon Jan 02 15:04:05 -0700 2006"

// v1Line holds every top-level field the decoder reads from a v1.1 line.
type v1Line struct {
	v1Tweet
	Delete *struct {
		Status v1Status `json:"status"`
	} `json:"delete"`
	ScrubGeo *struct {
		UserID    json.Number `json:"user_id"`
		UserIDStr string      `json:"user_id_str"`
		UpToID    json.Number `json:"up_to_status_id"`
		UpToIDStr string      `json:"up_to_status_id_str"`
	} `json:"scrub_geo"`
	Limit *struct {
		Track int64 `json:"track"`
	} `json:"limit"`
	StatusWithheld *struct {
		ID        json.Number `json:"id"`
		UserID    json.Number `json:"user_id"`
		Countries []string    `json:"withheld_in_countries"`
	} `json:"status_withheld"`
	UserWithheld *struct {
		ID        json.Number `json:"id"`
		Countries []string    `json:"withheld_in_countries"`
	} `json:"user_withheld"`
	Disconnect *struct {
		Code   json.Number `json:"code"`
		Reason string      `json:"reason"`
	} `json:"disconnect"`
	Warning *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"warning"`
}

type v1Status struct {
	ID        json.Number `json:"id"`
	IDStr     string      `json:"id_str"`
	UserID    json.Number `json:"user_id"`
	UserIDStr string      `json:"user_id_str"`
}

type v1Tweet struct {
	ID          json.Number `json:"id"`
	IDStr       string      `json:"id_str"`
	CreatedAt   string      `json:"created_at"`
	TimestampMS json.Number `json:"timestamp_ms"`
	Text        string      `json:"text"`
	FullText    string      `json:"full_text"` // REST's tweet_mode=extended
	Lang        string      `json:"lang"`
	User        *struct {
		ID         json.Number `json:"id"`
		IDStr      string      `json:"id_str"`
		ScreenName string      `json:"screen_name"`
	} `json:"user"`
	Entities *v1Entities `json:"entities"`
	Extended *struct {
		FullText string      `json:"full_text"`
		Entities *v1Entities `json:"entities"`
	} `json:"extended_tweet"`
	Retweeted *v1Tweet `json:"retweeted_status"`
}

type v1Entities struct {
	Hashtags []v1Hashtag `json:"hashtags"`
}

type v1Hashtag struct {
	Text string `json:"text"`
}

func (h v1Hashtag) name() string { return h.Text }

// result sorts a decoded line into its kind.
func (l *v1Line) result(line []byte) (Result, error) {
	var n Notice
	var k Kind
	switch {
	case l.Delete != nil:
		k, n.StatusID, n.UserID = KindDelete, idOf(l.Delete.Status.IDStr, l.Delete.Status.ID), idOf(l.Delete.Status.UserIDStr, l.Delete.Status.UserID)
	case l.ScrubGeo != nil:
		k, n.UserID, n.StatusID = KindScrubGeo, idOf(l.ScrubGeo.UserIDStr, l.ScrubGeo.UserID), idOf(l.ScrubGeo.UpToIDStr, l.ScrubGeo.UpToID)
	case l.Limit != nil:
		k, n.Limit = KindLimit, l.Limit.Track
	case l.StatusWithheld != nil:
		k, n.StatusID, n.UserID, n.Countries = KindStatusWithheld, l.StatusWithheld.ID.String(), l.StatusWithheld.UserID.String(), l.StatusWithheld.Countries
	case l.UserWithheld != nil:
		k, n.UserID, n.Countries = KindUserWithheld, l.UserWithheld.ID.String(), l.UserWithheld.Countries
	case l.Disconnect != nil:
		k, n.Code, n.Reason = KindDisconnect, l.Disconnect.Code.String(), l.Disconnect.Reason
	case l.Warning != nil:
		k, n.Code, n.Reason = KindWarning, l.Warning.Code, l.Warning.Message
	case l.IDStr != "" || l.ID != "":
		p, err := l.v1Tweet.post()
		if err != nil {
			return Result{}, err
		}
		return Result{Kind: KindPost, Post: p}, nil
	default:
		return Result{Kind: KindUnknown, Notice: Notice{Name: firstKey(line)}}, nil
	}
	n.Name = k.String()
	return Result{Kind: k, Notice: n}, nil
}

// post normalises a tweet.
func (t *v1Tweet) post() (post.Post, error) {
	p := post.Post{ID: idOf(t.IDStr, t.ID), Source: SourceTwitter, Lang: t.Lang}
	var err error
	if p.CreatedAt, err = t.createdAt(); err != nil {
		return post.Post{}, fmt.Errorf("%w: tweet %s: %v", ErrMalformed, p.ID, err)
	}
	if t.User != nil {
		p.Author = t.User.ScreenName
		if p.Author == "" {
			p.Author = idOf(t.User.IDStr, t.User.ID)
		}
	}
	content := t
	if t.Retweeted != nil {
		content = t.Retweeted
		if p.RetweetOf = idOf(content.IDStr, content.ID); p.RetweetOf == "" {
			return post.Post{}, fmt.Errorf("%w: tweet %s: retweeted_status without an id", ErrMalformed, p.ID)
		}
	}
	p.Text, p.Hashtags = content.content()
	if err := p.Validate(); err != nil {
		return post.Post{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return p, nil
}

// createdAt prefers timestamp_ms, which has milliseconds, to created_at.
func (t *v1Tweet) createdAt() (time.Time, error) {
	if t.TimestampMS != "" {
		ms, err := t.TimestampMS.Int64()
		if err != nil {
			return time.Time{}, fmt.Errorf("timestamp_ms %q: %v", t.TimestampMS, err)
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	if t.CreatedAt == "" {
		return time.Time{}, fmt.Errorf("neither timestamp_ms nor created_at")
	}
	c, err := time.Parse(v1CreatedAt, t.CreatedAt)
	if err != nil {
		return time.Time{}, fmt.Errorf("created_at: %v", err)
	}
	return c.UTC(), nil
}

// content returns a tweet's full text and the hashtag entities that go with
// it: extended_tweet's when the tweet has one, which holds the whole text
// of a tweet that text shows cut off.
func (t *v1Tweet) content() (string, []string) {
	if t.Extended != nil && t.Extended.FullText != "" {
		return t.Extended.FullText, t.Extended.Entities.tags()
	}
	if t.FullText != "" {
		return t.FullText, t.Entities.tags()
	}
	return t.Text, t.Entities.tags()
}

// tags returns the hashtag texts: nil without entities, empty when the
// entities list no hashtags.
func (e *v1Entities) tags() []string {
	if e == nil || e.Hashtags == nil {
		return nil
	}
	return names(e.Hashtags)
}

// idOf prefers a v1.1 id_str to the numeric id.
func idOf(s string, n json.Number) string {
	if s != "" {
		return s
	}
	return n.String()
}
