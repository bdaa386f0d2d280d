package source

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// writeFixtures writes the same mixed v1.1/v2 lines as plain, gzip and (when
// the bzip2 tool is there) bzip2 files; it returns the glob of them.
func writeFixtures(t *testing.T) (string, int) {
	dir := t.TempDir()
	content := strings.Join([]string{
		v1Tweet(1, "v1 #one", "one"),
		`{"limit":{"track":3}}`,
		xPost(2, "v2 #two"),
		"",
		`{"data": {"id": "3", "text": "cut off`, // a recording's torn last line
	}, "\n") + "\n"
	files := writeFiles(t, dir, func() []byte { return []byte(content) }, "a.jsonl", "b.json.gz", "c.jsonl.bz2")
	return filepath.Join(dir, "*"), files
}

func TestFileReplaysPlainGzipAndBzip2LinesOfBothAPIsAndCountsTheRest(t *testing.T) {
	glob, files := writeFixtures(t)
	m := testMetrics("file")
	log, _ := testLog()
	c := &collector{}
	runFor(t, t.Context(), &File{Paths: []string{glob}, Env: Env{Metrics: m, Log: log}}, c.emit)
	var want []string
	for range files {
		want = append(want, "1", "2")
	}
	if got := c.ids(); !reflect.DeepEqual(got, want) {
		t.Fatalf("posts %v, want %v", got, want)
	}
	for kind, n := range map[string]int{"limit": files, "keep-alive": files, "malformed": files} {
		if got := testutil.ToFloat64(m.messages.WithLabelValues(kind)); got != float64(n) {
			t.Errorf("%v %s lines counted, want %d", got, kind, n)
		}
	}
}

func TestFileLoopsUntilStoppedAndPacesAtARate(t *testing.T) {
	glob, _ := writeFixtures(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	log, _ := testLog()
	c := &collector{want: 20, cancel: cancel}
	start := time.Now()
	runFor(t, ctx, &File{Paths: []string{glob}, Loop: true, Rate: 100, Env: Env{Metrics: testMetrics("file"), Log: log}}, c.emit)
	if len(c.ids()) < 20 {
		t.Fatalf("%d posts before the stop, want 20 (looping)", len(c.ids()))
	}
	// 20 posts at 100/s take at least 190 ms; this can only be slower.
	if d := time.Since(start); d < 180*time.Millisecond {
		t.Fatalf("20 posts at 100/s took %s", d)
	}
}

func TestAMissingFileIsAnError(t *testing.T) {
	log, _ := testLog()
	err := (&File{Paths: []string{filepath.Join(t.TempDir(), "nope.jsonl")}, Env: Env{Metrics: testMetrics("file"), Log: log}}).Run(t.Context(), (&collector{}).emit)
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("Run on a missing file: %v", err)
	}
}

func TestStdinReadsUntilTheInputEnds(t *testing.T) {
	log, _ := testLog()
	c := &collector{}
	in := strings.NewReader(v1Tweet(7, "from a pipe") + "\n" + xPost(8, "and v2") + "\n")
	runFor(t, t.Context(), &Stdin{In: in, Env: Env{Metrics: testMetrics("stdin"), Log: log}}, c.emit)
	if got := c.ids(); !reflect.DeepEqual(got, []string{"7", "8"}) {
		t.Fatalf("posts %v", got)
	}
}
