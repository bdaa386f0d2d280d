package tally

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/services/counter/internal/kafkaio"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/synthetic"
	"github.com/hashtrend/hashtrend/services/counter/internal/metrics"
	"github.com/hashtrend/hashtrend/services/counter/internal/trend"
)

// TestAddKeepsNothingOfTheRecord counts every post from one buffer that
// is read into again for the next record, as the feed's chunks are, and
// then scribbles over it: the window's keys, spellings, cells, trending
// cells, posts by language and dead letters must still be those of the
// posts, counted independently here with hashtag.Of.
func TestAddKeepsNothingOfTheRecord(t *testing.T) {
	topic := "tweets"
	s := &Stage{cfg: Config{Tweets: topic, DLQ: "dlq"}, log: slog.New(slog.NewTextHandler(io.Discard, nil)), m: metrics.New(prometheus.NewRegistry()),
		counts: map[string]*tagCount{}, next: map[int32]int64{}, dedupe: newDedupe(0), cells: &facet.Cells{},
		trend: newBuckets(trend.Config{Bucket: time.Minute, Lateness: time.Hour, Recent: 10 * time.Minute, Baseline: 6 * time.Hour, Min: 5}, true, true)}
	s.trend.byCell = true
	s.trend.load([]kafkaio.Offset{{Partition: 0}})

	want := map[string]map[string]int64{} // key → spelling → count
	wantCells := map[string]map[string]int64{}
	wantLangs := map[langKey]int64{}
	sources := []string{"bluesky", "mastodon", "x", "synthetic"}
	langs := []string{"ja", "pt-BR", "qme", "", "iw", "EN"}
	buf := make([]byte, 0, 64<<10)
	for i, p := range synthetic.New(synthetic.Config{Seed: 3}).Take(3000) {
		p.Source, p.Lang = sources[i%len(sources)], langs[i%len(langs)]
		v, err := post.Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		cell := facet.CellOf(p.Source, p.Lang)
		wantLangs[langKey{p.CreatedAt.Truncate(time.Minute).UnixMilli(), cell.Language}]++
		for _, tag := range hashtag.Of(p) {
			if want[tag.Key] == nil {
				want[tag.Key] = map[string]int64{}
				wantCells[tag.Key] = map[string]int64{}
			}
			want[tag.Key][tag.Spelling]++
			wantCells[tag.Key][cell.String()]++
		}
		buf = append(append(buf[:0], p.ID...), v...)
		s.add(kafkaio.Record{Offset: int64(i), Key: buf[:len(p.ID)], Value: buf[len(p.ID):]})
	}
	invalid := []byte(`{"v":1,"id":`)
	buf = append(buf[:0], invalid...)
	s.add(kafkaio.Record{Offset: 3000, Value: buf})
	for i := range buf[:cap(buf)] {
		buf[:cap(buf)][i] = 'X'
	}

	if len(want) == 0 {
		t.Fatal("the synthetic posts have no hashtags")
	}
	if len(s.counts) != len(want) {
		t.Fatalf("%d keys counted, want %d", len(s.counts), len(want))
	}
	for key, spellings := range want {
		got := s.counts[key]
		if got == nil {
			t.Fatalf("key %q not counted; counted: %v", key, slices.Sorted(maps.Keys(s.counts)))
		}
		all := maps.Collect(got.spellings.All())
		if !maps.Equal(all, spellings) {
			t.Fatalf("key %q: spellings %v, want %v", key, all, spellings)
		}
		if cells := got.count(key).Cells.Map(); !maps.Equal(cells, wantCells[key]) {
			t.Fatalf("key %q: cells %v, want %v", key, cells, wantCells[key])
		}
	}
	if !maps.Equal(s.trend.langs, wantLangs) {
		t.Fatalf("posts by bucket and language %v, want %v", s.trend.langs, wantLangs)
	}
	cells := map[string]bool{}
	for ck := range s.trend.cells {
		cells[ck.key] = true
	}
	if !maps.Equal(cells, func() map[string]bool {
		out := map[string]bool{}
		for k := range want {
			out[k] = true
		}
		return out
	}()) {
		t.Fatalf("trending cells for %d keys, want the %d counted; e.g. %v", len(cells), len(want), slices.Sorted(maps.Keys(cells))[:3])
	}
	if len(s.dlq) != 1 || !bytes.Equal(s.dlq[0].Value, invalid) {
		t.Fatalf("dead letters %d, the first %q; want the invalid record %q", len(s.dlq), s.dlq[0].Value, invalid)
	}
}

// BenchmarkAdd is the stage's per-post work without the broker (decode,
// dedupe, hashtags, the window's counts, with trending the buckets too,
// with facets the cells) over synthetic posts of seed 1, the benchmarks'
// input, spread over 6 partitions, 4 networks and 24 languages, with the
// default dedupe horizon and trending settings.
// Every pass over the posts starts a new window and new horizons.
func BenchmarkAdd(b *testing.B) {
	const parts, n = 6, 60_000
	msgs := make([]kafkaio.Record, n)
	networks := []string{"bluesky", "mastodon", "x", "twitter"}
	langs := []string{"en", "ja", "de", "pt-BR", "es", "fr", "ko", "nl", "it", "tr", "ru", "pl", "sv", "fi", "th", "uk", "ar", "fa", "id", "zh", "ca", "cs", "da", "el"}
	for i, p := range synthetic.New(synthetic.Config{Seed: 1}).Take(n) {
		// Every network and language, so that busy keys are in every cell.
		p.Source, p.Lang = networks[i%len(networks)], langs[(i/len(networks))%len(langs)]
		v, err := post.Encode(p)
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = kafkaio.Record{Partition: int32(i % parts), Offset: int64(i / parts), Key: []byte(p.ID), Value: v}
	}
	for _, c := range []struct{ trending, facets, byCell bool }{{false, false, false}, {true, false, false}, {false, true, false}, {true, true, false}, {true, true, true}} {
		b.Run(fmt.Sprintf("trending=%v/facets=%v/by-cell=%v", c.trending, c.facets, c.byCell), func(b *testing.B) {
			s := &Stage{log: slog.New(slog.NewTextHandler(io.Discard, nil)), m: metrics.New(prometheus.NewRegistry()),
				counts: map[string]*tagCount{}, next: map[int32]int64{}}
			if c.trending || c.facets {
				s.trend = newBuckets(trend.Config{Bucket: time.Minute, Lateness: time.Minute, Recent: 10 * time.Minute, Baseline: 6 * time.Hour, Min: 5}, c.trending, c.facets)
			}
			if c.facets {
				s.cells = &facet.Cells{}
			}
			if c.byCell {
				s.trend.byCell = true
			}
			fresh := func() {
				s.reset()
				s.dedupe = newDedupe(100_000)
				var tps []kafkaio.Offset
				for p := range int32(parts) {
					tps = append(tps, kafkaio.Offset{Partition: p})
				}
				s.dedupe.from(tps)
				if s.trend != nil {
					s.trend.load(tps)
				}
			}
			fresh()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if i%n == 0 && i > 0 {
					b.StopTimer()
					fresh()
					b.StartTimer()
				}
				s.add(msgs[i%n])
			}
			b.StopTimer()
			if s.posts == 0 || s.dups != 0 || len(s.dlq) != 0 {
				b.Fatalf("posts %d, duplicates %d, invalid %d", s.posts, s.dups, len(s.dlq))
			}
		})
	}
}
