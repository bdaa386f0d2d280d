package snapshot

import (
	"strings"
	"testing"
	"time"
)

func TestDecodeAcceptsBothVersionsAndRejectsTheRest(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC)
	wm := start.Add(-time.Minute)
	cur, err := Encode(Snapshot{Batch: 7, WindowStart: start, WindowEnd: start.Add(2 * time.Second),
		Trending: []Trend{{Rank: 1, Hashtag: "Go", Key: "go", Score: 12.5, Observed: 9, Expected: 1, Count: 11}}, Watermark: &wm})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Decode(cur)
	if err != nil {
		t.Fatalf("current version: %v", err)
	}
	if s.V != Version || len(s.Trending) != 1 || s.Trending[0].Observed != 9 || !s.Watermark.Equal(wm) {
		t.Fatalf("round trip lost fields: %+v", s)
	}
	v1 := `{"v":1,"batch":1,"window_start":"2026-01-02T03:04:06Z","window_end":"2026-01-02T03:04:08Z","top":[],"window_top":[],"posts":0,"posts_with_hashtags":0,"distinct_hashtags":0,"produced_at":"2026-01-02T03:04:08Z"}`
	if s, err := Decode([]byte(v1)); err != nil || s.Trending != nil {
		t.Fatalf("version 1: %+v, %v", s, err)
	}
	for name, in := range map[string]string{
		"version 3":               strings.Replace(v1, `"v":1`, `"v":3`, 1),
		"version 0":               strings.Replace(v1, `"v":1`, `"v":0`, 1),
		"trending in a version 1": strings.Replace(v1, `"top":[]`, `"trending":[],"top":[]`, 1),
		"an unknown field":        strings.Replace(v1, `"top":[]`, `"tops":[],"top":[]`, 1),
		"trailing data":           v1 + `{}`,
	} {
		if _, err := Decode([]byte(in)); err == nil {
			t.Errorf("%s: decoded without an error", name)
		}
	}
}
