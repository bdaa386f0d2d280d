package rank

import (
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/pkg/strict"
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
	"github.com/hashtrend/hashtrend/services/counter/internal/state"
)

// benchSizes are the distinct hashtags of the table benchmarks;
// BENCH_TAGS_10M=1 adds 10,000,000 (about 2 GiB for the plain map).
func benchSizes() []int {
	sizes := []int{10_000, 1_000_000}
	if os.Getenv("BENCH_TAGS_10M") == "1" {
		sizes = append(sizes, 10_000_000)
	}
	return sizes
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func gcCycles() uint32 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.NumGC
}

// records are n state records as rank writes them: key tag<i>, spelled
// Tag<i>, every hundredth with a second spelling.
func records(n int) (keys, values [][]byte) {
	for i := range n {
		k := fmt.Appendf(nil, "tag%08d", i)
		t := state.Total{Count: int64(1 + i%1000), Spelling: fmt.Sprintf("Tag%08d", i)}
		if i%100 == 0 {
			t.Count++
			t.Others = map[string]int64{fmt.Sprintf("TAG%08d", i): 1}
		}
		v, _ := state.EncodeTotal(t)
		keys, values = append(keys, k), append(values, v)
	}
	return keys, values
}

// BenchmarkTableRestore decodes and loads n state records into a Table and
// into the plain map of hashtag.Spellings rank held before (the
// baseline), and reports the live heap per hashtag and the collections
// the load caused.
func BenchmarkTableRestore(b *testing.B) {
	for _, n := range benchSizes() {
		keys, values := records(n)
		b.Run(fmt.Sprintf("table/tags=%d", n), func(b *testing.B) {
			var heap uint64
			for b.Loop() {
				before, gcs := liveHeap(), gcCycles()
				tb := NewTable()
				for i := range keys {
					r, err := state.DecodeRecord(keys[i], values[i])
					if err != nil {
						b.Fatal(err)
					}
					_ = tb.Restore(r)
				}
				b.ReportMetric(float64(gcCycles()-gcs), "gc/op")
				heap = liveHeap() - before
				runtime.KeepAlive(tb)
			}
			b.ReportMetric(float64(heap)/float64(n), "heap-B/tag")
		})
		b.Run(fmt.Sprintf("plain-map-baseline/tags=%d", n), func(b *testing.B) {
			var heap uint64
			for b.Loop() {
				before, gcs := liveHeap(), gcCycles()
				m := map[string]*hashtag.Spellings{}
				for i := range keys {
					var t state.Total
					if err := strict.Decode(values[i], &t, &t.V, state.Version, state.Version, state.ErrInvalid); err != nil {
						b.Fatal(err)
					}
					sp := &hashtag.Spellings{}
					sp.AddOthers(t.Count, t.Spelling, t.Others)
					m[string(keys[i])] = sp
				}
				b.ReportMetric(float64(gcCycles()-gcs), "gc/op")
				heap = liveHeap() - before
				runtime.KeepAlive(m)
			}
			b.ReportMetric(float64(heap)/float64(n), "heap-B/tag")
		})
	}
}

// BenchmarkTableWindow is one window's work on a table of n hashtags: a
// delta of 1,000 changed keys applied, the top 10 and the window's top 10
// taken, the changed totals listed, the window closed. Its cost must not
// grow with n. The baseline finds the top 10 by looking at every hashtag
// each window, as a table without the maintained lead would.
func BenchmarkTableWindow(b *testing.B) {
	for _, n := range benchSizes() {
		tb := NewTable()
		keys, values := records(n)
		for i := range keys {
			r, _ := state.DecodeRecord(keys[i], values[i])
			_ = tb.Restore(r)
		}
		keys, values = nil, nil
		// 64 windows of deltas, built before the clock runs.
		deltas := make([]delta.Delta, 64)
		for w := range deltas {
			deltas[w] = delta.Delta{Posts: 1000}
			for j := range 1000 {
				k := fmt.Sprintf("tag%08d", (w*7919+j*104729)%n)
				deltas[w].Counts = append(deltas[w].Counts, delta.Count{Key: k, N: int64(1 + j%3), Spelling: k})
			}
		}
		window := func(w int, scan bool) {
			tb.Apply(deltas[w%len(deltas)])
			if scan {
				tb.stale = true
			}
			tb.Top(10)
			tb.WindowTop(10)
			_ = tb.Changed(func(string, state.Total) error { return nil })
			tb.Published(int64(w))
		}
		tb.Top(10)
		b.Run(fmt.Sprintf("table/tags=%d", n), func(b *testing.B) {
			w := 0
			for b.Loop() {
				window(w, false)
				w++
			}
		})
		b.Run(fmt.Sprintf("scan-every-tag-baseline/tags=%d", n), func(b *testing.B) {
			w := 0
			for b.Loop() {
				window(w, true)
				w++
			}
		})
		runtime.KeepAlive(tb)
	}
}
