package trend

import (
	"cmp"
	"maps"
	"slices"
	"time"
)

// Origin is where posts came from: a network (the post's source) and a
// language.
type Origin struct {
	Source string
	Lang   string
}

// Detail is who posted a tag in one bucket and where: the input of the
// reason beside a Cell, an authors summary fed with each post's author
// hash (the one the author sketch takes) and the posts per network and
// language. tally would write it per network and language (Part), rank
// would merge the parts of each facet (DetailOf) and add them to the
// facet's tracker (Tracker.AddDetail), which merges those of every delta.
type Detail struct {
	Authors Heavy
	Origins map[Origin]int64
}

// Add counts one post of author (its hash) from origin o.
func (d *Detail) Add(author uint64, o Origin) {
	d.Authors.Add(author, 1)
	if d.Origins == nil {
		d.Origins = map[Origin]int64{}
	}
	d.Origins[o]++
}

// Merge adds o's posts into d; d shares nothing with o afterwards.
func (d *Detail) Merge(o *Detail) {
	d.Authors.Merge(&o.Authors)
	if len(o.Origins) > 0 && d.Origins == nil {
		d.Origins = make(map[Origin]int64, len(o.Origins))
	}
	for k, n := range o.Origins {
		d.Origins[k] += n
	}
}

// Part is a tag's posts in one bucket from one network in one language,
// with their authors (Authors.N() is the posts): the unit a delta would
// carry, so that every facet (all, source:X, lang:Y, source:X/lang:Y)
// gets its own details by merging the parts it holds (DetailOf).
type Part struct {
	Origin
	Authors Heavy
}

// DetailOf merges the parts that in holds (nil: every part) into one
// Detail, the details of a facet's tag in the bucket, with summaries of
// k counters; false when no part is in the facet.
func DetailOf(parts []Part, in func(Origin) bool, k int) (Detail, bool) {
	d := Detail{Authors: NewHeavy(k)}
	for i := range parts {
		p := &parts[i]
		if in != nil && !in(p.Origin) || p.Authors.N() == 0 {
			continue
		}
		d.Authors.Merge(&p.Authors)
		if d.Origins == nil {
			d.Origins = map[Origin]int64{}
		}
		d.Origins[p.Origin] += p.Authors.N()
	}
	return d, d.Origins != nil
}

// Share is posts from one network or in one language.
type Share struct {
	Name  string
	Posts int64
}

// Reason is why a tag trends, at the end of the last closed bucket.
type Reason struct {
	Observed float64 // distinct authors in the recent window (estimated)
	Expected float64 // what the baseline predicts, at least 1
	Posts    int64   // in the recent window
	// PostsPerAuthor is Posts/Observed: about 1 when each author posts the
	// tag once, far above when a few flood it (0 without authors).
	PostsPerAuthor float64
	// Authors is the distinct authors per bucket over the recent window,
	// oldest first, one per bucket (a sparkline).
	Authors []int64

	// The rest comes from the details kept since the tag became a
	// candidate (a positive score or listed), at most the recent window:
	// From is the first bucket they cover (zero without any) and Covered
	// their posts, which fall short of Posts while the tag has been a
	// candidate for less than the recent window.
	From    time.Time
	Covered int64
	// The share of the covered posts from the tag's TopAuthors most
	// active authors (a flood signal) is at least TopShareLow and at most
	// TopShareHigh; the two differ by at most TopAuthors/(K+1) for
	// summaries of K counters (Heavy), and not at all while the tag has
	// no more than K authors. TopShareHigh is the one to show: it is
	// Space-Saving's estimate, the closer of the two.
	TopShareLow, TopShareHigh float64
	// Sources and Langs are the covered posts per network and per
	// language, most first, ties by name.
	Sources, Langs []Share
}

// Reasons keeps the details of a facet's trending candidates: the tags
// with a positive score or in the list at the last bucket end, not every
// tag. Details of the buckets not yet closed are held for every tag (a
// bucket's candidates are known only when it closes); at a bucket end
// those of the candidates move into the candidates' windows and the rest
// are dropped. A tag that stops being a candidate loses its window, one
// that becomes one starts from the bucket just closed. So the memory is
// K counters per tag in the open buckets, and per candidate and bucket
// of the recent window. A Tracker feeds it (Attach); it is not safe for
// concurrent use.
type Reasons struct {
	k       int
	open    map[int64]map[string]*Detail // bucket start → key → details
	cands   map[string]*candidate
	dropped int64 // posts of details that came for closed buckets
}

