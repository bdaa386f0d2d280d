// Package trend is the counter's "trending now" view: tags ranked by how
// far their distinct authors in a recent window exceed what their baseline
// predicts, Mastodon's trending-tags score at bucket granularity.
//
// Time is the post's own (created_at), cut into buckets aligned to the Unix
// epoch. Each input partition has a watermark, its newest post time minus
// an allowed lateness (Clock, in tally): a post whose bucket ended at or
// before it is late, counted in the running totals but in no bucket. The
// watermark of the whole stream is the lowest of its partitions' (Tracker,
// in rank), so a bucket is closed only when every partition has passed it,
// and the posts a closed bucket holds depend on the input alone, not on how
// fast it was read, how the partitions were spread over tally instances, or
// where a crash cut the stream. The trending list is a function of the
// closed buckets only: a recording replayed at any speed trends as live did,
// bucket for bucket.
//
// For each tag and closed bucket Tracker keeps the post count and a
// HyperLogLog sketch of the authors (package hll). At watermark W, with
// e the start of W's bucket (the end of the last closed one):
//
//	recent   = [e − Recent, e)
//	baseline = [e − Recent − Baseline, e − Recent), cut into windows as long as recent
//	observed = distinct authors in recent (estimated, at most the posts)
//	expected = mean distinct authors per baseline window, at least 1
//	score    = (observed − expected)² / expected   if observed > expected and observed ≥ Min, else 0
//
// and the list holds the tags whose score is positive and at least
// MinScore.
// Baseline windows before the stream's first bucket are left out of the
// mean (a stream younger than the horizon compares with the history it
// has); until one whole baseline window of history exists the list is
// empty. Buckets older than the horizon (Recent + Baseline) are dropped, so
// memory is bounded by the tag-buckets in the horizon.
package trend

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/hashtrend/hashtrend/services/counter/internal/hll"
)

// Config is the definition of the score.
type Config struct {
	Bucket   time.Duration // bucket length, aligned to the epoch
	Lateness time.Duration // how far behind its partition's newest post a post may be
	Recent   time.Duration // the window whose authors are observed; a multiple of Bucket
	Baseline time.Duration // the history before it; a multiple of Recent
	Min      int           // fewest distinct authors for a non-zero score
	// MinScore is the lowest score that enters the list. The score is a
	// chi-square statistic: a steady tag's observed authors vary around
	// the expected by about √expected, so its score is about 1 on average
	// and reaches 25 (five standard deviations) about once in three
	// million evaluations; a threshold keeps that noise out of the list.
	MinScore float64
}

// The counter's configuration checks the rules above at start (whole
// seconds for Bucket, multiples, Min ≥ 1, MinScore ≥ 0).

// Horizon is how far back from the watermark buckets are kept.
func (c Config) Horizon() time.Duration { return c.Recent + c.Baseline }

// BucketOf is the start of t's bucket in Unix milliseconds.
func (c Config) BucketOf(t time.Time) int64 {
	ms, b := t.UnixMilli(), c.Bucket.Milliseconds()
	q := ms / b
	if ms%b < 0 {
		q--
	}
	return q * b
}

// Clock is one input partition's watermark, kept by tally. The zero value
// has seen no post.
type Clock struct {
	Newest int64 // newest post time seen, Unix ms; 0: none
}

// Watermark is the newest post time minus the lateness, Unix ms (0 before
// the first post).
func (k Clock) Watermark(c Config) int64 {
	if k.Newest == 0 {
		return 0
	}
	return k.Newest - c.Lateness.Milliseconds()
}

// Admit moves the clock to post time t and returns t's bucket, or false
// when the post is late: its bucket ended at or before the watermark as it
// stood before this post.
func (k *Clock) Admit(c Config, t time.Time) (int64, bool) {
	b := c.BucketOf(t)
	late := k.Newest != 0 && b+c.Bucket.Milliseconds() <= k.Watermark(c)
	k.Newest = max(k.Newest, t.UnixMilli())
	return b, !late
}

