package delta_test

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/services/counter/internal/cells"
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
	"github.com/hashtrend/hashtrend/services/counter/internal/hll"
	"github.com/hashtrend/hashtrend/services/counter/internal/trend"
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

// roundTrip encodes d and decodes it again, failing the test where either
// errs; it returns the encoding and what came back.
func roundTrip(t *testing.T, d delta.Delta) ([]byte, delta.Delta) {
	t.Helper()
	b, err := delta.Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	back, err := delta.Decode(b)
	if err != nil {
		t.Fatalf("Decode(%s): %v", b, err)
	}
	return b, back
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	_, d := roundTrip(t, sample())
	if d.V != 2 || d.Posts != 5 || len(d.Counts) != 2 || d.Counts[0].Others["tiktok"] != 1 || !d.WindowEnd.Equal(sample().WindowEnd) {
		t.Fatalf("round trip gave %+v", d)
	}
}

func TestDecodeRejects(t *testing.T) {
	good, _ := delta.Encode(sample())
	tests := []struct{ name, value, want string }{
		{"an empty value", "", "EOF"},
		{"another schema version", strings.Replace(string(good), `"v":2`, `"v":5`, 1), "schema version"},
		{"an unknown field", strings.Replace(string(good), `"v":2`, `"v":2,"x":1`, 1), "unknown field"},
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

// trending is sample with version 2's buckets and watermarks.
func trending() delta.Delta {
	d := sample()
	var a, b hll.Sketch
	a.AddString("alice")
	a.AddString("bob")
	b.AddString("carol")
	d.BucketMillis = 60_000
	d.Counts[0].Buckets = []delta.Bucket{{Start: 1_699_999_980_000, N: 1, Authors: b}, {Start: 1_700_000_040_000, N: 2, Authors: a}}
	d.Watermarks = []delta.Watermark{{Partition: 0, At: 1_699_999_990_000}, {Partition: 3, At: 1_699_999_950_000}}
	d.Late = 1
	return d
}

func TestVersion2CarriesBucketsAndWatermarks(t *testing.T) {
	b, d := roundTrip(t, trending())
	bs := d.Counts[0].Buckets
	if d.V != 2 || len(bs) != 2 || bs[1].N != 2 || math.Round(bs[1].Authors.Estimate()) != 2 || len(d.Watermarks) != 2 || d.Watermarks[1].At != 1_699_999_950_000 || d.Late != 1 {
		t.Fatalf("round trip gave %+v from %s", d, b)
	}
}

func TestVersion1StillDecodes(t *testing.T) {
	v1 := `{"v":1,"window_start":"2026-11-25T09:00:44Z","window_end":"2026-11-25T09:00:46Z","instance":"counter-7d9f-1","part":0,` +
		`"posts":1873,"posts_with_hashtags":752,"counts":[{"key":"tiktok","n":41,"spelling":"TikTok","others":{"tiktok":9,"TIKTOK":2}}]}`
	d, err := delta.Decode([]byte(v1))
	if err != nil {
		t.Fatal(err)
	}
	if d.V != 1 || d.Counts[0].N != 41 || d.Counts[0].Buckets != nil || d.Watermarks != nil {
		t.Fatalf("decoded %+v", d)
	}
}

func TestDecodeRejectsBadBuckets(t *testing.T) {
	good, _ := delta.Encode(trending())
	tests := []struct{ name, value, want string }{
		{"buckets in a version 1 delta", strings.Replace(string(good), `"v":2`, `"v":1`, 1), "version 1"},
		{"a bucket not aligned to the bucket length", strings.Replace(string(good), `"start":1700000040000`, `"start":1700000040001`, 1), "unaligned"},
		{"buckets out of order", strings.Replace(string(good), `"start":1699999980000`, `"start":1700000100000`, 1), "out of order"},
		{"buckets holding more posts than the count", strings.Replace(string(good), `"n":2,`, `"n":3,`, 1), "buckets hold"},
		{"buckets without a bucket length", strings.Replace(string(good), `"bucket_ms":60000`, `"bucket_ms":0`, 1), "without a bucket length"},
		{"a sketch that is not one", strings.Replace(string(good), `"authors":"`, `"authors":"x`, 1), "sketch"},
		{"a negative partition", strings.Replace(string(good), `"partition":3`, `"partition":-3`, 1), "partition -3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := delta.Decode([]byte(tt.value))
			if !errors.Is(err, delta.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode(%s) = %v, want ErrInvalid mentioning %q", tt.value, err, tt.want)
			}
		})
	}
}

// faceted is trending with version 3's cells and posts by language.
func faceted() delta.Delta {
	d := trending()
	d.Counts[0].Cells = cells.Of(map[string]int64{"bluesky/ja": 2, "x/und": 1})
	d.Counts[1].Cells = cells.Of(map[string]int64{"other/en": 1})
	// The second bucket's posts in two cells: two buckets of one start.
	var a, b hll.Sketch
	a.AddString("alice")
	b.AddString("bob")
	d.Counts[0].Buckets = []delta.Bucket{d.Counts[0].Buckets[0],
		{Start: 1_700_000_040_000, N: 1, Authors: a, Cell: "bluesky/ja"}, {Start: 1_700_000_040_000, N: 1, Authors: b, Cell: "x/und"}}
	d.Counts[0].Buckets[0].Cell = "bluesky/ja"
	d.Languages = []delta.Languages{
		{Start: 1_699_999_980_000, Posts: map[string]int64{"ja": 1}},
		{Start: 1_700_000_040_000, Posts: map[string]int64{"ja": 2, "und": 1, "en": 1}},
	}
	return d
}

func TestVersion3CarriesCellsAndLanguages(t *testing.T) {
	b, d := roundTrip(t, faceted())
	if d.V != 3 || d.Counts[0].Cells.Map()["bluesky/ja"] != 2 || d.Counts[0].Cells.Map()["x/und"] != 1 || len(d.Languages) != 2 || d.Languages[1].Posts["und"] != 1 ||
		len(d.Counts[0].Buckets) != 3 || d.Counts[0].Buckets[2].Cell != "x/und" {
		t.Fatalf("round trip gave %+v from %s", d, b)
	}
}

func TestVersion2StillDecodes(t *testing.T) {
	v2 := `{"v":2,"window_start":"2026-11-25T09:00:44Z","window_end":"2026-11-25T09:00:46Z","instance":"c","part":0,` +
		`"posts":3,"posts_with_hashtags":2,"counts":[{"key":"go","n":2,"spelling":"Go","buckets":[{"start":1764061200000,"n":2,"authors":"AQABwbSdhwY"}]}],` +
		`"bucket_ms":60000,"watermarks":[{"partition":0,"at":1764061205120}]}`
	d, err := delta.Decode([]byte(v2))
	if err != nil {
		t.Fatal(err)
	}
	if d.V != 2 || d.Counts[0].Cells != nil || d.Languages != nil || len(d.Counts[0].Buckets) != 1 {
		t.Fatalf("decoded %+v", d)
	}
}

func TestDecodeRejectsBadCellsAndLanguages(t *testing.T) {
	good, _ := delta.Encode(faceted())
	tests := []struct{ name, value, want string }{
		{"cells in a version 2 delta", strings.Replace(string(good), `"v":3`, `"v":2`, 1), "version 2 with posts by language"},
		{"cells that do not add up to the count", strings.Replace(string(good), `"x/und":1`, `"x/und":2`, 1), "cells hold 4 posts of 3"},
		{"a cell that is not one", strings.Replace(string(good), `"x/und":1`, `"x/qme":1`, 1), "not a language"},
		{"a cell of an unknown network", strings.Replace(string(good), `"x/und":1`, `"synthetic/und":1`, 1), "not a network"},
		{"a cell counted zero", strings.Replace(string(good), `"other/en":1`, `"other/en":0`, 1), "other/en counted 0"},
		{"languages not aligned", strings.Replace(string(good), `{"start":1700000040000,"posts"`, `{"start":1700000040001,"posts"`, 1), "unaligned"},
		{"languages out of order", strings.Replace(string(good), `{"start":1699999980000,"posts"`, `{"start":1700000100000,"posts"`, 1), "out of order"},
		{"a language written as the post had it", strings.Replace(string(good), `"ja":1}`, `"JA":1}`, 1), `language "JA"`},
		{"the fold as a language", strings.Replace(string(good), `"ja":1}`, `"other":1}`, 1), `language "other"`},
		{"a language without posts", strings.Replace(string(good), `"ja":1}`, `"ja":0}`, 1), `counted 0`},
		{"a bucket without languages", strings.Replace(string(good), `"posts":{"ja":1}`, `"posts":{}`, 1), "empty"},
		{"buckets of one start out of cell order", strings.Replace(string(good), `"cell":"x/und"`, `"cell":"bluesky/aa"`, 1), "out of order"},
		{"a bucket of a cell that is not one", strings.Replace(string(good), `"cell":"x/und"`, `"cell":"x/zz"`, 1), "not a language"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := delta.Decode([]byte(tt.value))
			if !errors.Is(err, delta.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode(%s) = %v, want ErrInvalid mentioning %q", tt.value, err, tt.want)
			}
		})
	}
}

