package source

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/synthetic"
)

// checkResumeAtEveryPost runs a fresh source from newSrc once, then again
// resumed from the position emitted with each post in turn, and checks
// that every resumed run emits exactly the posts after that one.
func checkResumeAtEveryPost(t *testing.T, newSrc func() Resumable) {
	t.Helper()
	full := &collector{}
	runFor(t, t.Context(), newSrc(), full.emit)
	all := full.ids()
	if len(all) < 3 {
		t.Fatalf("only %d posts to resume between", len(all))
	}
	for k, at := range full.at {
		raw, err := json.Marshal(at)
		if err != nil {
			t.Fatal(err)
		}
		src := newSrc()
		if err := src.Resume(raw); err != nil {
			t.Fatalf("resume at post %d (%s): %v", k+1, raw, err)
		}
		c := &collector{}
		runFor(t, t.Context(), src, c.emit)
		if got, want := c.ids(), all[k+1:]; !reflect.DeepEqual(got, want) && (len(got) > 0 || len(want) > 0) {
			t.Fatalf("resumed after post %d (%s): emitted %v, want %v", k+1, raw, got, want)
		}
	}
}

func TestAFileReplayResumedAfterAnyPostEmitsExactlyTheRest(t *testing.T) {
	dir := t.TempDir()
	var next int
	content := func() []byte {
		var b strings.Builder
		for range 4 {
			next++
			fmt.Fprintf(&b, "%s\n\n%s\r\n", v1Tweet(next, "post #tag"), `{"limit":{"track":3}}`)
		}
		return []byte(b.String())
	}
	writeFiles(t, dir, content, "a.jsonl", "b.jsonl.gz", "c.jsonl.bz2")
	// The last line of the plain file has no line ending.
	if err := os.WriteFile(filepath.Join(dir, "d.jsonl"), []byte(v1Tweet(100, "last")), 0o644); err != nil {
		t.Fatal(err)
	}
	log, _ := testLog()
	checkResumeAtEveryPost(t, func() Resumable {
		return &File{Paths: []string{filepath.Join(dir, "*")}, Env: Env{Metrics: testMetrics("file"), Log: log}}
	})
}

func TestAFileResumeThatDoesNotFitTheFilesIsAnError(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "a.jsonl")
	if err := os.WriteFile(rec, []byte(v1Tweet(1, "one")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, at := range []string{
		`{"pass":0,"file":"` + filepath.Join(dir, "other.jsonl") + `","offset":0,"line":0}`,
		`{"pass":0,"file":"` + rec + `","offset":100000,"line":1}`,
		`{"pass":0,"file":"` + rec + `","offset":-1,"line":0}`,
		`{"index":3}`,
		`not json`,
	} {
		f := &File{Paths: []string{rec}}
		if err := f.Resume(json.RawMessage(at)); err == nil {
			t.Errorf("Resume(%s) accepted", at)
		}
	}
}

func TestASyntheticRunResumedAfterAnyPostContinuesTheSameSequence(t *testing.T) {
	log, _ := testLog()
	cfg := synthetic.Config{Seed: 3}
	checkResumeAtEveryPost(t, func() Resumable {
		return &Synthetic{Config: cfg, Count: 40, Env: Env{Metrics: testMetrics("synthetic"), Log: log}}
	})
	if err := (&Synthetic{}).Resume(json.RawMessage(`{"index":-1}`)); err == nil {
		t.Error("a negative index accepted")
	}
}

func TestIdentityNamesTheInputNotTheRun(t *testing.T) {
	a := (&File{Paths: []string{"x/a.jsonl"}}).Identity()
	if a != (&File{Paths: []string{"x/a.jsonl"}, Rate: 5}).Identity() || a == (&File{Paths: []string{"x/b.jsonl"}}).Identity() {
		t.Errorf("file identities: %s", a)
	}
	s := (&Synthetic{Config: synthetic.Config{Seed: 1}, Count: 10}).Identity()
	if s != (&Synthetic{Config: synthetic.Config{Seed: 1}, Count: 99, Rate: 3}).Identity() ||
		s == (&Synthetic{Config: synthetic.Config{Seed: 2}}).Identity() ||
		s == (&Synthetic{Config: synthetic.Config{Seed: 1, Vocabulary: 10}}).Identity() {
		t.Errorf("synthetic identity %s", s)
	}
}

func TestASyntheticHistoryResumedMidwayGoesOnInPostTime(t *testing.T) {
	const rate, horizon = 100, 2 * time.Second
	step := time.Second / rate
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	want := int(horizon / step) // posts in [now − horizon, now) at the rate
	log, _ := testLog()
	newSrc := func() *Synthetic {
		return &Synthetic{Config: synthetic.Config{Seed: 5, WallClock: true}, Rate: rate, History: horizon,
			Now: func() time.Time { return now }, Env: Env{Metrics: testMetrics("synthetic"), Log: log}}
	}
	full := &collector{want: want + 5}
	ctx, cancel := context.WithCancel(t.Context())
	full.cancel = cancel
	runFor(t, ctx, newSrc(), full.emit)
	for j, p := range full.posts {
		at := now // the live posts: the clock
		if j < want {
			at = now.Add(-horizon + time.Duration(j)*step)
		}
		if !p.CreatedAt.Equal(at) {
			t.Fatalf("post %d created at %s, want %s (%d history posts)", j, p.CreatedAt, at, want)
		}
	}
	for _, k := range []int{0, 57, want - 1, want} {
		raw, err := json.Marshal(full.at[k])
		if err != nil {
			t.Fatal(err)
		}
		src := newSrc()
		if err := src.Resume(raw); err != nil {
			t.Fatalf("resume after post %d (%s): %v", k, raw, err)
		}
		c := &collector{want: len(full.posts) - k - 1}
		ctx, cancel := context.WithCancel(t.Context())
		c.cancel = cancel
		runFor(t, ctx, src, c.emit)
		if !reflect.DeepEqual(c.posts, full.posts[k+1:]) {
			t.Fatalf("resumed after post %d (%s): the posts differ from the uninterrupted run's", k, raw)
		}
	}
}
