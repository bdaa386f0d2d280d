// Package tally is the counter's first stage: a member of a consumer group
// on the tweets topic that takes each post's hashtags (pkg/hashtag rules),
// sums them per processing-time window and, at each window end, commits one
// transaction holding its delta record(s) for rank, the window's
// undecodable records for the dead-letter topic and the consumed offsets.
// Nothing of a window is visible downstream until that commit, so a crash
// at any instant loses or repeats nothing: the uncommitted posts are simply
// read again from the committed offsets. A post whose id is within the
// dedupe horizon of its partition is skipped before counting (dedupe.go).
//
// The transaction is opened and committed in one call at the window's end;
// between two windows the stage holds only memory. A cooperative rebalance
// that revokes partitions closes the window early (the posts read so far
// are committed with their offsets before the partitions go); a lost
// assignment drops the window.
//
// With trending on, each post's tags are also counted per bucket of the
// post's own time with a sketch of their authors, behind the watermark of
// the post's partition (trending.go); the buckets travel in the deltas.
// With facets on, each tag's posts are counted by cell (the post's network
// and language, pkg/facet), and the posts of each language by bucket of
// post time behind the same watermark, for rank's language fold.
package tally

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/services/counter/internal/cells"
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
	"github.com/hashtrend/hashtrend/services/counter/internal/kafkaio"
	"github.com/hashtrend/hashtrend/services/counter/internal/metrics"
	"github.com/hashtrend/hashtrend/services/counter/internal/stage"
	"github.com/hashtrend/hashtrend/services/counter/internal/trend"
	"github.com/hashtrend/hashtrend/services/counter/internal/window"
)

// Config is what the stage needs.
type Config struct {
	Kafka          kafkaconn.Config
	Instance       string // transactional.id is Instance + "-tally"
	Group          string
	Tweets, Deltas string
	DLQ            string
	Window         time.Duration
	TxnTimeout     time.Duration
	SessionTimeout time.Duration
	StatsInterval  time.Duration
	MaxDeltaBytes  int
	MaxRecordBytes int
	DedupeRecords  int // horizon of the dedupe by post id, per partition; 0: off
	// Trending, when set, buckets each post's tags by the post's time for
	// the trending view and carries the buckets in the deltas.
	Trending *trend.Config
	// Facets, when set, counts each tag's posts by cell (network and
	// language, pkg/facet) and the posts of each language by post-time
	// bucket, with the clock of these settings (the trending view's,
	// which must be the same when both are on), for rank's facets.
	Facets *trend.Config
	// FacetTrending, with Trending and Facets, keeps the trending buckets
	// by cell, so that rank has a trending view per facet.
	FacetTrending bool
	// Reasons, with Trending, keeps a summary of each trending bucket's
	// most active authors (trend.Heavy) and, with Facets, its posts by
	// cell (a bucket's cell, with FacetTrending), so that rank can say
	// why a tag trends: who carried it and from which networks and
	// languages.
	Reasons bool
	// Committed, when set, is called after each committed transaction
	// (the supervisor's sign that a run worked).
	Committed func()
}

// Header names on dead-letter records.
const (
	HeaderError     = "error"
	HeaderTopic     = "source.topic"
	HeaderPartition = "source.partition"
	HeaderOffset    = "source.offset"
)

// Stage is one running tally.
type Stage struct {
	ctx context.Context
	cfg Config
	log *slog.Logger
	m   *metrics.Metrics
	r   *stage.Runner

	win      window.Window
	counts   map[string]*tagCount
	posts    int64
	withTags int64
	dups     int64 // duplicates skipped, this window
	dlq      []kafkaio.Message
	next     map[int32]int64 // partition → next offset to read, this window
	tags     []hashtag.Tag   // scratch
	trend    *buckets        // nil with trending and facets off
	cells    *facet.Cells    // nil with facets off
	dedupe   *dedupe
	feed     *feed // counts what the poll loop reads; drained before the window state is touched
}