func TestSplitPutsTheWatermarksInTheLastPart(t *testing.T) {
	d := faceted()
	for i := range 500 {
		d.Counts = append(d.Counts, delta.Count{Key: "k" + strings.Repeat("x", i%9) + string(rune('a'+i%26)), N: 1, Spelling: "s",
			Buckets: []delta.Bucket{{Start: 1_700_000_040_000, N: 1, Authors: d.Counts[0].Buckets[0].Authors}}})
	}
	parts := delta.Split(d, 4096)
	if len(parts) < 3 {
		t.Fatalf("%d parts", len(parts))
	}
	for i, p := range parts {
		b, _ := delta.Encode(p)
		if len(b) > 4096 {
			t.Errorf("part %d is %d bytes", i, len(b))
		}
		if _, err := delta.Decode(b); err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if last := i == len(parts)-1; (len(p.Watermarks) > 0) != last || (len(p.Languages) > 0) != last || p.BucketMillis != 60_000 || (p.Late > 0) != (i == 0) {
			t.Errorf("part %d of %d: watermarks %v, languages %v, bucket %d, late %d", i, len(parts), p.Watermarks, p.Languages, p.BucketMillis, p.Late)
		}
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

// summarised is faceted with version 4's authors summaries: alice posted
// the first bucket's tag twice, bob once.
func summarised() delta.Delta {
	d := faceted()
	for i := range d.Counts {
		for j := range d.Counts[i].Buckets {
			b := &d.Counts[i].Buckets[j]
			h := trend.NewHeavy(4)
			for k := range b.N {
				h.Add(uint64(1+k%2), 1)
			}
			b.Heavy = &h
		}
	}
	return d
}

func TestVersion4CarriesAuthorsSummaries(t *testing.T) {
	want := summarised()
	b, d := roundTrip(t, want)
	if d.V != 4 {
		t.Fatalf("version %d from %s", d.V, b)
	}
	for i := range want.Counts {
		for j, wb := range want.Counts[i].Buckets {
			got := d.Counts[i].Buckets[j].Heavy
			if got == nil || got.N() != wb.N || !slices.Equal(got.Top(4), wb.Heavy.Top(4)) {
				t.Fatalf("count %d bucket %d: summary %+v, want %+v (from %s)", i, j, got, wb.Heavy, b)
			}
		}
	}
	if v3, _ := delta.Encode(faceted()); !strings.HasPrefix(string(v3), `{"v":3,`) {
		t.Fatalf("a delta without summaries is not written as version 3: %s", v3)
	}
}

func TestDecodeRejectsBadSummaries(t *testing.T) {
	d := summarised()
	good, _ := delta.Encode(d)
	h := trend.NewHeavy(4)
	h.Add(7, 2)
	d.Counts[0].Buckets[1].Heavy = &h // a summary of more posts than its bucket's
	short, _ := delta.Encode(d)
	d = summarised()
	d.Counts[0].Buckets[2].Cell = ""
	d.Counts[0].Buckets[2].Start = 1_700_000_100_000
	d.Counts[0].Buckets[2].Cells = cells.Of(map[string]int64{"x/und": 1})
	withCells, _ := delta.Encode(d)
	if _, err := delta.Decode(withCells); err != nil {
		t.Fatalf("a bucket with its posts by cell: %v", err)
	}
	tests := []struct{ name, value, want string }{
		{"summaries in a version 3 delta", strings.Replace(string(good), `"v":4`, `"v":3`, 1), "version 3 with authors summaries"},
		{"a summary of another weight", string(short), "authors summary of 2 posts, bucket of 1"},
		{"a summary that is not one", strings.Replace(string(good), `"heavy":"`, `"heavy":"x`, 1), "authors summary"},
		{"a bucket's cells that do not add up", strings.Replace(string(withCells), `"cells":{"x/und":1}`, `"cells":{"x/und":2}`, 1), "cells hold 2 posts of 1"},
		{"a bucket of one cell with cells", strings.Replace(string(withCells), `"cells":{"x/und":1}`, `"cell":"x/und","cells":{"x/und":1}`, 1), `(cell "x/und")`},
	}
	for _, tt := range tests {
		if tt.value == string(good) {
			t.Fatalf("%s: the case changed nothing", tt.name)
		}
		if _, err := delta.Decode([]byte(tt.value)); !errors.Is(err, delta.ErrInvalid) && !errors.Is(err, trend.ErrInvalidSummary) || err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error mentioning %q", tt.name, err, tt.want)
		}
	}
}
