// Package report turns benchmark runs into the Markdown tables of
// docs/benchmarks.md: medians over runs per contender and workload, each
// contender's throughput as a ratio to the broker's limit measured in the
// same invocation, and the latency trials' p50/p99.
package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/hashtrend/hashtrend/bench/internal/peers"
)

// Median returns the median of xs (the lower middle for an even count is
// not used: the mean of the two middles is).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// Row is the median of one contender's runs on one workload.
type Row struct {
	Contender   string
	Runs, OK    int
	PostsPerSec float64
	Seconds     float64
	RSSMiB      float64
	CPU         float64
	Spread      float64 // (max-min)/median of posts/s, to say what was noisy
	Check       string
	Err         string
}

// Rows aggregates runs of one workload, in contender order.
func Rows(order []string, runs []peers.Run) []Row {
	var rows []Row
	for _, name := range order {
		var r Row
		r.Contender = name
		var pps, secs, rss, cpu []float64
		checks := map[string]bool{}
		for _, x := range runs {
			if x.Contender != name {
				continue
			}
			r.Runs++
			if x.Err != "" {
				r.Err = x.Err
				continue
			}
			r.OK++
			pps = append(pps, x.PostsPerSec())
			secs = append(secs, x.Seconds)
			rss = append(rss, float64(x.Usage.PeakRSS)/(1<<20))
			cpu = append(cpu, x.Usage.CPUSeconds)
			if x.Check != "" {
				checks[x.Check] = true
			}
		}
		if r.Runs == 0 {
			continue
		}
		r.PostsPerSec, r.Seconds, r.RSSMiB, r.CPU = Median(pps), Median(secs), Median(rss), Median(cpu)
		if len(pps) > 1 && r.PostsPerSec > 0 {
			lo, hi := pps[0], pps[0]
			for _, v := range pps {
				lo, hi = min(lo, v), max(hi, v)
			}
			r.Spread = (hi - lo) / r.PostsPerSec
		}
		var cs []string
		for c := range checks {
			cs = append(cs, c)
		}
		sort.Strings(cs)
		r.Check = strings.Join(cs, "; ")
		rows = append(rows, r)
	}
	return rows
}

// Throughput writes one workload's table. The first two rows whose name
// starts with "limit" are the references for the ratio columns.
func Throughput(w io.Writer, rows []Row) {
	var goLimit, perfLimit float64
	for _, r := range rows {
		switch {
		case strings.HasPrefix(r.Contender, "limit: Go") && r.OK > 0:
			goLimit = r.PostsPerSec
		case strings.HasPrefix(r.Contender, "limit: ConsumerPerformance") && r.OK > 0:
			perfLimit = r.PostsPerSec
		}
	}
	fmt.Fprintln(w, "| contender | posts/s | ÷ Go limit | ÷ ConsumerPerformance | launch → caught up | peak RSS | CPU | runs (spread) | output check |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---|---|")
	for _, r := range rows {
		if r.OK == 0 {
			fmt.Fprintf(w, "| %s | did not run | | | | | | %d failed | `%s` |\n", r.Contender, r.Runs, clean(r.Err))
			continue
		}
		check := r.Check
		if check == "" {
			check = "n/a"
		}
		if r.Err != "" {
			check += fmt.Sprintf("; %d of %d runs failed: `%s`", r.Runs-r.OK, r.Runs, clean(r.Err))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %.1f s | %.0f MiB | %.1f s | %d (±%.0f%%) | %s |\n",
			r.Contender, thousands(r.PostsPerSec), ratio(r.PostsPerSec, goLimit), ratio(r.PostsPerSec, perfLimit),
			r.Seconds, r.RSSMiB, r.CPU, r.OK, r.Spread*50, check)
	}
}

// Latencies writes the latency table: medians over runs of p50 and p99.
func Latencies(w io.Writer, order []string, ls []peers.Latency) {
	fmt.Fprintln(w, "| contender | input rate | p50 | p99 | probes seen / sent | runs |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---|")
	for _, name := range order {
		var p50, p99 []float64
		var seen, sent, runs, rate int
		var errs []string
		for _, l := range ls {
			if l.Contender != name {
				continue
			}
			runs++
			rate = l.Rate
			if l.Err != "" {
				errs = append(errs, l.Err)
				continue
			}
			p50 = append(p50, l.P50.Seconds())
			p99 = append(p99, l.P99.Seconds())
			seen += l.Seen
			sent += l.Sent
		}
		if runs == 0 {
			continue
		}
		if len(p50) == 0 {
			fmt.Fprintf(w, "| %s | %d posts/s | did not run | | | `%s` |\n", name, rate, clean(errs[0]))
			continue
		}
		note := fmt.Sprint(len(p50))
		if len(errs) > 0 {
			note += fmt.Sprintf("; %d failed: `%s`", len(errs), clean(errs[0]))
		}
		fmt.Fprintf(w, "| %s | %d posts/s | %s | %s | %d / %d | %s |\n", name, rate,
			dur(Median(p50)), dur(Median(p99)), seen, sent, note)
	}
}

func dur(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond).String()
}

func ratio(v, ref float64) string {
	if ref <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", v/ref)
}

func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// clean makes an error fit in one table cell.
func clean(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "/")
	s = strings.ReplaceAll(s, "`", "'")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
