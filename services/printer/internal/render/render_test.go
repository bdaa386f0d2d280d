package render_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/services/printer/internal/render"
)

var update = flag.Bool("update", false, "rewrite the golden files from the current output")

var start = time.Date(2026, 11, 25, 8, 0, 2, 0, time.UTC)

func snap(batch int64, top ...snapshot.Entry) snapshot.Snapshot {
	for i := range top {
		top[i].Rank = i + 1
		if top[i].Key == "" {
			top[i].Key = strings.ToLower(top[i].Hashtag)
		}
	}
	return snapshot.Snapshot{
		V: snapshot.Version, Batch: batch,
		WindowStart: start, WindowEnd: start.Add(2 * time.Second),
		Top: top, Posts: 1000, PostsWithTags: 250, DistinctHashtags: 75,
		ProducedAt: start.Add(2300 * time.Millisecond),
	}
}

func e(tag string, count int64) snapshot.Entry { return snapshot.Entry{Hashtag: tag, Count: count} }

func TestTableGolden(t *testing.T) {
	ties := snap(7, e("b", 5), e("a", 5), e("c", 5), e("d", 2))
	ties.Top[1].Rank, ties.Top[2].Rank = 1, 1
	windowed := snap(42, e("SMTOWN_LIVE", 106), e("EXO", 98))
	windowed.WindowTop = []snapshot.Entry{{Rank: 1, Hashtag: "EXO", Key: "exo", Count: 12}, {Rank: 2, Hashtag: "nowplaying", Key: "nowplaying", Count: 3}}
	midnight := snap(3, e("NewYear", 1))
	midnight.WindowStart = time.Date(2026, 12, 31, 23, 59, 59, 500e6, time.UTC)
	midnight.WindowEnd = midnight.WindowStart.Add(500 * time.Millisecond)
	trending := snap(1843, e("nowplaying", 90211), e("EXO", 88004))
	wm := time.Date(2026, 11, 25, 7, 59, 0, 0, time.UTC)
	trending.Watermark = &wm
	trending.Trending = []snapshot.Trend{
		{Rank: 1, Hashtag: "EclipseNow", Key: "eclipsenow", Score: 2401, Observed: 50, Expected: 1, Count: 1000},
		{Rank: 2, Hashtag: "東方神起", Key: "東方神起", Score: 32.4, Observed: 60, Expected: 34.3333, Count: 71},
		{Rank: 3, Hashtag: "AVeryLongTrendingHashtagIndeed", Key: "averylongtrendinghashtagindeed", Score: 16, Observed: 5, Expected: 1, Count: 5},
	}
	quiet := snap(1844)
	quiet.Watermark = &wm
	v1 := decode(t, `{"v":1,"batch":12,"window_start":"2026-11-25T08:00:02Z","window_end":"2026-11-25T08:00:04Z",
		"top":[{"rank":1,"hashtag":"EXO","key":"exo","count":98}],"window_top":[],
		"posts":1000,"posts_with_hashtags":250,"distinct_hashtags":75,"produced_at":"2026-11-25T08:00:04.3Z"}`)
	for _, tc := range []struct {
		name  string
		table render.Table
		s     snapshot.Snapshot
	}{
		{"empty batch draws an empty table", render.Table{Truncate: 20}, snap(0)},
		{"one row", render.Table{Truncate: 20}, snap(1, e("SMTOWN_LIVE", 106))},
		{"ties keep the order the counter ranked them in", render.Table{Truncate: 20}, ties},
		{"long tags are cut at 20 columns like show()", render.Table{Truncate: 20}, snap(9,
			e("ThisHashtagIsFarTooLongToShow", 31), e("Exactly20Characters", 30), e("Twenty1CharactersLong", 29), e("short", 1))},
		{"long tags are kept whole when truncation is off", render.Table{}, snap(9,
			e("ThisHashtagIsFarTooLongToShow", 31), e("short", 1))},
		{"a narrow truncation below four columns has no dots", render.Table{Truncate: 3}, snap(9, e("abcdef", 1))},
		{"CJK and emoji tags keep the borders aligned", render.Table{Truncate: 20}, snap(11,
			e("東方神起", 50), e("ＦＵＬＬＷＩＤＴＨ", 40), e("🎉", 30), e("👩‍💻coding", 20), e("café", 15),
			e("日本語のとても長いハッシュタグです", 10), e("🇯🇵🇯🇵🇯🇵🇯🇵🇯🇵🇯🇵🇯🇵🇯🇵🇯🇵🇯🇵", 5))},
		{"huge counts widen the count column", render.Table{Truncate: 20}, snap(math.MaxInt64,
			e("big", math.MaxInt64), e("small", 1))},
		{"control characters are shown escaped", render.Table{Truncate: 20}, snap(5, e("evil\x1b[2Jtag\nnext", 2))},
		{"the window's own top-N as a second table", render.Table{Truncate: 20, WindowTop: true}, windowed},
		{"a window across midnight with milliseconds", render.Table{Truncate: 20}, midnight},
		{"trending now under the running top-N", render.Table{Truncate: 20, Trending: true}, trending},
		{"trending with nothing rising draws an empty table", render.Table{Truncate: 20, Trending: true}, quiet},
		{"trending turned off shows the running top-N only", render.Table{Truncate: 20}, trending},
		{"a version 1 snapshot has no trending table", render.Table{Truncate: 20, Trending: true}, v1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.table.Render(&b, tc.s); err != nil {
				t.Fatal(err)
			}
			checkAligned(t, b.String())
			golden(t, b.String())
		})
	}
}

