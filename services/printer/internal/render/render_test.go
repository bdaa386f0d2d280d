package render_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
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
	lifecycle := snap(1845, e("nowplaying", 90215))
	lifecycle.Watermark = &wm
	at := func(d time.Duration) *time.Time { t := wm.Add(d); return &t }
	lifecycle.Trending = []snapshot.Trend{
		{Rank: 1, Hashtag: "EclipseNow", Key: "eclipsenow", Score: 2401, Observed: 50, Expected: 1, Count: 1000,
			Status: snapshot.Rising, Since: at(-17 * time.Minute), Peak: 2401, PeakAt: &wm, Decayed: 2401},
		{Rank: 2, Hashtag: "東方神起", Key: "東方神起", Score: 0, Observed: 12, Expected: 11.5, Count: 14,
			Status: snapshot.Cooling, Since: at(-8*time.Hour - 30*time.Second), Peak: 900, PeakAt: at(-2 * time.Hour), Decayed: 451.25},
		{Rank: 3, Hashtag: "AVeryLongTrendingHashtagIndeed", Key: "averylongtrendinghashtagindeed", Score: 60, Observed: 9, Expected: 1, Count: 9,
			Status: snapshot.Peaking, Since: at(-3 * time.Minute), Peak: 60, PeakAt: &wm, Decayed: 60},
	}
	building := snap(1846, e("nowplaying", 90216))
	building.Watermark = &wm
	until := wm.Add(14*time.Minute + 20*time.Second)
	building.BaselineUntil = &until
	buildingFromNothing := snap(3)
	yesterday := start.Add(-20 * time.Hour)
	buildingFromNothing.BaselineUntil = &yesterday
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
		{"trending with nothing rising prints nothing about it", render.Table{Truncate: 20, Trending: true}, quiet},
		{"a trend's status and since, cooling ones by their decayed score", render.Table{Truncate: 20, Trending: true}, lifecycle},
		{"a baseline still building is one line", render.Table{Truncate: 20, Trending: true}, building},
		{"a baseline on another day before any watermark gives its date", render.Table{Truncate: 20, Trending: true}, buildingFromNothing},
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