// Run runs the stage until ctx ends (then it commits the open window and
// leaves the group) or a fatal error.
func Run(ctx context.Context, cfg Config, log *slog.Logger, m *metrics.Metrics) error {
	log = log.With("stage", "tally", "group", cfg.Group)
	s := &Stage{ctx: ctx, cfg: cfg, log: log, m: m, counts: map[string]*tagCount{}, next: map[int32]int64{},
		dedupe: newDedupe(cfg.DedupeRecords)}
	switch {
	case cfg.Trending != nil:
		s.trend = newBuckets(*cfg.Trending, true, cfg.Facets != nil)
		s.trend.byCell = cfg.Facets != nil && cfg.FacetTrending
		s.trend.heavy = cfg.Reasons
		s.trend.origins = cfg.Reasons && cfg.Facets != nil && !cfg.FacetTrending
	case cfg.Facets != nil:
		s.trend = newBuckets(*cfg.Facets, false, true)
	}
	if cfg.Facets != nil {
		s.cells = &facet.Cells{}
	}
	s.r = stage.New(stage.Config{
		Name: "tally", Kafka: cfg.Kafka, Instance: cfg.Instance, Group: cfg.Group, Topic: cfg.Tweets,
		TxnTimeout: cfg.TxnTimeout, SessionTimeout: cfg.SessionTimeout, StatsInterval: cfg.StatsInterval,
		MaxRecordBytes: cfg.MaxRecordBytes,
		Settings:       map[string]any{"fetch.max.bytes": max(50<<20, cfg.MaxRecordBytes*2)},
		MaxWait:        eventWait,
		Committed:      cfg.Committed,
		Started:        []any{"window", cfg.Window},
	}, log, m)
	s.feed = startFeed(s.count)
	defer s.feed.stop() // after the consumer's close, whose rebalance drains it
	return s.r.Run(ctx, s)
}

// eventWait is the longest the poll loop waits for records before it looks
// for events again: a rebalance waits for it at most this long.
const eventWait = 20 * time.Millisecond

// Due closes the window once it has ended and opens the next.
func (s *Stage) Due(now time.Time) (time.Time, error) {
	if s.win.End.IsZero() { // the first turn
		s.win = window.Of(now, s.cfg.Window)
	}
	if now.Before(s.win.End) {
		return s.win.End, nil
	}
	if err := s.close(); err != nil {
		return time.Time{}, err
	}
	s.m.WindowsClosed.WithLabelValues("tally").Inc()
	s.win = window.Of(now, s.cfg.Window)
	return s.win.End, nil
}

// Stop commits the open window.
func (s *Stage) Stop() error { return s.close() }

// Read reads a chunk of records for the feed's goroutine to count.
func (s *Stage) Read(read func(*kafkaio.Chunk) bool) {
	c := s.feed.chunk()
	if read(c) {
		s.feed.send(c)
	} else {
		s.feed.unused(c)
	}
}

// count counts the records of c. It runs on the feed's goroutine.
func (s *Stage) count(c *kafkaio.Chunk) {
	c.Each(s.add, func(partition int32, err string) {
		s.log.Warn("tally consumer", "partition", partition, "err", err)
	})
}

// add counts one record of the window, or keeps a copy of it for the
// dead-letter topic when it is not a valid post. r's key and value are
// read into again after add returns: what the window keeps of them is
// copied (keys and spellings when first seen).
func (s *Stage) add(r kafkaio.Record) {
	if s.restoring(r) {
		return
	}
	s.next[r.Partition] = r.Offset + 1
	p, err := post.DecodeShared(r.Value) // the post shares the record's bytes until add returns
	if err != nil {
		s.m.Invalid.Inc()
		s.log.Debug("invalid record", "partition", r.Partition, "offset", r.Offset, "err", err)
		s.dlq = append(s.dlq, kafkaio.Message{
			Topic: s.cfg.DLQ, Partition: kafkaio.AnyPartition,
			Key:   bytes.Clone(r.Key),
			Value: bytes.Clone(r.Value),
			Headers: []kafkaio.Header{
				{Key: HeaderError, Value: []byte(err.Error())},
				{Key: HeaderTopic, Value: []byte(s.cfg.Tweets)},
				{Key: HeaderPartition, Value: []byte(strconv.Itoa(int(r.Partition)))},
				{Key: HeaderOffset, Value: []byte(strconv.FormatInt(r.Offset, 10))},
			},
		})
		return
	}
	if s.dedupe.repeated(r, p.ID) {
		s.dups++
		return
	}
	s.posts++
	s.tags = hashtag.OfAppend(s.tags[:0], p)
	if len(s.tags) > 0 {
		s.withTags++
	}
	var cell facet.Cell
	if s.cells != nil {
		cell = s.cells.Of(p.Source, p.Lang)
	}
	if s.trend != nil {
		s.trend.add(r.Partition, &p, s.tags, cell)
	}
	for _, t := range s.tags {
		c := s.counts[t.Key]
		if c == nil {
			c = &tagCount{}
			s.counts[strings.Clone(t.Key)] = c
		}
		c.spellings.AddCopy(t.Spelling, 1)
		if s.cells != nil {
			c.add(cell)
		}
	}
}