// Cell is one tag's posts and authors in one bucket.
type Cell struct {
	Bucket  int64 // start, Unix ms
	Posts   int64
	Authors hll.Sketch
}

// Trend is one tag's score at a watermark.
type Trend struct {
	Key      string
	Score    float64
	Observed float64
	Expected float64
	Posts    int64 // in the recent window
}

// series is one tag's cells, oldest first.
type series struct{ cells []Cell }

// Tracker holds the buckets of the horizon and ranks the tags. It is not
// safe for concurrent use.
type Tracker struct {
	cfg        Config
	partitions int
	tags       map[string]*series
	marks      map[int32]int64 // partition → watermark, Unix ms
	first      int64           // earliest bucket ever added; 0: none
	closed     int64           // end of the last closed bucket, Unix ms; 0: none
	pruned     int64           // horizon start of the last prune
	dropped    int64           // posts of cells that arrived for closed buckets

	cacheAt  int64
	cacheTop []Trend
}

// NewTracker returns an empty tracker for a stream of the given number of
// input partitions: the stream's watermark exists once each has one.
func NewTracker(cfg Config, partitions int) *Tracker {
	return &Tracker{cfg: cfg, partitions: partitions, tags: map[string]*series{}, marks: map[int32]int64{}, cacheAt: -1}
}

// Config returns the definition in use.
func (t *Tracker) Config() Config { return t.cfg }

// Add adds posts and authors of key in the bucket starting at bucket (Unix
// ms). A cell of a bucket already closed is dropped and counted in Dropped:
// closed buckets never change.
func (t *Tracker) Add(key string, bucket, posts int64, authors *hll.Sketch) {
	if t.closed != 0 && bucket < t.closed {
		t.dropped += posts
		return
	}
	if t.first == 0 || bucket < t.first {
		t.first = bucket
	}
	s := t.tags[key]
	if s == nil {
		s = &series{}
		t.tags[key] = s
	}
	i, found := slices.BinarySearchFunc(s.cells, bucket, func(c Cell, b int64) int { return cmp.Compare(c.Bucket, b) })
	if !found {
		s.cells = slices.Insert(s.cells, i, Cell{Bucket: bucket})
	}
	c := &s.cells[i]
	c.Posts += posts
	c.Authors.Merge(authors)
}

// Dropped is the number of posts whose cells arrived after their bucket
// had closed.
func (t *Tracker) Dropped() int64 { return t.dropped }

// Advance sets partition's watermark (Unix ms); a watermark never moves
// back. Once every partition has one, buckets ending at or before the
// lowest are closed, and buckets older than the horizon are dropped.
func (t *Tracker) Advance(partition int32, watermark int64) {
	if watermark <= t.marks[partition] {
		return
	}
	t.marks[partition] = watermark
	w, ok := t.watermark()
	if !ok {
		return
	}
	if e := t.cfg.BucketOf(time.UnixMilli(w)); e > t.closed {
		t.closed = e
		t.prune()
	}
}

func (t *Tracker) watermark() (int64, bool) {
	if len(t.marks) < max(t.partitions, 1) {
		return 0, false
	}
	low := int64(math.MaxInt64)
	for _, w := range t.marks {
		low = min(low, w)
	}
	return low, true
}

// Watermark is the stream's watermark: the lowest of its partitions', and
// false until every partition has one.
func (t *Tracker) Watermark() (time.Time, bool) {
	w, ok := t.watermark()
	if !ok {
		return time.Time{}, false
	}
	return time.UnixMilli(w).UTC(), true
}

// Marks returns the partitions' watermarks (Unix ms).
func (t *Tracker) Marks() map[int32]int64 { return t.marks }