// checkAligned asserts, independently of the golden files, that every line
// of every table in out has the same display width as its borders and that
// no control character reaches the terminal.
func checkAligned(t *testing.T, out string) {
	t.Helper()
	width := -1
	for i, l := range strings.Split(out, "\n") {
		if strings.ContainsFunc(l, unicode.IsControl) {
			t.Errorf("line %d holds a control character: %q", i+1, l)
		}
		if !strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "|") {
			width = -1
			continue
		}
		if width < 0 {
			width = render.Width(l)
		}
		if w := render.Width(l); w != width {
			t.Errorf("line %d is %d columns wide, its table's border %d:\n%s", i+1, w, width, out)
		}
	}
}

func golden(t *testing.T, got string) {
	t.Helper()
	path := filepath.Join("testdata", strings.ReplaceAll(t.Name()[len("TestTableGolden/"):], " ", "_")+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (-update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func decode(t *testing.T, js string) snapshot.Snapshot {
	t.Helper()
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(js)); err != nil {
		t.Fatal(err)
	}
	s, err := snapshot.Decode(compact.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		limit    int
		want     string
	}{
		{"a short tag is kept", "#short", 20, "#short"},
		{"exactly the limit is kept", strings.Repeat("a", 20), 20, strings.Repeat("a", 20)},
		{"one over the limit keeps 17 and adds dots", strings.Repeat("a", 21), 20, strings.Repeat("a", 17) + "..."},
		{"wide characters count two columns", strings.Repeat("東", 11), 20, strings.Repeat("東", 8) + "..."},
		{"a wide character that does not fit is left out", "a" + strings.Repeat("東", 10), 20, "a" + strings.Repeat("東", 8) + "..."},
		{"a ZWJ emoji sequence is not split", strings.Repeat("👩‍💻", 11), 20, strings.Repeat("👩‍💻", 8) + "..."},
		{"combining marks stay with their letter", strings.Repeat("e\u0301", 21), 20, strings.Repeat("e\u0301", 17) + "..."},
		{"a limit below four has no dots", "abcdef", 3, "abc"},
		{"zero keeps everything", strings.Repeat("a", 50), 0, strings.Repeat("a", 50)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := render.Truncate(tc.in, tc.limit)
			if got != tc.want {
				t.Fatalf("Truncate(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
			}
			if tc.limit > 0 && render.Width(got) > tc.limit {
				t.Fatalf("Truncate(%q, %d) is %d columns wide", tc.in, tc.limit, render.Width(got))
			}
		})
	}
}

func TestWidth(t *testing.T) {
	for in, want := range map[string]int{
		"abc": 3, "東方神起": 8, "ＡＢ": 4, "🎉": 2, "👩‍💻": 2, "🇯🇵": 2, "e\u0301": 1, "☺\ufe0f": 2, "": 0,
	} {
		if got := render.Width(in); got != want {
			t.Errorf("Width(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestJSONWritesTheSnapshotAsOneLine(t *testing.T) {
	s := snap(42, e("SMTOWN_LIVE", 106), e("EXO", 98))
	var b bytes.Buffer
	if err := (render.JSON{}).Render(&b, s); err != nil {
		t.Fatal(err)
	}
	if b.Len() == 0 || bytes.Count(b.Bytes(), []byte("\n")) != 1 || b.Bytes()[b.Len()-1] != '\n' {
		t.Fatalf("not one line: %q", b.String())
	}
	var raw map[string]any
	if err := json.Unmarshal(b.Bytes(), &raw); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	back, err := snapshot.Decode(bytes.TrimSpace(b.Bytes()))
	if err != nil {
		t.Fatalf("does not decode as a snapshot: %v", err)
	}
	if back.Batch != 42 || len(back.Top) != 2 || back.Top[0].Hashtag != "SMTOWN_LIVE" || back.Top[1].Count != 98 || back.Posts != 1000 {
		t.Fatalf("round trip lost data: %+v", back)
	}
}

func TestJSONCarriesTheTrendingList(t *testing.T) {
	s := snap(43, e("EXO", 98))
	wm := start.Add(-time.Minute)
	s.Watermark = &wm
	s.Trending = []snapshot.Trend{{Rank: 1, Hashtag: "EclipseNow", Key: "eclipsenow", Score: 2401, Observed: 50, Expected: 1, Count: 1000}}
	var b bytes.Buffer
	if err := (render.JSON{}).Render(&b, s); err != nil {
		t.Fatal(err)
	}
	back, err := snapshot.Decode(bytes.TrimSpace(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if back.V != snapshot.Version || back.Watermark == nil || !back.Watermark.Equal(wm) || len(back.Trending) != 1 || back.Trending[0] != s.Trending[0] {
		t.Fatalf("trending lost on the way: %s", b.String())
	}
}

// FuzzTableAligned checks that whatever a tag holds, the table's lines stay
// as wide as its borders and no control character reaches the terminal.
func FuzzTableAligned(f *testing.F) {
	for _, s := range []string{"SMTOWN_LIVE", "東方神起", "👩‍💻coding", "e\u0301\u0301", "\x1b[31mred", "\xff\xfe", "🇯🇵🇯", "a\u200db"} {
		f.Add(s, 20)
	}
	f.Fuzz(func(t *testing.T, tag string, truncate int) {
		truncate %= 64
		var b bytes.Buffer
		if err := (render.Table{Truncate: truncate}).Render(&b, snap(1, e(tag, 3), e("x", 1))); err != nil {
			t.Fatal(err)
		}
		checkAligned(t, b.String())
	})
}