// tagCount is what a window counted of one key: its spellings and, with
// facets on, its posts by cell: in a short list while they are in a few
// cells (most keys), in a map once they are in many (a busy key in every
// network and language), so that counting a post costs the same either
// way.
type tagCount struct {
	spellings hashtag.Spellings
	cells     []cellCount
	many      map[facet.Cell]int64
}

type cellCount struct {
	cell facet.Cell
	n    int64
}

// fewCells is how many cells a key's list holds before its map.
const fewCells = 8

// add counts one post of cell.
func (c *tagCount) add(cell facet.Cell) {
	if c.many != nil {
		c.many[cell]++
		return
	}
	for i := range c.cells {
		if c.cells[i].cell == cell {
			c.cells[i].n++
			return
		}
	}
	if len(c.cells) < fewCells {
		c.cells = append(c.cells, cellCount{cell, 1})
		return
	}
	c.many = make(map[facet.Cell]int64, 2*fewCells)
	for _, cc := range c.cells {
		c.many[cc.cell] = cc.n
	}
	c.many[cell]++
	c.cells = c.cells[:0]
}

// count is the key's Count in a delta.
func (c *tagCount) count(key string) delta.Count {
	dc := delta.Of(key, &c.spellings)
	if c.cells != nil || c.many != nil {
		dc.Cells = make(cells.Counts, 0, len(c.cells)+len(c.many))
		for _, cc := range c.cells {
			dc.Cells = append(dc.Cells, cells.Count{Cell: cc.cell.String(), N: cc.n})
		}
		for cell, n := range c.many {
			dc.Cells = append(dc.Cells, cells.Count{Cell: cell.String(), N: n})
		}
		slices.SortFunc(dc.Cells, func(a, b cells.Count) int { return strings.Compare(a.Cell, b.Cell) })
	}
	return dc
}

