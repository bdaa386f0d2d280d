// Package delta is the message tally sends rank on the hashtag-deltas topic:
// what one tally instance counted in one window, per hashtag key with the
// spellings seen, plus the window's post figures. A window with many
// distinct hashtags is split into several records (parts) so that no record
// grows past the broker's size limit; rank simply adds them all up.
package delta

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/pkg/strict"
	"github.com/hashtrend/hashtrend/services/counter/internal/cells"
	"github.com/hashtrend/hashtrend/services/counter/internal/hll"
	"github.com/hashtrend/hashtrend/services/counter/internal/trend"
)

// Version is the schema version written in every Delta's "v" field.
// Version 2 added the trending buckets and watermarks, version 3 the
// facets' cells and posts by language, version 4 the buckets' summaries of
// their most active authors; Decode accepts every version from 1, and a
// delta of an older version simply carries less.
const Version = 4

// oldestVersion is the oldest schema version Decode accepts.
const oldestVersion = 1

// Count is what was counted for one hashtag key: N posts, of which the
// ones not in Others spelled it Spelling.
type Count struct {
	Key      string           `json:"key"`
	N        int64            `json:"n"`
	Spelling string           `json:"spelling"`
	Others   map[string]int64 `json:"others,omitempty"`
	// Buckets are the key's posts by post-time bucket (version 2, with
	// trending on): late posts are in N but in no bucket.
	Buckets []Bucket `json:"buckets,omitempty"`
	// Cells are the key's posts by cell, facet.Cell's network/language
	// form (version 3, with facets on); they add up to N.
	Cells cells.Counts `json:"cells,omitempty"`
}

// Languages are the posts of one post-time bucket by language (version
// 3, with facets on): every post of the window that was not late, with
// hashtags or without, by facet.Language. rank ranks the languages by
// them to choose those with facets of their own.
type Languages struct {
	Start int64            `json:"start"` // Unix ms
	Posts map[string]int64 `json:"posts"`
}

// Bucket is one hashtag's posts in one post-time bucket and a sketch of
// their authors; with facets on (version 3), those of one cell, so that
// each facet has its own trending view: a hashtag's buckets are then
// ordered by start and cell, several to a start.
type Bucket struct {
	Start   int64      `json:"start"` // Unix ms
	N       int64      `json:"n"`
	Authors hll.Sketch `json:"authors"`
	Cell    string     `json:"cell,omitempty"`
	// Heavy is a summary of the bucket's most active authors (version 4,
	// with the trending reasons on; trend.Heavy, fed with the hashes the
	// author sketch takes), whose weight is N: rank merges those of a
	// trending candidate's facet into the reason's flood signal, and the
	// bucket's cell says where its posts came from.
	Heavy *trend.Heavy `json:"heavy,omitempty"`
	// Cells are the bucket's posts by cell (version 4, with the reasons
	// and facets on, for a bucket of every cell: one without Cell), so
	// that rank knows the networks and languages of a tag's posts without
	// a sketch per cell.
	Cells cells.Counts `json:"cells,omitempty"`
}

// Watermark is one input partition's trending watermark after the window:
// its newest post time minus the allowed lateness, Unix ms.
type Watermark struct {
	Partition int32 `json:"partition"`
	At        int64 `json:"at"`
}