func (t *Tracker) prune() {
	from := t.closed - t.cfg.Horizon().Milliseconds()
	if from <= t.pruned {
		return
	}
	t.pruned = from
	for k, s := range t.tags {
		i := 0
		for i < len(s.cells) && s.cells[i].Bucket < from {
			i++
		}
		if i == len(s.cells) {
			delete(t.tags, k)
			continue
		}
		if i > 0 {
			s.cells = slices.Delete(s.cells, 0, i)
		}
	}
}

// Len is the number of tags with a cell in the horizon, Cells the number
// of cells.
func (t *Tracker) Len() int { return len(t.tags) }

// Cells is the number of tag-buckets held.
func (t *Tracker) Cells() int {
	n := 0
	for _, s := range t.tags {
		n += len(s.cells)
	}
	return n
}

// Top returns the n tags with the highest non-zero scores of at least
// MinScore at the stream's
// watermark, score descending, ties by key ascending, and the end of the
// last closed bucket it was computed at (zero without a watermark). The
// list depends on the closed buckets only, so it is computed once per
// closed bucket.
func (t *Tracker) Top(n int) ([]Trend, time.Time) {
	if t.closed == 0 {
		return nil, time.Time{}
	}
	if t.cacheAt != t.closed {
		t.cacheAt, t.cacheTop = t.closed, t.rank()
	}
	return t.cacheTop[:min(n, len(t.cacheTop))], time.UnixMilli(t.closed).UTC()
}

// rank scores every tag at t.closed, best first. Only tags with at least
// Min posts in the recent window can have Min authors there, so the
// others are not scored.
func (t *Tracker) rank() []Trend {
	e := t.closed
	r := t.cfg.Recent.Milliseconds()
	windows := int(t.cfg.Baseline / t.cfg.Recent)
	usable := 0 // baseline windows wholly inside the stream's history
	for j := range windows {
		if e-r*int64(j+2) >= t.first {
			usable++
		}
	}
	if usable == 0 {
		return nil
	}
	var out []Trend
	var sk hll.Sketch
	for key, s := range t.tags {
		posts := int64(0)
		i := len(s.cells)
		for i > 0 && s.cells[i-1].Bucket >= e-r {
			i--
			if s.cells[i].Bucket < e {
				posts += s.cells[i].Posts
			}
		}
		if posts < int64(t.cfg.Min) {
			continue
		}
		observed := authors(s.cells, e-r, e, posts, &sk)
		sum := 0.0
		for j := range usable {
			end := e - r*int64(j+1)
			sum += authors(s.cells, end-r, end, math.MaxInt64, &sk)
		}
		expected := max(1, sum/float64(usable))
		if observed <= expected || observed < float64(t.cfg.Min) {
			continue
		}
		d := observed - expected
		if score := d * d / expected; score >= t.cfg.MinScore {
			out = append(out, Trend{Key: key, Score: score, Observed: observed, Expected: expected, Posts: posts})
		}
	}
	slices.SortFunc(out, func(a, b Trend) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return out
}

// authors is the distinct authors of cells in [from, to), rounded, at most
// limit; sk is scratch.
func authors(cells []Cell, from, to, limit int64, sk *hll.Sketch) float64 {
	i, _ := slices.BinarySearchFunc(cells, from, func(c Cell, b int64) int { return cmp.Compare(c.Bucket, b) })
	*sk = hll.Sketch{}
	for ; i < len(cells) && cells[i].Bucket < to; i++ {
		sk.Merge(&cells[i].Authors)
	}
	return float64(min(int64(math.Round(sk.Estimate())), limit))
}

// Bytes estimates the memory held: the cells with their sketches, the
// series and their map entries.
func (t *Tracker) Bytes() int {
	n := 0
	for k, s := range t.tags {
		n += len(k) + 16 + 8 + 24 + 48 // key, map entry, pointer, series
		for i := range cap(s.cells) {
			if i < len(s.cells) {
				n += s.cells[i].Authors.Bytes() + 16
			} else {
				n += 64
			}
		}
	}
	return n
}