// close commits the window: deltas, dead letters and offsets in one
// transaction. After an abort it rewinds to the committed offsets
// (Aborted). Either way the window's state is dropped.
func (s *Stage) close() error {
	s.feed.drain()
	defer s.reset()
	if len(s.next) == 0 {
		return nil
	}
	d := delta.Delta{WindowStart: s.win.Start, WindowEnd: s.win.End, Instance: s.cfg.Instance,
		Posts: s.posts, PostsWithHashtags: s.withTags, Counts: make([]delta.Count, 0, len(s.counts))}
	tags := int64(0)
	for k, c := range s.counts {
		dc := c.count(k)
		d.Counts = append(d.Counts, dc)
		tags += dc.N
	}
	late := int64(0)
	if s.trend != nil {
		s.trend.fill(&d, s.next)
		late = d.Late
	}
	offsets := make([]kafkaio.Offset, 0, len(s.next))
	for p, o := range s.next {
		tp := kafkaio.Offset{Partition: p, Offset: o}
		if s.trend != nil {
			tp.Metadata = s.trend.metadata(p)
		}
		offsets = append(offsets, tp)
	}
	committed, err := s.r.Commit(offsets, func(pr *kafkaio.Producer) error {
		if d.Posts > 0 {
			for _, part := range delta.Split(d, s.cfg.MaxDeltaBytes) {
				b, err := delta.Encode(part)
				if err != nil {
					return fmt.Errorf("encode delta: %w", err)
				}
				key := []byte(s.cfg.Instance + "/" + strconv.FormatInt(s.win.Start.UnixMilli(), 10) + "/" + strconv.Itoa(part.Part))
				if err := pr.Produce(kafkaio.Message{
					Topic: s.cfg.Deltas, Partition: kafkaio.AnyPartition,
					Key: key, Value: b, Time: s.win.End,
				}); err != nil {
					return err
				}
			}
		}
		for _, m := range s.dlq {
			if err := pr.Produce(m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("tally window %s: %w", s.win, err)
	}
	if !committed {
		return nil
	}
	s.m.Posts.Add(float64(s.posts))
	s.m.PostsWithTags.Add(float64(s.withTags))
	s.m.Hashtags.Add(float64(tags))
	s.m.Duplicates.Add(float64(s.dups))
	s.m.DedupeIDs.Set(float64(s.dedupe.remembered()))
	s.m.LatePosts.Add(float64(late))
	s.log.Info("window committed", "window", s.win, "posts", s.posts, "hashtags", len(s.counts), "invalid", len(s.dlq), "duplicates", s.dups)
	s.log.Debug("window offsets", "window", s.win, "offsets", fmt.Sprint(offsets))
	return nil
}

func (s *Stage) reset() {
	clear(s.counts)
	clear(s.next)
	s.posts, s.withTags, s.dups, s.dlq = 0, 0, 0, nil
	if s.trend != nil {
		s.trend.reset()
	}
}

// startFrom is called with the committed offsets of partitions the stage
// is about to read from there (assigned, or rewound after an abort): it
// sets their trending clocks from the offsets' metadata and returns where
// to read them from (the dedupe reads some records again first).
func (s *Stage) startFrom(committed []kafkaio.Offset) []kafkaio.Offset {
	if s.trend != nil {
		s.trend.load(committed)
	}
	return s.dedupe.from(committed)
}

// Assigned runs inside Poll. Assigned partitions start at their committed
// offsets looked up here and passed explicitly, never at offsets
// librdkafka looks up by itself: a partition's last owner may have died
// inside the transaction that commits its offsets, and until the
// coordinator aborts it (the transaction timeout) the committed offset is
// unstable. librdkafka's own lookup then started the partition at
// auto.offset.reset, the beginning, when the assignment changed again
// meanwhile, and the window counted the partition's whole history a
// second time. So the callback waits here for stable offsets
// (kafkaio.Consumer.Committed); the other partitions' windows close late
// meanwhile, but nothing is counted twice.
func (s *Stage) Assigned(parts []int32) ([]kafkaio.Offset, error) {
	s.feed.drain() // the window state is this goroutine's now
	s.log.Info("partitions assigned", "topic", s.cfg.Tweets, "partitions", parts)
	committed, err := s.r.Consumer().Committed(s.ctx, parts)
	if err != nil {
		return nil, err
	}
	return s.startFrom(committed), nil
}

// Revoked runs inside Poll. Before revoked partitions go, the window is
// committed with their offsets; a lost assignment drops the window, whose
// offsets may no longer be committed by this member.
func (s *Stage) Revoked(parts []int32, lost bool) error {
	s.feed.drain() // the window state is this goroutine's now
	var err error
	if lost {
		s.log.Warn("assignment lost, dropping the window", "partitions", parts)
		s.reset()
	} else {
		s.log.Info("partitions revoked, committing the window", "partitions", parts)
		err = s.close()
	}
	s.dedupe.forget(parts)
	if s.trend != nil {
		s.trend.forget(parts)
	}
	return err
}

// Aborted rewinds every assigned partition to its committed offset (as
// startFrom maps it); close drops the window's state.
func (s *Stage) Aborted(cause error) ([]kafkaio.Offset, error) {
	s.log.Warn("window aborted, rewinding to the committed offsets", "window", s.win, "err", cause)
	parts, err := s.r.Consumer().Assignment()
	if err != nil {
		return nil, err
	}
	// Our own abort's markers follow shortly: a deadline of its own,
	// not the stage's context, so that a shutdown still rewinds.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	committed, err := s.r.Consumer().Committed(ctx, parts)
	if err != nil {
		return nil, err
	}
	return s.startFrom(committed), nil
}
