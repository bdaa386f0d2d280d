package snapshot

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestFacetRecordsRoundTripAndTombstones(t *testing.T) {
	wm := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	f := Facet{Facet: "source:bluesky/lang:ja", Batch: 12, WindowEnd: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC),
		Top:      []Count{{Hashtag: "Go", Count: 9}, {Hashtag: "Kafka", Count: 9}, {Hashtag: "雪", Count: 2}},
		Trending: []Trend{{Rank: 1, Hashtag: "雪", Key: "雪", Score: 30.25, Observed: 6.5, Expected: 1, Count: 7}}, Watermark: &wm}
	b, err := EncodeFacet(f)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := DecodeFacet([]byte(f.Facet), b)
	if err != nil || !ok || got.V != FacetVersion || got.Batch != 12 || len(got.Top) != 3 || got.Top[2] != f.Top[2] || !got.WindowEnd.Equal(f.WindowEnd) ||
		len(got.Trending) != 1 || got.Trending[0] != f.Trending[0] || !got.Watermark.Equal(wm) {
		t.Fatalf("DecodeFacet(%s) = %+v, %v, %v", b, got, ok, err)
	}
	if _, ok, err := DecodeFacet([]byte("lang:de"), nil); ok || err != nil {
		t.Fatalf("a tombstone: ok %v, err %v", ok, err)
	}
}

func TestDecodeFacetRejects(t *testing.T) {
	good := `{"v":1,"facet":"lang:de","batch":3,"window_end":"2026-01-02T03:04:06Z","top":[{"hashtag":"Go","count":3},{"hashtag":"Kafka","count":1}]}`
	for _, c := range []struct{ name, key, value string }{
		{"a key that is no facet", "lang:xx", good},
		{"the global facet's key", "all", strings.Replace(good, `"lang:de"`, `"all"`, 1)},
		{"a key that is not the record's facet", "lang:ja", good},
		{"another version", "lang:de", strings.Replace(good, `"v":1`, `"v":3`, 1)},
		{"a lifecycle in a version 1 record", "lang:de", strings.Replace(good, `"top":[`, `"watermark":"2026-01-02T03:00:00Z","trending":[{"rank":1,"hashtag":"Go","key":"go","score":30,"observed":6,"expected":1,"count":7,"status":"rising"}],"top":[`, 1)},
		{"an unknown field", "lang:de", strings.Replace(good, `"batch":3`, `"batch":3,"x":1`, 1)},
		{"a row without a hashtag", "lang:de", strings.Replace(good, `"hashtag":"Kafka"`, `"hashtag":""`, 1)},
		{"a row counted zero", "lang:de", strings.Replace(good, `"count":1}`, `"count":0}`, 1)},
		{"rows out of order", "lang:de", strings.Replace(good, `"count":1}`, `"count":4}`, 1)},
		{"trailing data", "lang:de", good + "{}"},
		{"a trending row out of rank", "lang:de", strings.Replace(good, `"top":[`, `"watermark":"2026-01-02T03:00:00Z","trending":[{"rank":2,"hashtag":"Go","key":"go","score":30,"observed":6,"expected":1,"count":7}],"top":[`, 1)},
		{"a trending list without its watermark", "lang:de", strings.Replace(good, `"top":[`, `"trending":[{"rank":1,"hashtag":"Go","key":"go","score":30,"observed":6,"expected":1,"count":7}],"top":[`, 1)},
	} {
		if _, _, err := DecodeFacet([]byte(c.key), []byte(c.value)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", c.name, err)
		}
	}
	if _, ok, err := DecodeFacet([]byte("lang:de"), []byte(good)); err != nil || !ok {
		t.Fatalf("the good record: %v", err)
	}
}
