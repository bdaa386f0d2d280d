package tally

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"

	"github.com/hashtrend/hashtrend/services/counter/internal/kafkaio"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/services/counter/internal/cells"
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
	"github.com/hashtrend/hashtrend/services/counter/internal/hll"
	"github.com/hashtrend/hashtrend/services/counter/internal/trend"
)

// buckets is the window's input to the trending view: each post's tags by
// the post's own time bucket with a sketch of their authors, behind the
// watermark of the post's partition (trend.Clock); and, with facets on,
// the posts of each language by bucket behind the same watermark, from
// which rank chooses the languages with facets of their own.
//
// A partition's clock is committed with its offset, as the offset's
// metadata, in the window's transaction: a new owner of the partition, or
// this one after an abort, starts from the clock that belongs to the
// offset it starts from, so which posts are late depends on the partition's
// records alone, never on where a crash or a rebalance cut them.
type buckets struct {
	cfg     trend.Config
	clocks  map[int32]*trend.Clock
	cells   map[cellKey]*tagCell // nil with trending off
	byCell  bool                 // cells are by cell too (trending per facet)
	heavy   bool                 // cells keep a summary of their most active authors (the reasons)
	origins bool                 // cells not by cell keep their posts by cell (the reasons with facets)
	langs   map[langKey]int64    // nil with facets off
	late    int64
	scratch []byte
}

type langKey struct {
	bucket int64
	lang   string
}

// tagCell is one tag's posts and authors in one bucket (and cell), with
// the summary of its most active authors when the reasons are on, and
// then its posts by cell when it is not of one cell.
type tagCell struct {
	trend.Cell
	heavy   trend.Heavy
	origins []origin // a tag-bucket is in a few cells: a short list
}

type origin struct {
	cell facet.Cell
	n    int64
}

// addOrigin counts one post of cell.
func (c *tagCell) addOrigin(cell facet.Cell) {
	for i := range c.origins {
		if c.origins[i].cell == cell {
			c.origins[i].n++
			return
		}
	}
	c.origins = append(c.origins, origin{cell, 1})
}

// cells is the posts by cell in a delta's form.
func (c *tagCell) cells() cells.Counts {
	out := make(cells.Counts, len(c.origins))
	for i, o := range c.origins {
		out[i] = cells.Count{Cell: o.cell.String(), N: o.n}
	}
	slices.SortFunc(out, func(a, b cells.Count) int { return strings.Compare(a.Cell, b.Cell) })
	return out
}

type cellKey struct {
	key    string
	bucket int64
	cell   facet.Cell // with facets on; zero without
}

// newBuckets returns the buckets of the trending view (tags) and of the
// language fold (langs), or of either.
func newBuckets(cfg trend.Config, tags, langs bool) *buckets {
	b := &buckets{cfg: cfg, clocks: map[int32]*trend.Clock{}}
	if tags {
		b.cells = map[cellKey]*tagCell{}
	}
	if langs {
		b.langs = map[langKey]int64{}
	}
	return b
}

// add counts post p of partition with its tags, and with facets on in
// its cell (facet.Cell: its language's posts by bucket are counted for the
// fold, and with trending per facet its trending buckets are the cell's),
// unless it is late.
func (b *buckets) add(partition int32, p *post.Post, tags []hashtag.Tag, cell facet.Cell) {
	k := b.clocks[partition]
	if k == nil {
		k = &trend.Clock{}
		b.clocks[partition] = k
	}
	bucket, ok := k.Admit(b.cfg, p.CreatedAt)
	if ok && b.langs != nil {
		b.langs[langKey{bucket, cell.Language}]++ // one of facet's strings, not the record's
	}
	if len(tags) == 0 {
		return
	}
	if !ok {
		b.late++
		return
	}
	if b.cells == nil {
		return
	}
	b.scratch = appendAuthor(b.scratch[:0], p)
	author := hll.HashBytes(b.scratch)
	for _, t := range tags {
		ck := cellKey{key: t.Key, bucket: bucket}
		if b.byCell {
			ck.cell = cell
		}
		c := b.cells[ck]
		if c == nil {
			c = &tagCell{Cell: trend.Cell{Bucket: bucket}}
			ck.key = strings.Clone(ck.key) // t.Key may alias the record
			b.cells[ck] = c
		}
		c.Posts++
		c.Authors.Add(author)
		if b.heavy {
			c.heavy.Add(author, 1)
		}
		if b.origins {
			c.addOrigin(cell)
		}
	}
}

