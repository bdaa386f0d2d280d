package snapshot

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecodeAcceptsEveryVersionAndRejectsTheRest(t *testing.T) {
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
		"version 4":               strings.Replace(v1, `"v":1`, `"v":4`, 1),
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

func TestAVersion3TrendKeepsItsLifecycleAndReason(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC)
	wm, since, peakAt, from, until := start.Add(-time.Minute), start.Add(-20*time.Minute), start.Add(-5*time.Minute), start.Add(-10*time.Minute), start.Add(time.Hour)
	tr := Trend{Rank: 1, Hashtag: "Go", Key: "go", Score: 0, Observed: 9, Expected: 1, Count: 11,
		Status: Cooling, Since: &since, Peak: 64, PeakAt: &peakAt, Decayed: 40.5,
		Reason: &Reason{PostsPerAuthor: 11.0 / 9, TopAuthorsShare: 0.5, TopAuthorsShareError: 0.1, Covered: 10, From: &from,
			Sources: []Share{{"mastodon", 7}, {"bluesky", 3}}, Langs: []Share{{"en", 10}},
			Started: []Start{{"mastodon", since}, {"bluesky", peakAt}}, Authors: []int64{1, 2, 6}}}
	b, err := Encode(Snapshot{Batch: 7, WindowStart: start, WindowEnd: start.Add(2 * time.Second), Trending: []Trend{tr}, Watermark: &wm, BaselineUntil: &until})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Decode(b)
	if err != nil {
		t.Fatalf("Decode(%s): %v", b, err)
	}
	got := s.Trending[0]
	if got.Status != Cooling || !got.Since.Equal(since) || got.Peak != 64 || !got.PeakAt.Equal(peakAt) || got.Decayed != 40.5 ||
		!s.BaselineUntil.Equal(until) || got.Reason == nil || got.Reason.Sources[1] != (Share{"bluesky", 3}) ||
		!got.Reason.Started[1].Since.Equal(peakAt) || len(got.Reason.Authors) != 3 || got.Reason.TopAuthorsShareError != 0.1 {
		t.Fatalf("round trip lost fields: %s\n%+v", b, got)
	}
	v2 := strings.Replace(string(b), `"v":3`, `"v":2`, 1)
	for name, in := range map[string]string{
		"a lifecycle in a version 2":   strings.Replace(v2, `,"baseline_until":"2026-01-02T04:04:06Z"`, "", 1),
		"a baseline in a version 2":    `{"v":2,"batch":1,"window_start":"2026-01-02T03:04:06Z","window_end":"2026-01-02T03:04:08Z","top":[],"window_top":[],"posts":0,"posts_with_hashtags":0,"distinct_hashtags":0,"produced_at":"2026-01-02T03:04:08Z","baseline_until":"2026-01-02T04:04:06Z"}`,
		"an unknown status":            strings.Replace(string(b), `"status":"cooling"`, `"status":"hot"`, 1),
		"a trending row out of rank":   strings.Replace(string(b), `"rank":1,"hashtag":"Go"`, `"rank":2,"hashtag":"Go"`, 1),
		"a trending row without a key": strings.Replace(string(b), `"key":"go"`, `"key":""`, 1),
	} {
		if _, err := Decode([]byte(in)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
