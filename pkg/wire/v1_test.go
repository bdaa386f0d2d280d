package wire

import (
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/post"
)

// at is 2018-10-10 20:19:24 UTC, the time in the v1.1 created_at example.
var at = time.Date(2018, 10, 10, 20, 19, 24, 0, time.UTC)

func TestDecodeV1Tweets(t *testing.T) {
	decodePosts(t, decoders(DecodeV1), []postCase{
		{"a tweet takes its text, entities, language and author",
			`{"id":1052322709826113536,"id_str":"1052322709826113536","created_at":"Wed Oct 10 20:19:24 +0000 2018","text":"hello #World","lang":"en","user":{"id":7,"id_str":"7","screen_name":"alice"},"entities":{"hashtags":[{"text":"World","indices":[6,12]}]}}`,
			post.Post{ID: "1052322709826113536", Source: "twitter", CreatedAt: at, Text: "hello #World", Lang: "en", Author: "alice", Hashtags: []string{"World"}}},
		{"timestamp_ms wins over created_at and keeps milliseconds",
			`{"id_str":"1","created_at":"Wed Oct 10 20:19:24 +0000 2018","timestamp_ms":"1539202764123","text":"x","entities":{"hashtags":[]}}`,
			post.Post{ID: "1", Source: "twitter", CreatedAt: at.Add(123 * time.Millisecond), Text: "x", Hashtags: []string{}}},
		{"created_at in another zone is converted to UTC",
			`{"id_str":"1","created_at":"Wed Oct 10 22:19:24 +0200 2018","text":"x"}`,
			post.Post{ID: "1", Source: "twitter", CreatedAt: at, Text: "x"}},
		{"the numeric id is used when id_str is missing",
			`{"id":1052322709826113536,"created_at":"Wed Oct 10 20:19:24 +0000 2018","text":"x","user":{"id":7}}`,
			post.Post{ID: "1052322709826113536", Source: "twitter", CreatedAt: at, Text: "x", Author: "7"}},
		{"a tweet without entities has nil hashtags",
			`{"id_str":"1","created_at":"Wed Oct 10 20:19:24 +0000 2018","text":"#notcounted"}`,
			post.Post{ID: "1", Source: "twitter", CreatedAt: at, Text: "#notcounted"}},
		{"an empty hashtags array means no hashtags",
			`{"id_str":"1","created_at":"Wed Oct 10 20:19:24 +0000 2018","text":"x","entities":{"hashtags":[],"urls":[]}}`,
			post.Post{ID: "1", Source: "twitter", CreatedAt: at, Text: "x", Hashtags: []string{}}},
		{"a truncated tweet takes extended_tweet's full text and entities",
			`{"id_str":"1","created_at":"Wed Oct 10 20:19:24 +0000 2018","truncated":true,"text":"long #a …","entities":{"hashtags":[{"text":"a"}]},"extended_tweet":{"full_text":"long #a and #b","entities":{"hashtags":[{"text":"a"},{"text":"b"}]}}}`,
			post.Post{ID: "1", Source: "twitter", CreatedAt: at, Text: "long #a and #b", Hashtags: []string{"a", "b"}}},
		{"extended_tweet without entities leaves the tags to extraction from its full text",
			`{"id_str":"1","created_at":"Wed Oct 10 20:19:24 +0000 2018","text":"long #a …","entities":{"hashtags":[{"text":"a"}]},"extended_tweet":{"full_text":"long #a and #b"}}`,
			post.Post{ID: "1", Source: "twitter", CreatedAt: at, Text: "long #a and #b"}},
		{"a retweet takes its original's text and entities in full",
			`{"id_str":"2","created_at":"Wed Oct 10 20:19:24 +0000 2018","text":"RT @bob: cut off #Fir…","user":{"screen_name":"carol"},"entities":{"hashtags":[]},"retweeted_status":{"id_str":"1","created_at":"Tue Oct 09 10:00:00 +0000 2018","text":"cut off #First #Second","user":{"screen_name":"bob"},"entities":{"hashtags":[{"text":"First"},{"text":"Second"}]}}}`,
			post.Post{ID: "2", Source: "twitter", CreatedAt: at, Text: "cut off #First #Second", Author: "carol", RetweetOf: "1", Hashtags: []string{"First", "Second"}}},
		{"a retweet of a long tweet takes the original's extended_tweet",
			`{"id_str":"2","created_at":"Wed Oct 10 20:19:24 +0000 2018","text":"RT @bob: …","retweeted_status":{"id_str":"1","text":"short…","truncated":true,"entities":{"hashtags":[]},"extended_tweet":{"full_text":"short then #long","entities":{"hashtags":[{"text":"long"}]}}}}`,
			post.Post{ID: "2", Source: "twitter", CreatedAt: at, Text: "short then #long", RetweetOf: "1", Hashtags: []string{"long"}}},
		{"a quote tweet's hashtags are its own, never the quoted tweet's",
			`{"id_str":"3","created_at":"Wed Oct 10 20:19:24 +0000 2018","text":"so true #mine","entities":{"hashtags":[{"text":"mine"}]},"is_quote_status":true,"quoted_status":{"id_str":"1","text":"#theirs","entities":{"hashtags":[{"text":"theirs"}]}}}`,
			post.Post{ID: "3", Source: "twitter", CreatedAt: at, Text: "so true #mine", Hashtags: []string{"mine"}}},
		{"full_text of extended mode is the text",
			`{"id_str":"1","created_at":"Wed Oct 10 20:19:24 +0000 2018","full_text":"all of it #here","entities":{"hashtags":[{"text":"here"}]}}`,
			post.Post{ID: "1", Source: "twitter", CreatedAt: at, Text: "all of it #here", Hashtags: []string{"here"}}},
	})
}

