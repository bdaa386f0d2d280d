package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hashtrend/hashtrend/bench/internal/measure"
	"github.com/hashtrend/hashtrend/bench/internal/peers"
	"github.com/hashtrend/hashtrend/bench/internal/report"
)

func TestMedianOfOddAndEvenCounts(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{5}, 5},
		{[]float64{9, 1, 5}, 5},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := report.Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestTableShowsMediansRatiosAndWhyAContenderDidNotRun(t *testing.T) {
	run := func(name string, secs float64, err string) peers.Run {
		return peers.Run{Contender: name, Workload: "w", Seconds: secs, Posts: 1000,
			Usage: measure.Usage{PeakRSS: 100 << 20, CPUSeconds: secs}, Err: err}
	}
	runs := []peers.Run{
		run("limit: Go consumer", 1, ""), run("limit: Go consumer", 2, ""), run("limit: Go consumer", 1, ""),
		run("counter", 4, ""), run("counter", 5, ""), run("counter", 100, ""),
		run("spark", 0, "JAVA_GATEWAY_EXITED | boom"),
	}
	rows := report.Rows([]string{"limit: Go consumer", "counter", "spark"}, runs)
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3", len(rows))
	}
	if rows[1].PostsPerSec != 200 { // median of 250, 200, 10
		t.Errorf("counter posts/s = %v, want the median 200", rows[1].PostsPerSec)
	}
	var b bytes.Buffer
	report.Throughput(&b, rows)
	out := b.String()
	for _, want := range []string{
		"| counter | 200 | 0.20 |",     // 200 of the limit's median 1000
		"| spark | did not run |",      // kept in the table
		"`JAVA_GATEWAY_EXITED / boom`", // with its error, made cell-safe
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
