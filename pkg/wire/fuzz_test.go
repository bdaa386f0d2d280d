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