// candidate is one candidate's details, a bucket each, oldest first,
// since from (the first bucket closed while it was one).
type candidate struct {
	from    int64
	buckets []held
}

type held struct {
	bucket int64
	d      Detail
}

// NewReasons returns an empty keeper whose summaries have k counters
// (DefaultCounters when k < 1).
func NewReasons(k int) *Reasons {
	if k < 1 {
		k = DefaultCounters
	}
	return &Reasons{k: k, open: map[int64]map[string]*Detail{}, cands: map[string]*candidate{}}
}

// Dropped is the number of posts whose details came after their bucket had
// closed.
func (r *Reasons) Dropped() int64 { return r.dropped }

// Candidates is the number of candidates.
func (r *Reasons) Candidates() int { return len(r.cands) }

// add merges d into key's details in bucket, unless that bucket is closed
// (closed: the end of the last closed one).
func (r *Reasons) add(key string, bucket int64, d *Detail, closed int64) {
	if closed != 0 && bucket < closed {
		r.dropped += d.Authors.N()
		return
	}
	m := r.open[bucket]
	if m == nil {
		m = map[string]*Detail{}
		r.open[bucket] = m
	}
	x := m[key]
	if x == nil {
		x = &Detail{Authors: NewHeavy(r.k)}
		m[key] = x
	}
	x.Merge(d)
}

// close ends the bucket [end−bucket, end): the candidates at end keep its
// details, every window drops the buckets before end−recent, and tags no
// longer candidates are forgotten.
func (r *Reasons) close(end, bucket, recent int64, cands []string) {
	b := end - bucket
	set := make(map[string]struct{}, len(cands))
	for _, key := range cands {
		set[key] = struct{}{}
	}
	open := r.open[b]
	for key := range set {
		c := r.cands[key]
		if c == nil {
			c = &candidate{from: b}
			r.cands[key] = c
		}
		if d := open[key]; d != nil {
			c.buckets = append(c.buckets, held{b, *d})
		}
	}
	for key, c := range r.cands {
		if _, ok := set[key]; !ok {
			delete(r.cands, key)
			continue
		}
		i := 0
		for i < len(c.buckets) && c.buckets[i].bucket < end-recent {
			i++
		}
		c.buckets = slices.Delete(c.buckets, 0, i)
	}
	for bk := range r.open {
		if bk <= b {
			delete(r.open, bk)
		}
	}
}

// idle says nothing is held.
func (r *Reasons) idle() bool { return len(r.cands) == 0 && len(r.open) == 0 }

// explain fills the parts of a reason that come from key's details at
// bucket end end.
func (r *Reasons) explain(key string, end, recent int64, out *Reason) bool {
	c := r.cands[key]
	if c == nil {
		return false
	}
	out.From = time.UnixMilli(max(c.from, end-recent)).UTC()
	authors := NewHeavy(r.k)
	sources, langs := map[string]int64{}, map[string]int64{}
	for i := range c.buckets {
		d := &c.buckets[i].d
		authors.Merge(&d.Authors)
		for o, n := range d.Origins {
			sources[o.Source] += n
			langs[o.Lang] += n
		}
	}
	out.Covered = authors.N()
	out.TopShareLow, out.TopShareHigh = authors.TopShare(TopAuthors)
	out.Sources, out.Langs = shares(sources), shares(langs)
	return true
}

// shares is m as a list, most posts first, ties by name.
func shares(m map[string]int64) []Share {
	out := make([]Share, 0, len(m))
	for _, name := range slices.Sorted(maps.Keys(m)) {
		out = append(out, Share{name, m[name]})
	}
	slices.SortStableFunc(out, func(a, b Share) int { return cmp.Compare(b.Posts, a.Posts) })
	return out
}

// Bytes estimates the memory held.
func (r *Reasons) Bytes() int {
	n := 0
	detail := func(d *Detail) int { return d.Authors.Bytes() + 48 + 48*len(d.Origins) }
	for _, m := range r.open {
		for k, d := range m {
			n += len(k) + 16 + 8 + detail(d)
		}
	}
	for k, c := range r.cands {
		n += len(k) + 16 + 8 + 40
		for i := range c.buckets {
			n += 8 + detail(&c.buckets[i].d)
		}
	}
	return n
}