// Delta is one record on hashtag-deltas.
type Delta struct {
	V           int       `json:"v"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	Instance    string    `json:"instance"`
	Part        int       `json:"part"`
	// Posts and PostsWithHashtags are the window's figures; only part 0
	// carries them, the other parts hold 0.
	Posts             int64   `json:"posts"`
	PostsWithHashtags int64   `json:"posts_with_hashtags"`
	Counts            []Count `json:"counts"`
	// BucketMillis is the length of the Counts' buckets, Watermarks the
	// input partitions' watermarks once this delta is applied; only the
	// last part carries them, so that rank has applied every bucket of
	// the window before the watermark moves. Version 2, trending on.
	BucketMillis int64       `json:"bucket_ms,omitempty"`
	Watermarks   []Watermark `json:"watermarks,omitempty"`
	// Late is the number of the window's posts whose bucket had closed.
	Late int64 `json:"late,omitempty"`
	// Languages are the window's posts by post-time bucket and language
	// (version 3, facets on), oldest bucket first; only the last part
	// carries them, with the watermarks.
	Languages []Languages `json:"languages,omitempty"`
}

// ErrInvalid marks a value that is not a valid Delta.
var ErrInvalid = errors.New("invalid delta")

// Encode returns the JSON form of d in the oldest version that holds
// what it carries: 4 with authors summaries, 3 with cells or posts by
// language, else 2 as before facets, so that a counter with facets or
// reasons off writes what a counter without them reads.
func Encode(d Delta) ([]byte, error) {
	switch {
	case slices.ContainsFunc(d.Counts, func(c Count) bool { return slices.ContainsFunc(c.Buckets, Bucket.newer) }):
		d.V = 4
	case len(d.Languages) > 0 || slices.ContainsFunc(d.Counts, func(c Count) bool { return c.Cells != nil }):
		d.V = 3
	default:
		d.V = 2
	}
	if d.Counts == nil {
		d.Counts = []Count{}
	}
	return json.Marshal(d)
}

// Decode parses a Delta strictly: one JSON object of schema version 1 to 4
// with no unknown fields, a window whose end follows its start,
// non-negative figures, counts whose spellings add up, buckets that fit in
// their counts with authors summaries of their weight, cells that add up
// to them and languages by bucket that are aligned, ordered and
// canonical.
func Decode(b []byte) (Delta, error) {
	var d Delta
	if err := strict.Decode(b, &d, &d.V, oldestVersion, Version, ErrInvalid); err != nil {
		return Delta{}, err
	}
	if !d.WindowEnd.After(d.WindowStart) {
		return Delta{}, fmt.Errorf("%w: window end %s not after start %s", ErrInvalid, d.WindowEnd, d.WindowStart)
	}
	if d.Posts < 0 || d.PostsWithHashtags < 0 || d.PostsWithHashtags > d.Posts {
		return Delta{}, fmt.Errorf("%w: posts %d, posts with hashtags %d", ErrInvalid, d.Posts, d.PostsWithHashtags)
	}
	trending := d.BucketMillis > 0 || len(d.Watermarks) > 0 || d.Late > 0
	if d.V < 2 && trending || d.BucketMillis < 0 || d.Late < 0 {
		return Delta{}, fmt.Errorf("%w: version %d with bucket length %d and %d late posts", ErrInvalid, d.V, d.BucketMillis, d.Late)
	}
	for _, w := range d.Watermarks {
		if w.Partition < 0 {
			return Delta{}, fmt.Errorf("%w: watermark of partition %d", ErrInvalid, w.Partition)
		}
	}
	if d.V < 3 && len(d.Languages) > 0 {
		return Delta{}, fmt.Errorf("%w: version %d with posts by language", ErrInvalid, d.V)
	}
	if err := checkLanguages(d.Languages, d.BucketMillis); err != nil {
		return Delta{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	for _, c := range d.Counts {
		if err := c.check(); err != nil {
			return Delta{}, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		if err := c.checkBuckets(d.BucketMillis); err != nil {
			return Delta{}, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		if d.V < 3 && (c.Cells != nil || slices.ContainsFunc(c.Buckets, func(b Bucket) bool { return b.Cell != "" })) {
			return Delta{}, fmt.Errorf("%w: version %d with cells", ErrInvalid, d.V)
		}
		if d.V < 4 && slices.ContainsFunc(c.Buckets, Bucket.newer) {
			return Delta{}, fmt.Errorf("%w: version %d with authors summaries or cells by bucket", ErrInvalid, d.V)
		}
		if err := c.checkCells(); err != nil {
			return Delta{}, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	return d, nil
}

// checkCells: cells that are cells, each with posts, together the count.
func (c Count) checkCells() error {
	if c.Cells == nil {
		return nil
	}
	sum := int64(0)
	for _, x := range c.Cells {
		if _, err := facet.ParseCell(x.Cell); err != nil {
			return fmt.Errorf("key %s: %v", c.Key, err)
		}
		if x.N <= 0 {
			return fmt.Errorf("key %s: cell %s counted %d", c.Key, x.Cell, x.N)
		}
		sum += x.N
	}
	if sum != c.N {
		return fmt.Errorf("key %s: cells hold %d posts of %d", c.Key, sum, c.N)
	}
	return nil
}

// checkLanguages: buckets aligned to the bucket length, in order, each
// with posts of languages as facet.Language gives them.
func checkLanguages(ls []Languages, length int64) error {
	if len(ls) > 0 && length <= 0 {
		return errors.New("posts by language without a bucket length")
	}
	for i, l := range ls {
		if l.Start%length != 0 || i > 0 && l.Start <= ls[i-1].Start || len(l.Posts) == 0 {
			return fmt.Errorf("languages of bucket %d (start %d) out of order, unaligned or empty", i, l.Start)
		}
		for lang, n := range l.Posts {
			if !facet.IsLanguage(lang) || n <= 0 {
				return fmt.Errorf("bucket %d: language %q counted %d", l.Start, lang, n)
			}
		}
	}
	return nil
}

// checkBuckets: buckets only with a bucket length, aligned to it, in order,
// each with posts and authors, together no more than the count.
func (c Count) checkBuckets(length int64) error {
	if len(c.Buckets) > 0 && length <= 0 {
		return fmt.Errorf("key %s: buckets without a bucket length", c.Key)
	}
	sum := int64(0)
	for i, b := range c.Buckets {
		if b.Start%length != 0 || (i > 0 && !bucketBefore(c.Buckets[i-1], b)) || b.N <= 0 || b.Authors.Empty() {
			return fmt.Errorf("key %s: bucket %d (start %d, cell %q, n %d) out of order, unaligned or empty", c.Key, i, b.Start, b.Cell, b.N)
		}
		if b.Cell != "" {
			if _, err := facet.ParseCell(b.Cell); err != nil {
				return fmt.Errorf("key %s: bucket %d: %v", c.Key, i, err)
			}
		}
		if b.Heavy != nil && b.Heavy.N() != b.N {
			return fmt.Errorf("key %s: bucket %d: authors summary of %d posts, bucket of %d", c.Key, i, b.Heavy.N(), b.N)
		}
		if b.Cells != nil {
			if err := (Count{Key: c.Key, N: b.N, Cells: b.Cells}).checkCells(); err != nil || b.Cell != "" {
				return fmt.Errorf("key %s: bucket %d (cell %q): cells: %v", c.Key, i, b.Cell, err)
			}
		}
		sum += b.N
	}
	if sum > c.N {
		return fmt.Errorf("key %s: buckets hold %d posts of %d", c.Key, sum, c.N)
	}
	return nil
}

// newer tells whether b carries what only version 4 does.
func (b Bucket) newer() bool { return b.Heavy != nil || b.Cells != nil }

// bucketBefore tells whether a comes before b: by start, then by cell.
func bucketBefore(a, b Bucket) bool {
	return a.Start < b.Start || a.Start == b.Start && a.Cell < b.Cell
}

func (c Count) check() error {
	if c.Key == "" || c.Spelling == "" {
		return fmt.Errorf("count with empty key or spelling: %q/%q", c.Key, c.Spelling)
	}
	others := int64(0)
	for s, n := range c.Others {
		if s == "" || n <= 0 {
			return fmt.Errorf("key %s: spelling %q counted %d", c.Key, s, n)
		}
		others += n
	}
	if c.N <= others {
		return fmt.Errorf("key %s: n %d not above its other spellings' %d", c.Key, c.N, others)
	}
	return nil
}

// Of returns the Count of key from its spellings.
func Of(key string, sp *hashtag.Spellings) Count {
	return Count{Key: key, N: sp.Total(), Spelling: sp.Best(), Others: sp.Others()}
}

// AddTo adds c's spellings to sp.
func (c Count) AddTo(sp *hashtag.Spellings) { sp.AddOthers(c.N, c.Spelling, c.Others) }

// size is a generous estimate of a Count's encoded length.
func (c Count) size() int {
	n := len(c.Key) + len(c.Spelling) + 48
	for s := range c.Others {
		n += len(s) + 24
	}
	for i := range c.Buckets {
		n += 48 + len(c.Buckets[i].Cell) + c.Buckets[i].Authors.Bytes()*4/3
		if h := c.Buckets[i].Heavy; h != nil {
			n += 16 + (6+10*h.Len())*4/3
		}
		for _, x := range c.Buckets[i].Cells {
			n += len(x.Cell) + 24
		}
	}
	for _, x := range c.Cells {
		n += len(x.Cell) + 24
	}
	return n
}

// Split cuts d into parts of at most about maxBytes each, numbered from 0;
// only part 0 keeps the post figures, only the last one the watermarks and
// the posts by language. A delta that fits stays whole.
func Split(d Delta, maxBytes int) []Delta {
	var parts []Delta
	cur := d
	cur.Counts, cur.Watermarks, cur.Languages, cur.BucketMillis = nil, nil, nil, d.BucketMillis
	tail := 48 * len(d.Watermarks)
	for _, l := range d.Languages {
		tail += 32 + 24*len(l.Posts)
	}
	size := 256 + tail
	for _, c := range d.Counts {
		if size+c.size() > maxBytes && len(cur.Counts) > 0 {
			parts = append(parts, cur)
			cur = Delta{WindowStart: d.WindowStart, WindowEnd: d.WindowEnd, Instance: d.Instance, Part: len(parts), BucketMillis: d.BucketMillis}
			size = 256 + tail
		}
		cur.Counts = append(cur.Counts, c)
		size += c.size()
	}
	cur.Watermarks, cur.Languages = d.Watermarks, d.Languages
	return append(parts, cur)
}
