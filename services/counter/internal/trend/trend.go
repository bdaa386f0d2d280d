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
//
// # Lifecycle
//
// A Lifecycle attached to the Tracker follows its list from one bucket
// end to the next, every closed bucket end in order, so that a watermark
// that closes several buckets at once steps it as many times. With s a
// tag's score at the bucket end e:
//
//   - A tag not listed enters when s > 0 and s ≥ MinScore (it is in Top's
//     list). An episode begins: since = e, peak P = s, reached at p = e.
//   - A listed tag's peak P is its highest score of the episode, reached at
//     bucket end p (the first on a tie); decayed = P·2^(−(e−p)/HalfLife);
//     its value, the list's order, is max(s, decayed), ties by key.
//   - Its status is rising when s is above the episode's peak so far (a new
//     peak, the first bucket end included), else peaking when s ≥
//     Peaking·P, else cooling: below the band, fallen from its peak. The
//     status follows the level against the peak, not the change since the
//     last bucket, so a noisy score does not flicker between rising and
//     cooling: a cooling tag that climbs back into the band is peaking
//     again, past its peak rising.
//   - A listed tag leaves when it would not enter on its score (s = 0 or
//     s < MinScore) and its decayed peak is below the floor,
//     max(MinScore, 1). Coming back later begins a new episode, with a
//     new since.
//
// Everything is in post time and a function of the closed buckets, so a
// replay at any speed gives the same lifecycles. Its state (Encode,
// DecodeLifecycle) is checkpointed with rank's, as the deltas the buckets
// are rebuilt from do not reach back to a long episode's since.
//
// # Reasons
//
// Reasons keeps, for each candidate (a tag with a positive score or
// listed), who posted it and where over the recent window, from the
// details (Detail: an authors summary, Heavy, and posts per network and
// language) that come beside the cells; Tracker.Reason adds the figures
// and the authors per bucket. A tag's details are kept only while it is a
// candidate, so a reason covers the buckets since it became one, at most
// the recent window.
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
	cacheTop []Trend // the scores of at least MinScore at cacheAt

	life *Lifecycle // stepped at every closed bucket end; nil: none
	why  *Reasons   // the candidates' details; nil: none
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
		if t.life == nil && t.why == nil {
			t.closed = e
			t.prune()
			return
		}
		t.closeTo(e)
	}
}

// Attach makes t step l at every bucket end it closes and keep r's
// candidates' details; either may be nil. A lifecycle restored from a
// checkpoint (DecodeLifecycle) is attached to a tracker that then
// replays the deltas from the beginning, as rank's rebuild does: the
// bucket ends up to the lifecycle's At do not step it again, and those of
// the last Recent before it give r the candidates that the uninterrupted
// run had, from the rebuilt scores and the lifecycle's MemberAt. Attach
// replaces what was attached: a standby's tracker takes each lifecycle
// checkpoint of its owner this way.
func (t *Tracker) Attach(l *Lifecycle, r *Reasons) { t.life, t.why = l, r }

// Lifecycle returns the attached lifecycle, nil without one.
func (t *Tracker) Lifecycle() *Lifecycle { return t.life }

// Reasons returns the attached reasons, nil without them.
func (t *Tracker) Reasons() *Reasons { return t.why }

// Closed is the end of the last closed bucket (zero before the first).
func (t *Tracker) Closed() time.Time {
	if t.closed == 0 {
		return time.Time{}
	}
	return time.UnixMilli(t.closed).UTC()
}

// closeTo closes every bucket up to the end e, one bucket end at a time,
// so that the lifecycle and the reasons see each one whatever the
// watermark's steps. The first close starts after the earliest bucket
// held or the lifecycle's last bucket end, whichever is earlier; while
// nothing at all is held, the bucket ends in between are skipped.
func (t *Tracker) closeTo(e int64) {
	b := t.cfg.Bucket.Milliseconds()
	next := t.closed
	if next == 0 {
		next = e - b
		if t.first != 0 {
			next = min(next, t.first)
		}
		if t.life != nil && t.life.at > 0 {
			next = min(next, t.life.at)
		}
	}
	for next < e {
		next += b
		if t.idle() {
			next = e
		}
		t.closed = next
		t.prune()
		t.step(next)
	}
}

// idle says nothing is held that a bucket end would change.
func (t *Tracker) idle() bool {
	return len(t.tags) == 0 && (t.life == nil || t.life.idle()) && (t.why == nil || t.why.idle())
}

// step scores the tags at the bucket end e (t.closed) when the lifecycle
// has not seen e, or the reasons need e's candidates (in the last Recent
// before the lifecycle's At, or always without one), and hands them on.
func (t *Tracker) step(e int64) {
	l, r := t.life, t.why
	recent := t.cfg.Recent.Milliseconds()
	stepLife := l != nil && e > l.at
	explain := r != nil && (l == nil || e > l.at-recent)
	if !stepLife && !explain {
		if r != nil {
			r.close(e, t.cfg.Bucket.Milliseconds(), recent, nil)
		}
		return
	}
	all := t.scores(e)
	t.setCache(e, all)
	scored := make(map[string]bool, len(all))
	for _, tr := range all {
		scored[tr.Key] = true
	}
	if stepLife {
		in := all[:len(all):len(all)]
		var sk hll.Sketch
		usable := t.usable(e)
		for key := range l.eps {
			if !scored[key] {
				in = append(in, t.figures(key, t.tags[key], e, usable, &sk))
			}
		}
		l.Step(e, in)
	}
	if r != nil {
		cands := make([]string, 0, len(all))
		for _, tr := range all {
			cands = append(cands, tr.Key)
		}
		if l != nil {
			cands = append(cands, l.membersAt(e)...)
		}
		r.close(e, t.cfg.Bucket.Milliseconds(), recent, cands)
	}
}

