package rank

import (
	"math"
	"time"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
	"github.com/hashtrend/hashtrend/services/counter/internal/trend"
)

// fold chooses the languages with facets of their own: the busiest n by
// posts in the recent window of post time, [e − Recent, e) where e is the
// end of the last closed bucket, as the trending view closes them (the
// lowest of the input partitions' watermarks, package trend). The
// deltas carry each window's posts by bucket and language and the
// partitions' watermarks; a bucket that arrives closed is dropped. So the
// choice depends on the closed buckets only, never on how fast or in which
// cuts the deltas were read: a replay, a restart and a failover choose as
// an uninterrupted run did at the same watermark. Before the first bucket
// closes no language has facets of its own.
//
// It is rebuilt from the deltas topic on every assignment, or kept
// current by the warm standby, with the trending buckets (trending.go).
type fold struct {
	cfg            trend.Config
	bucket, recent int64 // ms
	n              int
	partitions     int
	marks          map[int32]int64
	closed         int64                      // end of the last closed bucket, Unix ms; 0: none
	posts          map[int64]map[string]int64 // bucket start → language → posts, from closed − recent on
	dropped        int64                      // posts whose bucket had closed when they arrived

	busyAt int64 // closed when busy was chosen
	busy   []string
}

// newFold returns a fold keeping n languages, on the buckets of cfg, for
// a posts topic of the given number of partitions.
func newFold(cfg trend.Config, n, partitions int) *fold {
	return &fold{cfg: cfg, bucket: cfg.Bucket.Milliseconds(), recent: cfg.Recent.Milliseconds(), n: n, partitions: partitions,
		marks: map[int32]int64{}, posts: map[int64]map[string]int64{}, busyAt: -1}
}

// add adds d's posts by language and then its watermarks. A delta whose
// buckets have another length is left out; false says so.
func (f *fold) add(d delta.Delta) bool {
	if d.BucketMillis == 0 && len(d.Watermarks) == 0 {
		return true // no post time: version 1, or tally's trending and facets off
	}
	if d.BucketMillis != f.bucket {
		return false
	}
	for _, l := range d.Languages {
		for lang, n := range l.Posts {
			f.addPosts(l.Start, lang, n)
		}
	}
	for _, w := range d.Watermarks {
		f.advance(w.Partition, w.At)
	}
	return true
}

func (f *fold) addPosts(bucket int64, lang string, n int64) {
	if f.closed != 0 && bucket < f.closed {
		f.dropped += n
		return
	}
	m := f.posts[bucket]
	if m == nil {
		m = map[string]int64{}
		f.posts[bucket] = m
	}
	m[lang] += n
}

// advance sets partition's watermark (Unix ms), which never moves back;
// once every partition has one, the buckets that end at or before the
// lowest are closed.
func (f *fold) advance(partition int32, at int64) {
	if at <= f.marks[partition] {
		return
	}
	f.marks[partition] = at
	if len(f.marks) < max(f.partitions, 1) {
		return
	}
	low := int64(math.MaxInt64)
	for _, w := range f.marks {
		low = min(low, w)
	}
	if e := f.cfg.BucketOf(time.UnixMilli(low)); e > f.closed {
		f.closed = e
		for b := range f.posts {
			if b < e-f.recent {
				delete(f.posts, b)
			}
		}
	}
}

// own returns the languages with facets of their own at the last closed
// bucket, and the end of that bucket (zero before one closed).
func (f *fold) own() ([]string, time.Time) {
	if f.closed == 0 {
		return nil, time.Time{}
	}
	if f.busyAt != f.closed {
		sum := map[string]int64{}
		for b, m := range f.posts {
			if b >= f.closed-f.recent && b < f.closed {
				for l, n := range m {
					sum[l] += n
				}
			}
		}
		f.busy, f.busyAt = facet.Busiest(sum, f.n), f.closed
	}
	return f.busy, time.UnixMilli(f.closed).UTC()
}
