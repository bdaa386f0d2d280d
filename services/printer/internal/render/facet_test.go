package render_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/services/printer/internal/render"
)

func TestAFacetsTablesWithAndWithoutTrending(t *testing.T) {
	wm := start.Add(-time.Minute)
	f := snapshot.Facet{Facet: "source:bluesky/lang:ja", Batch: 7, WindowEnd: start,
		Top:      []snapshot.Count{{Hashtag: "雪", Count: 41}, {Hashtag: "AVeryLongTrendingHashtag", Count: 3}},
		Trending: []snapshot.Trend{{Rank: 1, Hashtag: "雪", Key: "雪", Score: 32.4, Observed: 60, Expected: 34.3, Count: 71}}, Watermark: &wm}
	var b strings.Builder
	if err := (render.Table{Truncate: 20, Trending: true}).RenderFacet(&b, f); err != nil {
		t.Fatal(err)
	}
	want := `-------------------------------------------
Batch: 7   source:bluesky/lang:ja   as of 2026-11-25 08:00:02.000 UTC
-------------------------------------------
+--------------------+-----+
|             hashtag|count|
+--------------------+-----+
|                 #雪|   41|
|#AVeryLongTrendin...|    3|
+--------------------+-----+
trending now (posts up to 2026-11-25 07:59:02 UTC):
+-------+-----+-------+--------+-----+
|hashtag|score|authors|expected|posts|
+-------+-----+-------+--------+-----+
|    #雪| 32.4|     60|    34.3|   71|
+-------+-----+-------+--------+-----+

`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := (render.Table{Truncate: 20}).RenderFacet(&b, f); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "trending") {
		t.Fatalf("the trending table with PRINTER_TRENDING=false:\n%s", b.String())
	}
}
