package delta_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
)

func sample() delta.Delta {
	return delta.Delta{
		WindowStart: time.UnixMilli(1_700_000_000_000).UTC(),
		WindowEnd:   time.UnixMilli(1_700_000_002_000).UTC(),
		Instance:    "counter-0",
		Posts:       5, PostsWithHashtags: 3,
		Counts: []delta.Count{
			{Key: "tiktok", N: 3, Spelling: "TikTok", Others: map[string]int64{"tiktok": 1}},
			{Key: "go", N: 1, Spelling: "go"},
		},
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	b, err := delta.Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	d, err := delta.Decode(b)
	if err != nil {
		t.Fatalf("Decode(%s): %v", b, err)
	}
	if d.V != 1 || d.Posts != 5 || len(d.Counts) != 2 || d.Counts[0].Others["tiktok"] != 1 || !d.WindowEnd.Equal(sample().WindowEnd) {
		t.Fatalf("round trip gave %+v", d)
	}
}

func TestDecodeRejects(t *testing.T) {
	good, _ := delta.Encode(sample())
	tests := []struct{ name, value, want string }{
		{"an empty value", "", "EOF"},
		{"another schema version", strings.Replace(string(good), `"v":1`, `"v":2`, 1), "schema version"},
		{"an unknown field", strings.Replace(string(good), `"v":1`, `"v":1,"x":1`, 1), "unknown field"},
		{"a window that ends before it starts", strings.Replace(string(good), `"window_end":"2023-11-14T22:13:22Z"`, `"window_end":"2023-11-14T22:13:19Z"`, 1), "window end"},
		{"more posts with hashtags than posts", strings.Replace(string(good), `"posts_with_hashtags":3`, `"posts_with_hashtags":9`, 1), "posts"},
		{"other spellings that outnumber the count", strings.Replace(string(good), `{"tiktok":1}`, `{"tiktok":3}`, 1), "not above"},
		{"a count without a key", strings.Replace(string(good), `"key":"go"`, `"key":""`, 1), "empty key"},
		{"trailing data", string(good) + "{}", "trailing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := delta.Decode([]byte(tt.value))
			if !errors.Is(err, delta.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode(%q) = %v, want ErrInvalid mentioning %q", tt.value, err, tt.want)
			}
		})
	}
}

func TestOfAndAddToKeepTheSpellingsAndTheirCounts(t *testing.T) {
	var sp hashtag.Spellings
	sp.Add("TikTok", 3)
	sp.Add("tiktok", 1)
	sp.Add("TIKTOK", 2)
	c := delta.Of("tiktok", &sp)
	if c.Key != "tiktok" || c.N != 6 || c.Spelling != "TikTok" || len(c.Others) != 2 || c.Others["TIKTOK"] != 2 {
		t.Fatalf("Of = %+v", c)
	}
	var back hashtag.Spellings
	c.AddTo(&back)
	got := map[string]int64{}
	for s, n := range back.All() {
		got[s] = n
	}
	if back.Best() != "TikTok" || got["TikTok"] != 3 || got["tiktok"] != 1 || got["TIKTOK"] != 2 {
		t.Fatalf("AddTo rebuilt %v, best %q", got, back.Best())
	}
}

func TestSplitKeepsEveryCountAndThePostFiguresOnce(t *testing.T) {
	d := sample()
	d.Counts = nil
	for i := range 1000 {
		d.Counts = append(d.Counts, delta.Count{Key: strings.Repeat("k", 20) + string(rune('a'+i%26)) + strings.Repeat("x", i%7), N: 1, Spelling: "s"})
	}
	parts := delta.Split(d, 4096)
	if len(parts) < 10 {
		t.Fatalf("Split into %d parts, want many", len(parts))
	}
	n, posts := 0, int64(0)
	for i, p := range parts {
		if p.Part != i {
			t.Fatalf("part %d numbered %d", i, p.Part)
		}
		b, _ := delta.Encode(p)
		if len(b) > 4096 {
			t.Fatalf("part %d is %d bytes", i, len(b))
		}
		n += len(p.Counts)
		posts += p.Posts
	}
	if n != 1000 || posts != d.Posts {
		t.Fatalf("parts hold %d counts and %d posts, want 1000 and %d", n, posts, d.Posts)
	}
	if whole := delta.Split(sample(), 1<<20); len(whole) != 1 {
		t.Fatalf("a small delta was split into %d", len(whole))
	}
}