func TestDecodeV1Messages(t *testing.T) {
	decodeResults(t, decoders(DecodeV1), []resultCase{
		{"a blank line is a keep-alive", "\r\n", Result{Kind: KindKeepAlive}},
		{"an empty line is a keep-alive", "", Result{Kind: KindKeepAlive}},
		{"a delete names the status and its user",
			`{"delete":{"status":{"id":1234,"id_str":"1234","user_id":3,"user_id_str":"3"},"timestamp_ms":"1539202764123"}}`,
			Result{Kind: KindDelete, Notice: Notice{Name: "delete", StatusID: "1234", UserID: "3"}}},
		{"a scrub_geo names the user and the last status",
			`{"scrub_geo":{"user_id":14090452,"user_id_str":"14090452","up_to_status_id":23260136625,"up_to_status_id_str":"23260136625"}}`,
			Result{Kind: KindScrubGeo, Notice: Notice{Name: "scrub_geo", StatusID: "23260136625", UserID: "14090452"}}},
		{"a limit counts the undelivered tweets",
			`{"limit":{"track":1234,"timestamp_ms":"1539202764123"}}`,
			Result{Kind: KindLimit, Notice: Notice{Name: "limit", Limit: 1234}}},
		{"a status_withheld names the status and the countries",
			`{"status_withheld":{"id":1234567890,"user_id":123456,"withheld_in_countries":["DE","AR"]}}`,
			Result{Kind: KindStatusWithheld, Notice: Notice{Name: "status_withheld", StatusID: "1234567890", UserID: "123456", Countries: []string{"DE", "AR"}}}},
		{"a user_withheld names the user and the countries",
			`{"user_withheld":{"id":123456,"withheld_in_countries":["DE"]}}`,
			Result{Kind: KindUserWithheld, Notice: Notice{Name: "user_withheld", UserID: "123456", Countries: []string{"DE"}}}},
		{"a disconnect gives its code and reason",
			`{"disconnect":{"code":4,"stream_name":"filter","reason":"duplicate stream"}}`,
			Result{Kind: KindDisconnect, Notice: Notice{Name: "disconnect", Code: "4", Reason: "duplicate stream"}}},
		{"a stall warning gives its code and message",
			`{"warning":{"code":"FALLING_BEHIND","message":"Your connection is falling behind","percent_full":60}}`,
			Result{Kind: KindWarning, Notice: Notice{Name: "warning", Code: "FALLING_BEHIND", Reason: "Your connection is falling behind"}}},
		{"an unknown message is reported by its first key",
			`{"friends":[1,2,3]}`,
			Result{Kind: KindUnknown, Notice: Notice{Name: "friends"}}},
		{"a user-stream event is unknown, not a tweet",
			`{"event":"favorite","created_at":"Wed Oct 10 20:19:24 +0000 2018","source":{},"target":{}}`,
			Result{Kind: KindUnknown, Notice: Notice{Name: "event"}}},
	})
}

func TestDecodeV1Errors(t *testing.T) {
	decodeMalformed(t, decoders(DecodeV1), []malformedCase{
		{"cut-off JSON is an error", `{"id_str":"1","text":"ab`, "cut off"},
		{"JSON that is not an object is an error", `[1,2]`, "not a JSON object"},
		{"a tweet without any time is an error", `{"id_str":"1","text":"x"}`, "neither timestamp_ms nor created_at"},
		{"a created_at in another layout is an error", `{"id_str":"1","created_at":"2018-10-10T20:19:24Z","text":"x"}`, "created_at"},
		{"a timestamp_ms that is not a number is an error", `{"id_str":"1","timestamp_ms":"soon","text":"x"}`, "soon"},
		{"a retweet of a tweet without an id is an error", `{"id_str":"1","timestamp_ms":"1","retweeted_status":{"text":"x"}}`, "retweeted_status without an id"},
		{"a field of the wrong type is an error", `{"id_str":1}`, "id_str"},
		{"a time that a post cannot carry is an error", `{"id_str":"1","timestamp_ms":"999999999999999999","text":"x"}`, "outside"},
	})
}
