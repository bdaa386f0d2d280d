package wire

import (
	"reflect"
	"testing"

	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/pkg/post"
)

// FuzzDecodeV1 checks that no line makes DecodeV1 panic and that every post
// it returns survives the Post encoding and has stable hashtag keys.
func FuzzDecodeV1(f *testing.F) {
	seeds := []string{
		"", "\r\n", "{}", "[]", "null", `{"id_str":"1"`,
		`{"id_str":"1","created_at":"Wed Oct 10 20:19:24 +0000 2018","text":"a #B #b","entities":{"hashtags":[{"text":"B"}]}}`,
		`{"id":1,"timestamp_ms":"1539202764123","text":"RT …","retweeted_status":{"id_str":"2","text":"x","extended_tweet":{"full_text":"#x #Ｙ"}}}`,
		`{"id_str":"1","timestamp_ms":"99999999999999999","text":"far future"}`,
		`{"delete":{"status":{"id":1,"user_id":2}}}`, `{"limit":{"track":5}}`,
		`{"disconnect":{"code":7,"reason":"admin"}}`, `{"warning":{"code":"FALLING_BEHIND"}}`,
		`{"scrub_geo":{"user_id":1}}`, `{"status_withheld":{"id":1}}`, `{"user_withheld":{"id":1}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) { checkDecoded(t, DecodeV1, line) })
}

// FuzzDecodeV2 is FuzzDecodeV1 for X API v2 lines.
func FuzzDecodeV2(f *testing.F) {
	seeds := []string{
		"", "\n", "{}", `{"data":null}`, `{"errors":[]}`, `{"data": {"author_id": "1"`,
		`{"data":{"id":"1","created_at":"2021-04-01T15:52:31.000Z","text":"#a","entities":{"hashtags":[{"tag":"a"}]}}}`,
		`{"data":{"id":"2","created_at":"2021-04-01T15:52:31Z","text":"RT","referenced_tweets":[{"type":"retweeted","id":"1"}]},"includes":{"tweets":[{"id":"1","note_tweet":{"text":"#long"}}]}}`,
		`{"errors":[{"title":"operational-disconnect","type":"https://api.twitter.com/2/problems/operational-disconnect"}]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) { checkDecoded(t, DecodeV2, line) })
}

func checkDecoded(t *testing.T, decode func([]byte) (Result, error), line []byte) {
	r, err := decode(line)
	if err != nil || r.Kind != KindPost {
		return
	}
	b, err := post.Encode(r.Post)
	if err != nil {
		t.Fatalf("decoded post does not encode: %v\n%+v", err, r.Post)
	}
	back, err := post.Decode(b)
	if err != nil {
		t.Fatalf("encoded post does not decode: %v\n%s", err, b)
	}
	want := r.Post
	want.CreatedAt = want.CreatedAt.Truncate(1e6)
	if !reflect.DeepEqual(back, want) {
		t.Fatalf("post changed on the way through its encoding:\n got %+v\nwant %+v", back, want)
	}
	for _, tag := range hashtag.Of(r.Post) {
		if k := hashtag.Key(tag.Key); k != tag.Key {
			t.Fatalf("key %q of %q has key %q", tag.Key, tag.Spelling, k)
		}
	}
}

// FuzzJetstream is FuzzDecodeV1 for Jetstream events, with and without
// cashtags; a post also keeps its position and has non-nil hashtags.
func FuzzJetstream(f *testing.F) {
	seeds := []string{
		"", "{}", "[]", `{"did":"d","time_us":1`, `{"did":"d","time_us":1,"kind":"label"}`,
		`{"did":"d","time_us":1,"kind":"identity","identity":{}}`,
		`{"did":"d","time_us":1,"kind":"commit","commit":{"operation":"delete","collection":"app.bsky.feed.post","rkey":"k"}}`,
		bskyEvent(`"createdAt":"2026-01-01T00:00:00Z","langs":["en"],"text":"hi #Go $AAPL","tags":["x"],"facets":[` + tagFacet(3, 6, "Go") + `,` + tagFacet(7, 12, "AAPL") + `]`),
		bskyEvent(`"text":"🦋 #ブルー","facets":[` + tagFacet(5, 15, "ブルー") + `]`),
		bskyEvent(`"text":"#é","facets":[` + tagFacet(0, 2, "e") + `]`),
		bskyEvent(`"createdAt":"99999-01-01T00:00:00Z","text":"far"`),
	}
	for _, s := range seeds {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, frame []byte, cashtags bool) {
		j := Jetstream{Cashtags: cashtags}
		checkDecoded(t, j.Decode, frame)
		if r, err := j.Decode(frame); err == nil && r.Kind == KindPost {
			if r.TimeUS <= 0 || r.Post.Hashtags == nil {
				t.Fatalf("post without position or hashtags: %+v", r)
			}
			for _, tag := range r.Post.Hashtags {
				if !cashtags && tag[0] == '$' {
					t.Fatalf("cashtag %q counted with cashtags off", tag)
				}
			}
		}
	})
}

// FuzzMastodon is FuzzDecodeV1 for Mastodon's streaming events.
func FuzzMastodon(f *testing.F) {
	seeds := [][2]string{
		{"update", ""}, {"update", "{}"}, {"update", `{"id":"1","uri":"u"`}, {"delete", "1"}, {"delete", ""},
		{"status.update", `{"id":"1","uri":"u"}`}, {"notification", "{}"}, {"filters_changed", ""},
		{"update", mastodonStatusJSON("1", `<p>a<br>b &amp; <a href="x>y">#<span>c</span></a></p><p>d`, `[{"name":"c"}]`, "")},
		{"update", mastodonStatusJSON("2", "", `[]`, `"reblog":{"uri":"o","content":"<p>#x</p>","tags":[{"name":"x"},{"name":""}]}`)},
		{"update", mastodonStatusJSON("3", "<", `[]`, "")},
	}
	for _, s := range seeds {
		f.Add(s[0], []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, event string, data []byte) {
		checkDecoded(t, func(b []byte) (Result, error) { return DecodeMastodon(event, b) }, data)
	})
}
