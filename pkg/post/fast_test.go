package post

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// agree checks that Decode and decodeStrict give the same post or the same
// error for b, and that the fast path, when it answers, gives that post.
func agree(t *testing.T, b []byte) (fast bool) {
	t.Helper()
	want, wantErr := decodeStrict(b)
	got, gotErr := Decode(b)
	switch {
	case (gotErr == nil) != (wantErr == nil):
		t.Fatalf("Decode(%q) error = %v, the strict path's %v", b, gotErr, wantErr)
	case gotErr != nil && gotErr.Error() != wantErr.Error():
		t.Fatalf("Decode(%q) error = %q, the strict path's %q", b, gotErr, wantErr)
	case !reflect.DeepEqual(got, want):
		t.Fatalf("Decode(%q) =\n%#v\nthe strict path's\n%#v", b, got, want)
	}
	shared, sharedErr := DecodeShared(bytes.Clone(b))
	switch {
	case (sharedErr == nil) != (wantErr == nil) || sharedErr != nil && sharedErr.Error() != wantErr.Error():
		t.Fatalf("DecodeShared(%q) error = %v, the strict path's %v", b, sharedErr, wantErr)
	case !reflect.DeepEqual(shared, want):
		t.Fatalf("DecodeShared(%q) =\n%#v\nthe strict path's\n%#v", b, shared, want)
	}
	p, ok := decodeFast(b, false)
	if ok {
		if wantErr != nil {
			t.Fatalf("decodeFast(%q) accepted what the strict path refuses: %v", b, wantErr)
		}
		if !reflect.DeepEqual(p, want) {
			t.Fatalf("decodeFast(%q) =\n%#v\nthe strict path's\n%#v", b, p, want)
		}
	}
	return ok
}

// TestDecodeCopiesWhatDecodeSharedShares checks the difference between the
// two: a post from Decode stays what it was when its input is overwritten.
func TestDecodeCopiesWhatDecodeSharedShares(t *testing.T) {
	in := []byte(exampleJSON)
	p, err := Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := DecodeShared(in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 'x'
	}
	if !reflect.DeepEqual(p, example) {
		t.Errorf("Decode's post changed with its input: %+v", p)
	}
	if shared.ID == example.ID {
		t.Errorf("DecodeShared's post does not share its input: id %q", shared.ID)
	}
}

