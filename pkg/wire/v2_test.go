package wire

import (
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/post"
)

func TestDecodeV2Posts(t *testing.T) {
	at := time.Date(2021, 4, 1, 15, 52, 31, 0, time.UTC)
	decodePosts(t, decoders(DecodeV2), []postCase{
		{"a post takes its text, entities, language and author",
			`{"data":{"id":"10","created_at":"2021-04-01T15:52:31.000Z","author_id":"7","lang":"en","text":"hi #Dogs","entities":{"hashtags":[{"start":3,"end":8,"tag":"Dogs"}]}},"matching_rules":[{"id":"1","tag":"dogs"}]}`,
			post.Post{ID: "10", Source: "x", CreatedAt: at, Text: "hi #Dogs", Lang: "en", Author: "7", Hashtags: []string{"Dogs"}}},
		{"an entities object without hashtags means none",
			`{"data":{"id":"10","created_at":"2021-04-01T15:52:31.000Z","text":"x https://t.co/a","entities":{"urls":[{"start":2,"end":16}]}}}`,
			post.Post{ID: "10", Source: "x", CreatedAt: at, Text: "x https://t.co/a", Hashtags: []string{}}},
		{"a post without entities has nil hashtags",
			`{"data":{"id":"10","created_at":"2021-04-01T15:52:31.000Z","text":"#extracted"}}`,
			post.Post{ID: "10", Source: "x", CreatedAt: at, Text: "#extracted"}},
		{"a long post takes note_tweet's text and entities",
			`{"data":{"id":"10","created_at":"2021-04-01T15:52:31.000Z","text":"long #a…","entities":{"hashtags":[{"tag":"a"}]},"note_tweet":{"text":"long #a and #b","entities":{"hashtags":[{"tag":"a"},{"tag":"b"}]}}}}`,
			post.Post{ID: "10", Source: "x", CreatedAt: at, Text: "long #a and #b", Hashtags: []string{"a", "b"}}},
		{"a retweet takes the original from includes in full",
			`{"data":{"id":"11","created_at":"2021-04-01T15:52:31.000Z","author_id":"8","text":"RT @bob: cut #Fir…","entities":{"hashtags":[{"tag":"Fir"}]},"referenced_tweets":[{"type":"retweeted","id":"10"}]},"includes":{"tweets":[{"id":"9","text":"#other"},{"id":"10","author_id":"7","text":"cut #First #Second","entities":{"hashtags":[{"tag":"First"},{"tag":"Second"}]}}]}}`,
			post.Post{ID: "11", Source: "x", CreatedAt: at, Text: "cut #First #Second", Author: "8", RetweetOf: "10", Hashtags: []string{"First", "Second"}}},
		{"a retweet of a long post takes the original's note_tweet",
			`{"data":{"id":"11","created_at":"2021-04-01T15:52:31.000Z","text":"RT …","referenced_tweets":[{"type":"retweeted","id":"10"}]},"includes":{"tweets":[{"id":"10","text":"short…","note_tweet":{"text":"short then #long"}}]}}`,
			post.Post{ID: "11", Source: "x", CreatedAt: at, Text: "short then #long", RetweetOf: "10"}},
		{"a retweet whose original is not included keeps its own text",
			`{"data":{"id":"11","created_at":"2021-04-01T15:52:31.000Z","text":"RT @bob: cut #Fir…","referenced_tweets":[{"type":"retweeted","id":"10"}]}}`,
			post.Post{ID: "11", Source: "x", CreatedAt: at, Text: "RT @bob: cut #Fir…", RetweetOf: "10"}},
		{"a quote post's hashtags are its own, never the quoted post's",
			`{"data":{"id":"12","created_at":"2021-04-01T15:52:31.000Z","text":"yes #mine","entities":{"hashtags":[{"tag":"mine"}]},"referenced_tweets":[{"type":"quoted","id":"10"}]},"includes":{"tweets":[{"id":"10","text":"#theirs","entities":{"hashtags":[{"tag":"theirs"}]}}]}}`,
			post.Post{ID: "12", Source: "x", CreatedAt: at, Text: "yes #mine", Hashtags: []string{"mine"}}},
		{"a reply is an ordinary post",
			`{"data":{"id":"13","created_at":"2021-04-01T17:52:31+02:00","text":"@a ok","referenced_tweets":[{"type":"replied_to","id":"10"}]}}`,
			post.Post{ID: "13", Source: "x", CreatedAt: at, Text: "@a ok"}},
	})
}

func TestDecodeV2StreamErrors(t *testing.T) {
	decodeResults(t, decoders(DecodeV2), []resultCase{
		{"an errors line is a stream error with its type",
			`{"errors":[{"title":"operational-disconnect","disconnect_type":"UpstreamOperationalDisconnect","detail":"This stream has been disconnected upstream for operational reasons.","type":"https://api.twitter.com/2/problems/operational-disconnect"}]}`,
			Result{Kind: KindStreamError, Errors: []StreamError{{Title: "operational-disconnect", DisconnectType: "UpstreamOperationalDisconnect", Detail: "This stream has been disconnected upstream for operational reasons.", Type: "https://api.twitter.com/2/problems/operational-disconnect"}}}},
		{"partial errors travel with the post",
			`{"data":{"id":"1","created_at":"2021-04-01T15:52:31Z","text":"x"},"errors":[{"resource_id":"9","resource_type":"tweet","parameter":"referenced_tweets.id","title":"Not Found Error","detail":"Could not find tweet with referenced_tweets.id: [9].","type":"https://api.twitter.com/2/problems/resource-not-found"}]}`,
			Result{Kind: KindPost, Post: post.Post{ID: "1", Source: "x", CreatedAt: time.Date(2021, 4, 1, 15, 52, 31, 0, time.UTC), Text: "x"},
				Errors: []StreamError{{ResourceID: "9", ResourceType: "tweet", Parameter: "referenced_tweets.id", Title: "Not Found Error", Detail: "Could not find tweet with referenced_tweets.id: [9].", Type: "https://api.twitter.com/2/problems/resource-not-found"}}}},
		{"a blank line is a keep-alive", "\r\n", Result{Kind: KindKeepAlive}},
	})
}

func TestDecodeV2OnAV1LineIsUnknown(t *testing.T) {
	r, err := DecodeV2([]byte(`{"limit":{"track":1}}`))
	if err != nil || r.Kind != KindUnknown || r.Notice.Name != "limit" {
		t.Errorf("got %+v, %v; want an unknown line named limit", r, err)
	}
}

func TestDecodeV2Errors(t *testing.T) {
	decodeMalformed(t, decoders(DecodeV2), []malformedCase{
		{"cut-off JSON is an error that says so", `{"data": {"author_id": "1021159080151404544"`, "cut off"},
		{"data without an id is an error", `{"data":{"created_at":"2021-04-01T15:52:31Z","text":"x"}}`, "without an id"},
		{"a post without created_at is an error", `{"data":{"id":"1","text":"x"}}`, "no created_at"},
		{"a created_at that is not RFC 3339 is an error", `{"data":{"id":"1","created_at":"Wed Oct 10 20:19:24 +0000 2018"}}`, "created_at"},
		{"data that is not an object is an error", `{"data":"x"}`, "data"},
	})
}