// appendAuthor appends who the trending view counts as the post's author:
// the source's author id, or, for a post without one, the post itself.
func appendAuthor(b []byte, p *post.Post) []byte {
	b = append(append(b, p.Source...), 0)
	if p.Author == "" {
		return append(append(b, "post\x00"...), p.ID...)
	}
	return append(b, p.Author...)
}

// fill adds the window's buckets to d's counts and the watermarks of the
// partitions read in the window.
func (b *buckets) fill(d *delta.Delta, read map[int32]int64) {
	d.BucketMillis = b.cfg.Bucket.Milliseconds()
	d.Late = b.late
	byKey := map[string][]delta.Bucket{}
	for ck, c := range b.cells {
		db := delta.Bucket{Start: c.Bucket, N: c.Posts, Authors: c.Authors}
		if b.heavy {
			db.Heavy = &c.heavy
		}
		if b.origins {
			db.Cells = c.cells()
		}
		if b.byCell {
			db.Cell = ck.cell.String()
		}
		byKey[ck.key] = append(byKey[ck.key], db)
	}
	for i := range d.Counts {
		bs := byKey[d.Counts[i].Key]
		slices.SortFunc(bs, func(x, y delta.Bucket) int {
			if c := cmp.Compare(x.Start, y.Start); c != 0 {
				return c
			}
			return strings.Compare(x.Cell, y.Cell)
		})
		d.Counts[i].Buckets = bs
	}
	if len(b.langs) > 0 {
		byBucket := map[int64]map[string]int64{}
		for lk, n := range b.langs {
			if byBucket[lk.bucket] == nil {
				byBucket[lk.bucket] = map[string]int64{}
			}
			byBucket[lk.bucket][lk.lang] = n
		}
		for start, posts := range byBucket {
			d.Languages = append(d.Languages, delta.Languages{Start: start, Posts: posts})
		}
		slices.SortFunc(d.Languages, func(x, y delta.Languages) int { return cmp.Compare(x.Start, y.Start) })
	}
	for p := range read {
		if k := b.clocks[p]; k != nil && k.Newest != 0 {
			d.Watermarks = append(d.Watermarks, delta.Watermark{Partition: p, At: k.Watermark(b.cfg)})
		}
	}
	slices.SortFunc(d.Watermarks, func(x, y delta.Watermark) int { return int(x.Partition - y.Partition) })
}

// offsetMeta is the metadata committed with a partition's offset. Fields
// it does not know are ignored, so that other state can join it.
type offsetMeta struct {
	NewestPostMillis int64 `json:"trend_newest_ms,omitempty"`
}

// metadata is partition's clock as offset metadata.
func (b *buckets) metadata(partition int32) string {
	k := b.clocks[partition]
	if k == nil || k.Newest == 0 {
		return ""
	}
	j, _ := json.Marshal(offsetMeta{NewestPostMillis: k.Newest})
	return string(j)
}

// load sets the clocks of the partitions the consumer starts at tps from
// the metadata committed with those offsets; without any, from scratch.
func (b *buckets) load(tps []kafkaio.Offset) {
	for _, tp := range tps {
		k := &trend.Clock{}
		var m offsetMeta
		if tp.Metadata != "" && json.Unmarshal([]byte(tp.Metadata), &m) == nil {
			k.Newest = m.NewestPostMillis
		}
		b.clocks[tp.Partition] = k
	}
}

// forget drops the clocks of partitions that are no longer assigned.
func (b *buckets) forget(parts []int32) {
	for _, p := range parts {
		delete(b.clocks, p)
	}
}

// reset drops the window's cells (after its commit or abort).
func (b *buckets) reset() {
	clear(b.cells)
	clear(b.langs)
	b.late = 0
}