// TestJSONCarriesTheLifecycleReasonAndBaseline round-trips a snapshot
// with every field of version 3 set (and a facet record with version 2's)
// through the JSON renderer and back through the strict decoder.
func TestJSONCarriesTheLifecycleReasonAndBaseline(t *testing.T) {
	at := func(d time.Duration) *time.Time { t := start.Add(d); return &t }
	s := snap(44, e("EXO", 98))
	s.Watermark, s.BaselineUntil = at(-time.Minute), at(3*time.Minute)
	s.Trending = []snapshot.Trend{{Rank: 1, Hashtag: "EclipseNow", Key: "eclipsenow", Score: 0, Observed: 50, Expected: 1.5, Count: 1000,
		Status: snapshot.Cooling, Since: at(-40 * time.Minute), Peak: 2401, PeakAt: at(-20 * time.Minute), Decayed: 1200.5,
		Reason: &snapshot.Reason{PostsPerAuthor: 20, TopAuthorsShare: 0.42, TopAuthorsShareError: 0.01, Covered: 990, From: at(-11 * time.Minute),
			Sources: []snapshot.Share{{Name: "mastodon", Posts: 600}, {Name: "bluesky", Posts: 390}},
			Langs:   []snapshot.Share{{Name: "en", Posts: 900}, {Name: "und", Posts: 90}},
			Started: []snapshot.Start{{Network: "mastodon", Since: *at(-40 * time.Minute)}, {Network: "bluesky", Since: *at(-25 * time.Minute)}},
			Authors: []int64{0, 1, 3, 8, 20, 13, 5, 0, 0, 2}}}}
	var b bytes.Buffer
	if err := (render.JSON{}).Render(&b, s); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"status":"cooling"`, `"since":`, `"peak":2401`, `"peak_at":`, `"decayed":1200.5`, `"reason":{`, `"baseline_until":`, `"authors_per_bucket":[0,1,3,8,20,13,5,0,0,2]`, `"started":[{"network":"mastodon"`} {
		if !strings.Contains(b.String(), field) {
			t.Errorf("no %s in %s", field, b.String())
		}
	}
	back, err := snapshot.Decode(bytes.TrimSpace(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	s.V, s.WindowTop = snapshot.Version, []snapshot.Entry{} // as Encode writes them
	if !reflect.DeepEqual(back, s) {
		t.Fatalf("round trip changed the snapshot:\n got %+v\nwant %+v", back, s)
	}

	f := snapshot.Facet{Facet: "source:mastodon/lang:en", Batch: 44, WindowEnd: start, Top: []snapshot.Count{{Hashtag: "EclipseNow", Count: 600}},
		Trending: s.Trending, Watermark: s.Watermark}
	b.Reset()
	if err := (render.JSON{}).RenderFacet(&b, f); err != nil {
		t.Fatal(err)
	}
	fb, ok, err := snapshot.DecodeFacet([]byte(f.Facet), bytes.TrimSpace(b.Bytes()))
	if err != nil || !ok {
		t.Fatalf("the facet's line does not decode: %v %v", ok, err)
	}
	f.V = snapshot.FacetVersion
	if !reflect.DeepEqual(fb, f) {
		t.Fatalf("round trip changed the facet record:\n got %+v\nwant %+v", fb, f)
	}
}

// TestTrendingIsPrintedOnlyWhenItSaysSomething counts, for each state of
// the counter's trending view, the lines about trending and the tables
// the console prints: none with the view off or nothing trending, one
// line while the baseline builds, a table of as many rows as the list
// when it has entries.
func TestTrendingIsPrintedOnlyWhenItSaysSomething(t *testing.T) {
	wm := start.Add(-time.Minute)
	until := start.Add(5 * time.Minute)
	rows := []snapshot.Trend{{Rank: 1, Hashtag: "a", Key: "a", Score: 30, Observed: 6, Expected: 1, Count: 6},
		{Rank: 2, Hashtag: "b", Key: "b", Score: 26, Observed: 6, Expected: 1, Count: 7}}
	for _, tc := range []struct {
		name             string
		watermark, until *time.Time
		rows             []snapshot.Trend
		lines, tables    int // lines that speak of trending; tables drawn
		rowsShown        int
	}{
		{"the view off: no watermark, no baseline", nil, nil, nil, 0, 1, 0},
		{"nothing trends", &wm, nil, nil, 0, 1, 0},
		{"the baseline builds before any watermark", nil, &until, nil, 1, 1, 0},
		{"the baseline builds with a watermark", &wm, &until, nil, 1, 1, 0},
		{"two trends", &wm, nil, rows, 1, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := snap(5, e("x", 1))
			s.Watermark, s.BaselineUntil, s.Trending = tc.watermark, tc.until, tc.rows
			var b bytes.Buffer
			if err := (render.Table{Truncate: 20, Trending: true}).Render(&b, s); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			lines, tables, shown := 0, 0, 0
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, "trending") {
					lines++
				}
				cells := strings.Split(strings.ReplaceAll(l, " ", ""), "|")
				if len(cells) > 2 && cells[0] == "" && cells[1] == "hashtag" {
					tables++
				}
				if len(cells) > 2 && cells[0] == "" && (cells[1] == "#a" || cells[1] == "#b") {
					shown++
				}
			}
			if lines != tc.lines || tables != tc.tables || shown != tc.rowsShown {
				t.Fatalf("%d lines about trending, %d tables, %d trending rows; want %d, %d, %d:\n%s", lines, tables, shown, tc.lines, tc.tables, tc.rowsShown, out)
			}
			if tc.until != nil && !strings.Contains(out, "baseline building until "+tc.until.UTC().Format("15:04:05")+" UTC") {
				t.Fatalf("the baseline's line does not say until when:\n%s", out)
			}
		})
	}
}

// FuzzTableAligned checks that whatever a tag holds, the tables' lines stay
// as wide as their borders and no control character reaches the terminal,
// in the running top-N and in the trending table, whose status cell gets
// the same string (the decoder refuses an unknown status; the table does
// not rely on it).
func FuzzTableAligned(f *testing.F) {
	for _, s := range []string{"SMTOWN_LIVE", "東方神起", "👩‍💻coding", "e\u0301\u0301", "\x1b[31mred", "\xff\xfe", "🇯🇵🇯", "a\u200db"} {
		f.Add(s, 20)
	}
	f.Fuzz(func(t *testing.T, tag string, truncate int) {
		truncate %= 64
		s := snap(1, e(tag, 3), e("x", 1))
		wm := start.Add(-time.Minute)
		since := wm.Add(-time.Duration(len(tag)) * time.Hour)
		s.Watermark = &wm
		s.Trending = []snapshot.Trend{
			{Rank: 1, Hashtag: tag, Key: tag, Score: 99.5, Observed: 20, Expected: 1, Count: 30, Status: tag, Since: &since},
			{Rank: 2, Hashtag: "x", Key: "x", Score: 30, Observed: 6, Expected: 1, Count: 6, Status: snapshot.Rising, Since: &wm},
		}
		var b bytes.Buffer
		if err := (render.Table{Truncate: truncate, Trending: true}).Render(&b, s); err != nil {
			t.Fatal(err)
		}
		checkAligned(t, b.String())
	})
}