// seeds are values at the edges of what the two paths must agree on; the
// fuzz test starts from them and the table test checks them all.
var seeds = []string{
	exampleJSON,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","hashtags":[]}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58.123456789+02:00","hashtags":null}`,
	// white space, order, escapes
	" \t\r\n{ \"text\" : \"a\\nb\\t\\\"c\\\\d\\/e\\b\\f\\r\" ,\n \"created_at\":\"2021-04-01T15:52:58.1Z\", \"source\":\"x\",\"id\":\"1\", \"v\" : 1 } \n",
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","text":"\u0026 \u003c\u003e \u2028 \u00e9 \u00C9 \u0000"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","text":"\ud83d\ude00 \uD83D\uDE00"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","text":"\ud800 \udc00 \ud800\u0041 \ud800\ud800 \udc00\ud800\udc00 \ud83d"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","text":"é ☃ 😀","hashtags":["é","\u00e9"," x "]}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","lang":"nl","author":"a","retweet_of":"0"}`,
	// field names: case, unknown, repeated, escaped
	`{"V":1,"ID":"1","Source":"x","Created_At":"2021-04-01T15:52:58Z"}`,
	`{"v":1,"id":"1","ſource":"x","created_at":"2021-04-01T15:52:58Z"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","id":"2"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","ID":"2"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","hashtags":["a"],"hashtags":null}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","hashtags":["a","b"],"hashtags":["c"]}`,
	`{"v":1,"\u0069d":"1","source":"x","created_at":"2021-04-01T15:52:58Z"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","likes":3}`,
	// null and other types
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","text":null}`,
	`{"v":1,"id":null,"source":"x","created_at":"2021-04-01T15:52:58Z"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","hashtags":[null]}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","hashtags":"a"}`,
	`{"v":1,"id":1,"source":"x","created_at":"2021-04-01T15:52:58Z"}`,
	`{"v":null,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z"}`,
	// the version
	`{"v":1.0,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z"}`,
	`{"v":1e0,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z"}`,
	`{"v":-0,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z"}`,
	`{"v":01,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z"}`,
	`{"v":"1","id":"1","source":"x","created_at":"2021-04-01T15:52:58Z"}`,
	`{"v":1,"v":2,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z"}`,
	`{"v":2,"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z"}`,
	`{"v":10,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z"}`,
	// created_at
	`{"v":1,"id":"1","source":"x","created_at":"2021-02-29T15:52:58Z"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2024-02-29T23:59:59.999999999Z"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T24:00:00Z"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:60Z"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58.1234567891Z"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58,5Z"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58.Z"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01t15:52:58z"}`,
	`{"v":1,"id":"1","source":"x","created_at":"0000-01-01T00:00:00Z"}`,
	`{"v":1,"id":"1","source":"x","created_at":"0000-02-29T00:00:00Z"}`,
	`{"v":1,"id":"1","source":"x","created_at":"1900-02-29T00:00:00Z"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2000-02-29T00:00:00.5Z"}`,
	`{"v":1,"id":"1","source":"x","created_at":"1969-12-31T23:59:59.999Z"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-31T00:00:00Z"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-00-10T00:00:00Z"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-13-10T00:00:00Z"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-12-00T00:00:00Z"}`,
	`{"v":1,"id":"1","source":"x","created_at":"9999-12-31T23:59:59-01:00"}`,
	`{"v":1,"id":"1","source":"x","created_at":"+021-04-01T15:52:58Z"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-4-01T15:52:58Z"}`,
	`{"v":1,"id":"1","source":"x"}`,
	// shape
	``, ` `, `{}`, `[]`, `null`, `{"v":1}`, `{"v":1,}`, `{"v":1 "id":"1"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z"} {}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z"}]`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z"`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","text":"a` + "\n" + `b"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","text":"\x"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","text":"\u12"}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","text":"\u12G4"}`,
	"{\"v\":1,\"id\":\"1\",\"source\":\"x\",\"created_at\":\"2021-04-01T15:52:58Z\",\"text\":\"\xff\"}",
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","hashtags":["a",]}`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","hashtags":["a"`,
	`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","hashtags":[""]}`,
	`{"v":1,"id":"","source":"x","created_at":"2021-04-01T15:52:58Z"}`,
}

func TestFastAndStrictAgree(t *testing.T) {
	for _, s := range seeds {
		agree(t, []byte(s))
	}
}

// TestFastPathTakesWhatEncodeWrites checks that the fast path answers for
// the forms that travel on the tweets topic, so that the agreement above
// is not won by always leaving it to the strict path.
func TestFastPathTakesWhatEncodeWrites(t *testing.T) {
	posts := []Post{
		example,
		{ID: "1", Source: "twitter", CreatedAt: example.CreatedAt, Text: "a & b <c> \u2028 \"q\" \\ é 😀 \x00"},
		{ID: "2", Source: "x", CreatedAt: example.CreatedAt.Add(-123 * time.Millisecond), Hashtags: []string{}, RetweetOf: "1"},
		{ID: "3", Source: "bluesky", CreatedAt: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, p := range posts {
		b, err := Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		if !agree(t, b) {
			t.Errorf("the fast path left %s to the strict path", b)
		}
	}
	for _, s := range seeds[:9] {
		if !agree(t, []byte(s)) {
			t.Errorf("the fast path left %s to the strict path", s)
		}
	}
}

// FuzzFastAgreesWithStrict holds the fast path to the strict one: on every
// input, the same post or the same error.
func FuzzFastAgreesWithStrict(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	// Posts as Encode writes them, with every kind of character.
	var text strings.Builder
	for r := rune(0); r < 0x3000; r += 7 {
		text.WriteRune(r)
	}
	text.WriteString("\U0001F600\U0010FFFF")
	for _, p := range []Post{
		{ID: "1", Source: "x", CreatedAt: example.CreatedAt, Text: text.String()},
		{ID: "1", Source: "x", CreatedAt: example.CreatedAt, Hashtags: strings.Fields(text.String()[:200])},
	} {
		b, err := json.Marshal(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		agree(t, b)
	})
}

// BenchmarkDecode measures the fast path (copying and sharing) against
// the strict one on the documented example post.
func BenchmarkDecode(b *testing.B) {
	in := []byte(exampleJSON)
	for _, c := range []struct {
		name   string
		decode func([]byte) (Post, error)
	}{{"strict", decodeStrict}, {"fast", Decode}, {"shared", DecodeShared}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.decode(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