// AddDetail adds the details of key's posts in the bucket starting at
// bucket (Unix ms) to the attached reasons; without them, or when the
// bucket is closed, they are dropped.
func (t *Tracker) AddDetail(key string, bucket int64, d *Detail) {
	if t.why != nil {
		t.why.add(key, bucket, d, t.closed)
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
		t.setCache(t.closed, t.scores(t.closed))
	}
	return t.cacheTop[:min(n, len(t.cacheTop))], time.UnixMilli(t.closed).UTC()
}

// setCache keeps Top's list at e from all the positive scores there.
func (t *Tracker) setCache(e int64, all []Trend) {
	t.cacheAt, t.cacheTop = e, nil
	for _, tr := range all {
		if tr.Score >= t.cfg.MinScore {
			t.cacheTop = append(t.cacheTop, tr)
		}
	}
}

// Trending returns the first n rows of the attached lifecycle's list and
// the bucket end it is at; nil and zero without a lifecycle or before its
// first bucket end.
func (t *Tracker) Trending(n int) ([]Entry, time.Time) {
	if t.life == nil || t.life.at == 0 {
		return nil, time.Time{}
	}
	return t.life.List(n), t.life.At()
}

// BaselineUntil is the first bucket end at which a list can exist, while
// the last closed bucket is before it: the end at which one whole
// baseline window lies in the stream's history (usable), two recent
// windows after the earliest bucket held. False once it is reached, and
// before any bucket is held.
func (t *Tracker) BaselineUntil() (time.Time, bool) {
	if t.first == 0 {
		return time.Time{}, false
	}
	from := t.first + 2*t.cfg.Recent.Milliseconds()
	if t.closed >= from {
		return time.Time{}, false
	}
	return time.UnixMilli(from).UTC(), true
}

// usable is the number of baseline windows wholly inside the stream's
// history at the bucket end e.
func (t *Tracker) usable(e int64) int {
	r := t.cfg.Recent.Milliseconds()
	n := 0
	for j := range int(t.cfg.Baseline / t.cfg.Recent) {
		if e-r*int64(j+2) >= t.first {
			n++
		}
	}
	return n
}

// scores scores every tag at the bucket end e and returns those with a
// positive score, best first, ties by key. Only tags with at least Min
// posts in the recent window can have Min authors there, so the others
// are not scored.
func (t *Tracker) scores(e int64) []Trend {
	usable := t.usable(e)
	if usable == 0 || t.first == 0 {
		return nil
	}
	var out []Trend
	var sk hll.Sketch
	for key, s := range t.tags {
		if recentPosts(s, e, t.cfg.Recent.Milliseconds()) < int64(t.cfg.Min) {
			continue
		}
		if tr := t.figures(key, s, e, usable, &sk); tr.Score > 0 {
			out = append(out, tr)
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

// recentPosts is the posts of s in the recent window before e.
func recentPosts(s *series, e, r int64) int64 {
	posts := int64(0)
	for i := len(s.cells); i > 0 && s.cells[i-1].Bucket >= e-r; i-- {
		if s.cells[i-1].Bucket < e {
			posts += s.cells[i-1].Posts
		}
	}
	return posts
}

// figures is key's Trend at the bucket end e with usable baseline
// windows: its score when it scores, else 0 with its figures (expected 1
// without a usable window); s may be nil (no cell in the horizon). sk is
// scratch.
func (t *Tracker) figures(key string, s *series, e int64, usable int, sk *hll.Sketch) Trend {
	tr := Trend{Key: key, Expected: 1}
	if s == nil {
		return tr
	}
	r := t.cfg.Recent.Milliseconds()
	tr.Posts = recentPosts(s, e, r)
	tr.Observed = authors(s.cells, e-r, e, tr.Posts, sk)
	if usable == 0 {
		return tr
	}
	sum := 0.0
	for j := range usable {
		end := e - r*int64(j+1)
		sum += authors(s.cells, end-r, end, math.MaxInt64, sk)
	}
	tr.Expected = max(1, sum/float64(usable))
	if tr.Observed > tr.Expected && tr.Observed >= float64(t.cfg.Min) {
		d := tr.Observed - tr.Expected
		tr.Score = d * d / tr.Expected
	}
	return tr
}

// Reason says why key trends at the end of the last closed bucket: its
// figures and its authors per bucket from the cells, the rest from the
// attached reasons' details when it is a candidate. False when nothing is
// known of key: no cell in the horizon and no details.
func (t *Tracker) Reason(key string) (Reason, bool) {
	if t.closed == 0 {
		return Reason{}, false
	}
	e, r, b := t.closed, t.cfg.Recent.Milliseconds(), t.cfg.Bucket.Milliseconds()
	s := t.tags[key]
	var out Reason
	explained := t.why != nil && t.why.explain(key, e, r, &out)
	if s == nil && !explained {
		return Reason{}, false
	}
	var sk hll.Sketch
	tr := t.figures(key, s, e, t.usable(e), &sk)
	out.Observed, out.Expected, out.Posts = tr.Observed, tr.Expected, tr.Posts
	if tr.Observed > 0 {
		out.PostsPerAuthor = float64(tr.Posts) / tr.Observed
	}
	out.Authors = make([]int64, r/b)
	if s != nil {
		for i := range out.Authors {
			from := e - r + int64(i)*b
			c, found := slices.BinarySearchFunc(s.cells, from, func(c Cell, b int64) int { return cmp.Compare(c.Bucket, b) })
			if found {
				out.Authors[i] = int64(authors(s.cells[c:c+1], from, from+b, s.cells[c].Posts, &sk))
			}
		}
	}
	return out, true
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
	if t.why != nil {
		n += t.why.Bytes()
	}
	return n
}
