package post

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// example is the Post of docs/post.md.
var example = Post{
	ID:        "1377650387579248643",
	Source:    "x",
	CreatedAt: time.Date(2021, 4, 1, 15, 52, 58, 123e6, time.UTC),
	Text:      "Sometimes I wish she would just relax\n#DogsofTwitter #dogs",
	Lang:      "en",
	Author:    "1021159080151404544",
	Hashtags:  []string{"DogsofTwitter", "dogs"},
}

const exampleJSON = `{"v":1,"id":"1377650387579248643","source":"x","created_at":"2021-04-01T15:52:58.123Z","text":"Sometimes I wish she would just relax\n#DogsofTwitter #dogs","lang":"en","author":"1021159080151404544","hashtags":["DogsofTwitter","dogs"]}`

func TestEncodeWritesTheDocumentedForm(t *testing.T) {
	b, err := Encode(example)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != exampleJSON {
		t.Errorf("Encode =\n%s\nwant\n%s", b, exampleJSON)
	}
}

func TestEncodeThenDecodeGivesThePostBack(t *testing.T) {
	tests := []struct {
		name string
		p    Post
	}{
		{"a post with hashtags", example},
		{"a post whose source gave no hashtags keeps nil", Post{ID: "1", Source: "twitter", CreatedAt: example.CreatedAt, Text: "#x"}},
		{"a post whose source said none keeps an empty list", Post{ID: "1", Source: "twitter", CreatedAt: example.CreatedAt, Hashtags: []string{}}},
		{"a retweet keeps retweet_of", Post{ID: "2", Source: "x", CreatedAt: example.CreatedAt, RetweetOf: "1"}},
		{"a time in another zone comes back in UTC", Post{ID: "1", Source: "x", CreatedAt: example.CreatedAt.In(time.FixedZone("CEST", 7200))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Encode(tt.p)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode(%s): %v", b, err)
			}
			want := tt.p
			want.CreatedAt = want.CreatedAt.UTC()
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestDecodeRejectsWhatIsNotAPost(t *testing.T) {
	tests := []struct {
		name, value, says string
	}{
		{"an empty value", ``, "empty"},
		{"bytes that are not UTF-8", "{\"v\":1,\"text\":\"\xff\"}", "UTF-8"},
		{"JSON cut off", `{"v":1,"id":"1"`, "unexpected EOF"},
		{"an unknown field", `{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","likes":3}`, "unknown field"},
		{"another schema version", `{"v":2,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z"}`, "version 2"},
		{"no version", `{"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z"}`, "version 0"},
		{"a missing id", `{"v":1,"source":"x","created_at":"2021-04-01T15:52:58Z"}`, "missing id"},
		{"a missing source", `{"v":1,"id":"1","created_at":"2021-04-01T15:52:58Z"}`, "missing source"},
		{"a created_at that is not RFC 3339", `{"v":1,"id":"1","source":"x","created_at":"Wed Oct 10 20:19:24 +0000 2018"}`, "created_at"},
		{"an empty hashtag", `{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","hashtags":[""]}`, "hashtags[0]"},
		{"a second value after the object", `{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z"} {}`, "trailing"},
		{"a stray bracket after the object", `{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z"}]`, "trailing"},
		{"an array", `[]`, "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.value))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("Decode(%q) error = %v, want an ErrInvalid saying %q", tt.value, err, tt.says)
			}
		})
	}
}

func TestEncodeRejectsAnInvalidPost(t *testing.T) {
	tests := []struct {
		name string
		p    Post
	}{
		{"a post without id", Post{Source: "x"}},
		{"a post without source", Post{ID: "1"}},
		{"a time RFC 3339 cannot write", Post{ID: "1", Source: "x", CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"text that is not UTF-8", Post{ID: "1", Source: "x", Text: "\xff"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Encode(tt.p); !errors.Is(err, ErrInvalid) {
				t.Errorf("Encode error = %v, want ErrInvalid", err)
			}
		})
	}
}

// FuzzDecode checks that Decode never panics and that whatever it accepts
// encodes and decodes back to the same post.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(exampleJSON))
	f.Add([]byte(`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58Z","hashtags":[]}`))
	f.Add([]byte(`{"v":1,"id":"1","source":"x","created_at":"2021-04-01T15:52:58.123456789+02:00","hashtags":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			return
		}
		enc, err := Encode(p)
		if err != nil {
			t.Fatalf("decoded post does not encode: %v\n%+v", err, p)
		}
		back, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded post does not decode: %v\n%s", err, enc)
		}
		p.CreatedAt = p.CreatedAt.Truncate(time.Millisecond)
		if !reflect.DeepEqual(back, p) {
			t.Fatalf("post changed on the way round:\n got %+v\nwant %+v", back, p)
		}
	})
}
