package source

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/wire"
	"github.com/hashtrend/hashtrend/services/ingest/internal/backoff"
)

// MastodonSettings are the mastodon source's variables.
type MastodonSettings struct {
	URL           string        `envconfig:"INGEST_MASTODON_URL" default:"https://mastodon.social" desc:"mastodon: the instance's base URL"`
	StreamingURL  string        `envconfig:"INGEST_MASTODON_STREAMING_URL" desc:"mastodon: base URL of the streaming server, where it is not the instance's (empty: INGEST_MASTODON_URL)"`
	Token         config.Secret `envconfig:"INGEST_MASTODON_TOKEN" desc:"mastodon: a user access token (any account; read scope), required for public streams since Mastodon 4.2 (never logged)"`
	Stream        string        `envconfig:"INGEST_MASTODON_STREAM" default:"public" desc:"mastodon: public (the federated timeline), public:local (this instance only) or hashtag"`
	Tags          string        `envconfig:"INGEST_MASTODON_TAGS" desc:"mastodon: with the hashtag stream, the hashtags to follow, comma separated, without #"`
	Stall         time.Duration `envconfig:"INGEST_MASTODON_STALL" default:"60s" desc:"mastodon: silence (no event, no heartbeat; the server sends one every 15 s) after which the stream is reconnected"`
	GapPages      int           `envconfig:"INGEST_MASTODON_GAP_PAGES" default:"10" desc:"mastodon: after a reconnect or a resumed start, most timeline pages (40 statuses each) read to fill the gap (0: no gap fill)"`
	Backfill      time.Duration `envconfig:"INGEST_MASTODON_BACKFILL" default:"0s" desc:"mastodon: on a first start (no committed position), read the timeline from this far back first, oldest first, e.g. 6h20m (0: live only)"`
	BackfillPages int           `envconfig:"INGEST_MASTODON_BACKFILL_PAGES" default:"300" desc:"mastodon: most timeline pages (40 statuses each) a backfill reads; where they would not reach now from INGEST_MASTODON_BACKFILL ago, it starts later"`
}

// Validate checks the settings.
func (s *MastodonSettings) Validate() error {
	if err := checkURL("INGEST_MASTODON_URL", s.URL); err != nil {
		return err
	}
	if s.StreamingURL != "" {
		if err := checkURL("INGEST_MASTODON_STREAMING_URL", s.StreamingURL); err != nil {
			return err
		}
	}
	if s.Token == "" {
		return config.Invalid("INGEST_MASTODON_TOKEN", "required when INGEST_SOURCE is mastodon (Settings > Development > New application on the instance)")
	}
	switch s.Stream {
	case "public", "public:local":
	case "hashtag":
		if len(splitList(s.Tags)) == 0 {
			return config.Invalid("INGEST_MASTODON_TAGS", "the hashtag stream needs at least one tag")
		}
	default:
		return config.Invalid("INGEST_MASTODON_STREAM", "%q is not public, public:local or hashtag", s.Stream)
	}
	return config.First(
		config.Positive("INGEST_MASTODON_STALL", s.Stall),
		config.NotNegative("INGEST_MASTODON_GAP_PAGES", s.GapPages),
		config.NotNegative("INGEST_MASTODON_BACKFILL", s.Backfill),
		config.AtLeast("INGEST_MASTODON_BACKFILL_PAGES", s.BackfillPages, 1),
	)
}

// New builds the source.
func (s *MastodonSettings) New(env Env) (Source, error) {
	m := &Mastodon{BaseURL: s.URL, StreamingURL: s.StreamingURL, Token: s.Token, Stream: s.Stream,
		Stall: s.Stall, GapPages: s.GapPages, Backfill: s.Backfill, BackfillPages: s.BackfillPages, Env: env}
	for _, t := range splitList(s.Tags) {
		m.Tags = append(m.Tags, strings.TrimPrefix(t, "#"))
	}
	return m, nil
}

// Mastodon reads an instance's streaming API: server-sent events from
// /api/v1/streaming/public (or public/local, or hashtag?tag= for each
// tag), with a user's bearer token. "update" events are posts (see
// wire.DecodeMastodonStatus); deletes, edits and other events are counted
// by kind; the server's heartbeat comments, like every event, keep the
// stall watchdog quiet.
//
// After a reconnect it fills the gap from the matching timeline
// (/api/v1/timelines/public?min_id=<the newest id seen>, or
// timelines/tag/<tag>), at most GapPages pages, before it reads the
// stream again; posts seen before are dropped by id. Statuses that reach
// the instance late with an older id can still be missed. Timeline
// requests keep within the API's limit of 300 in 5 minutes and within
// what the instance's X-RateLimit-Remaining and X-RateLimit-Reset say.
//
// It is resumable: its position is the newest status id seen on each
// feed (MastodonPosition), and a resumed start fills the gap from there
// as a reconnect does. A first start with Backfill reads the timeline
// from that long ago up to now before its first connection, oldest page
// first (min_id paging from the id Mastodon gives that instant: ids are
// milliseconds since the epoch shifted by 16 bits), so that positions
// only grow; the first connection then fills the gap since the
// backfill's last page, and what the stream sends again is dropped by
// id.
type Mastodon struct {
	BaseURL      string
	StreamingURL string // "": BaseURL
	Token        config.Secret
	Stream       string   // public, public:local or hashtag
	Tags         []string // for the hashtag stream
	Stall        time.Duration
	GapPages     int
	// Backfill, on a first start, is how far back the timeline is read
	// before the first connection (0: not at all); BackfillPages is the
	// most pages that reads.
	Backfill      time.Duration
	BackfillPages int
	// Clock times the stall watchdog, the back-off waits and the rate
	// limit (nil: the real clock).
	Clock Clock
	Env

	client *http.Client
	seen   *recentIDs
	bad    *badMessages
	limit  *rateWindow
	from   map[string]string // set by Resume: the newest id seen on each feed

	mu     sync.Mutex        // one post at a time reaches emit, with the position after it (Run)
	newest map[string]string // the newest id seen on each feed, under mu
}

// MastodonPosition is the mastodon source's position: the newest status
// id seen on each feed ("public", "public:local", "hashtag:<tag>"), the
// min_id a resumed start fills the gap from.
type MastodonPosition struct {
	Newest map[string]string `json:"newest"`
}

// Identity names the input: the instance and the stream read from it.
func (m *Mastodon) Identity() string {
	return "mastodon:" + strings.TrimRight(m.BaseURL, "/") + "?stream=" + m.Stream + "&tags=" + strings.Join(m.Tags, ",")
}

// Resume makes the next Run fill each feed's gap from its id in at, a
// MastodonPosition, instead of starting live (or backfilling).
func (m *Mastodon) Resume(at json.RawMessage) error {
	var pos MastodonPosition
	dec := json.NewDecoder(bytes.NewReader(at))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pos); err != nil || len(pos.Newest) == 0 {
		return fmt.Errorf("mastodon position %s: not the newest status id of each feed", at)
	}
	var names []string
	for _, f := range m.feeds() {
		names = append(names, f.name)
	}
	for name, id := range pos.Newest {
		if !slices.Contains(names, name) {
			return fmt.Errorf("mastodon position %s: no feed %q here", at, name)
		}
		if _, err := strconv.ParseUint(id, 10, 64); err != nil {
			return fmt.Errorf("mastodon position %s: %q is not a status id", at, id)
		}
	}
	m.from = pos.Newest
	return nil
}

// mastodonFeed is one stream and the timeline that fills its gaps.
type mastodonFeed struct {
	name     string
	stream   string     // path and query under the streaming URL
	timeline url.Values // query of the timeline request, without min_id
	path     string     // path of the timeline request

	lastID string // the newest local status id seen
}

// feeds returns the streams to read: one, or one per tag.
func (m *Mastodon) feeds() []*mastodonFeed {
	switch m.Stream {
	case "public:local":
		return []*mastodonFeed{{name: "public:local", stream: "/api/v1/streaming/public/local", path: "/api/v1/timelines/public", timeline: url.Values{"local": {"true"}}}}
	case "hashtag":
		var out []*mastodonFeed
		for _, t := range m.Tags {
			out = append(out, &mastodonFeed{name: "hashtag:" + t, stream: "/api/v1/streaming/hashtag?" + url.Values{"tag": {t}}.Encode(),
				path: "/api/v1/timelines/tag/" + url.PathEscape(t), timeline: url.Values{}})
		}
		return out
	}
	return []*mastodonFeed{{name: "public", stream: "/api/v1/streaming/public", path: "/api/v1/timelines/public", timeline: url.Values{}}}
}

// mastodonEventLimit bounds one event's data; wire.MaxMastodonEvent is
// smaller, so that an oversized event is counted and skipped.
const mastodonEventLimit = 4 << 20

// Run streams until ctx ends, each feed on its own connection.
func (m *Mastodon) Run(ctx context.Context, emit Emit) error {
	m.client = &http.Client{Transport: transport()}
	m.seen = newRecentIDs(1 << 14)
	m.bad = &badMessages{m: m.Metrics, log: m.Log}
	m.limit = &rateWindow{n: 300, per: 5 * time.Minute, clock: clockOr(m.Clock)}
	m.mu.Lock()
	m.newest = maps.Clone(m.from)
	if m.newest == nil {
		m.newest = map[string]string{}
	}
	m.mu.Unlock()
	if m.from != nil {
		m.Log.Info("resuming: filling each feed's gap from its newest status", "newest", m.from, "gap_pages", m.GapPages)
	}
	// One post at a time, of any feed, reaches emit, with the position
	// after it: every feed's newest id, and nothing of another feed's
	// later post. The loop's hold on the watchdog comes first, so that
	// the wait for the lock is not a silence.
	locked := func(ctx context.Context, p post.Post, at Position) error {
		s := at.(mastodonSeen)
		m.mu.Lock()
		defer m.mu.Unlock()
		m.sawLocked(s)
		return emit(ctx, p, MastodonPosition{Newest: maps.Clone(m.newest)})
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, f := range m.feeds() {
		g.Go(func() error { return m.runFeed(gctx, f, locked) })
	}
	return g.Wait()
}

// mastodonSeen is a status id seen on a feed, the position handle emits
// a post with and Run's lock turns into a MastodonPosition.
type mastodonSeen struct{ feed, id string }

// sawLocked records s in the newest ids; the caller holds m.mu.
func (m *Mastodon) sawLocked(s mastodonSeen) {
	if newerID(s.id, m.newest[s.feed]) {
		m.newest[s.feed] = s.id
	}
}

// runFeed connects and reconnects one feed until ctx ends. A resumed
// start fills the gap from the feed's position on its first connection;
// a first start backfills first, if asked to.
func (m *Mastodon) runFeed(ctx context.Context, f *mastodonFeed, emit Emit) error {
	c := &mastodonConn{m: m, f: f, emit: emit}
	switch {
	case m.from != nil:
		f.lastID, c.dialed = m.from[f.name], true
	case m.Backfill > 0:
		if err := m.backfill(ctx, f, emit); err != nil {
			return err
		}
		// The first connection fills the gap since the backfill's last
		// page, with one page at least.
		c.dialed, c.join = true, true
	}
	if ctx.Err() != nil {
		return nil
	}
	l := &loop{env: m.Env, name: "mastodon", stall: m.Stall, clock: m.Clock, backoff: backoff.NewLive(),
		authHint: "INGEST_MASTODON_TOKEN", dial: c.dial,
		about: func() []any { return []any{"feed", f.name} }}
	return l.run(ctx, emit)
}

// request builds an authenticated GET; the token goes in the header,
// never in a URL that could be logged.
func (m *Mastodon) request(ctx context.Context, u string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", u, err)
	}
	req.Header.Set("Authorization", "Bearer "+m.Token.Reveal())
	req.Header.Set("User-Agent", "hashtrend-ingest")
	return req, nil
}

// mastodonConn is one feed's connection, again and again.
type mastodonConn struct {
	m      *Mastodon
	f      *mastodonFeed
	emit   Emit // outside the loop's hold on the watchdog, for the gap fill
	dialed bool // a connection was opened before (or a backfill read): the next one has a gap
	join   bool // the gap is the one after a backfill: filled even with GapPages 0
	gap    bool // the open connection has a gap to fill before its first event
	wd     *watchdog
	body   io.ReadCloser
	r      *sseReader
}

// dial opens the feed's stream.
func (c *mastodonConn) dial(ctx context.Context, wd *watchdog) (session, error) {
	m, f := c.m, c.f
	c.gap, c.dialed, c.wd = c.dialed && f.lastID != "" && (m.GapPages > 0 || c.join), true, wd
	base := cmp.Or(m.StreamingURL, m.BaseURL)
	u := strings.TrimRight(base, "/") + f.stream
	req, err := m.request(ctx, u)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	m.Log.Info("connecting", "feed", f.name, "url", u)
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		fail := httpFailure("mastodon stream", resp)
		if resp.StatusCode == http.StatusNotFound {
			fail.err = fmt.Errorf("%w (no streaming API at %s: set INGEST_MASTODON_STREAMING_URL to the instance's configuration.urls.streaming from /api/v2/instance)", fail.err, base)
		}
		return nil, fail
	}
	c.body, c.r = resp.Body, newSSEReader(resp.Body, mastodonEventLimit)
	return c, nil
}

// fill fills the gap after a reconnect from the timeline, with the
// watchdog held meanwhile, before the stream is read again.
func (c *mastodonConn) fill(ctx context.Context) error {
	pages := c.m.GapPages
	if c.join {
		pages = max(pages, 1)
	}
	c.gap, c.join = false, false
	resume := c.wd.pause()
	err := c.m.fillGap(ctx, c.f, c.emit, pages)
	resume()
	var ee *emitError
	if errors.As(err, &ee) {
		return err
	}
	if err != nil && ctx.Err() == nil {
		c.m.Log.Warn("gap not filled", "feed", c.f.name, "err", err)
	}
	return nil
}

func (c *mastodonConn) attrs() []any { return []any{"feed", c.f.name} }
func (c *mastodonConn) close()       { c.body.Close() }

// frame reads and handles one event. A heartbeat is life but not yet
// health: events that decode show the connection healthy (the greeting
// and heartbeats alone do not).
func (c *mastodonConn) frame(ctx context.Context, emit Emit) (bool, error) {
	m := c.m
	if c.gap {
		if err := c.fill(ctx); err != nil {
			return false, err
		}
	}
	ev, err := c.r.next()
	if err != nil {
		return false, err
	}
	if ev.comment {
		m.Metrics.message(wire.KindKeepAlive.String())
		return false, nil
	}
	if ev.tooBig {
		m.bad.add(fmt.Errorf("%s event over %d bytes", ev.name, mastodonEventLimit), mastodonEventLimit)
		return false, nil
	}
	res, err := wire.DecodeMastodon(ev.name, ev.data)
	if err != nil {
		m.bad.add(err, len(ev.data))
		return false, nil
	}
	return true, m.handle(ctx, c.f, emit, res)
}

// handle emits a post not seen before and counts anything else. The
// newest id of the feed moves on either way: a post seen before was
// emitted before.
func (m *Mastodon) handle(ctx context.Context, f *mastodonFeed, emit Emit, r wire.Result) error {
	if r.Kind != wire.KindPost {
		m.Metrics.countMessage(r)
		return nil
	}
	if newerID(r.LocalID, f.lastID) {
		f.lastID = r.LocalID
	}
	seen := mastodonSeen{feed: f.name, id: r.LocalID}
	if !m.seen.add(r.Post.ID) {
		m.mu.Lock()
		m.sawLocked(seen)
		m.mu.Unlock()
		m.Metrics.message("duplicate")
		return nil
	}
	return emitted(ctx, emit, r.Post, seen)
}

// mastodonPage is the most statuses a timeline request returns.
const mastodonPage = 40

// fillGap reads the feed's timeline after its newest id seen, at most
// pages pages. The caller holds the watchdog meanwhile.
func (m *Mastodon) fillGap(ctx context.Context, f *mastodonFeed, emit Emit, pages int) error {
	filled, complete, err := m.fill(ctx, f, emit, pages)
	if err != nil {
		return err
	}
	m.Log.Info("gap filled", "feed", f.name, "statuses", filled, "complete", complete)
	return nil
}

// fill reads the feed's timeline after f.lastID, oldest page first (each
// page's min_id is the newest id of the one before), at most pages pages,
// and hands on the statuses in id order. It says how many statuses it
// read and whether it reached the newest (a page short of full).
func (m *Mastodon) fill(ctx context.Context, f *mastodonFeed, emit Emit, pages int) (statuses int, complete bool, _ error) {
	for range pages {
		page, err := m.timelinePage(ctx, m.timelineURL(f, f.lastID))
		if err != nil {
			return statuses, false, err
		}
		slices.SortFunc(page, func(a, b wire.Result) int { return compareIDs(a.LocalID, b.LocalID) })
		for _, r := range page {
			if err := m.handle(ctx, f, emit, r); err != nil {
				return statuses, false, err
			}
			statuses++
		}
		if len(page) < mastodonPage {
			return statuses, true, nil
		}
	}
	return statuses, false, nil
}

// timelineURL is the URL of the feed's timeline page of the statuses
// right after minID ("": the newest page).
func (m *Mastodon) timelineURL(f *mastodonFeed, minID string) string {
	q := url.Values{}
	maps.Copy(q, f.timeline)
	if minID != "" {
		q.Set("min_id", minID)
	}
	q.Set("limit", fmt.Sprint(mastodonPage))
	return strings.TrimRight(m.BaseURL, "/") + f.path + "?" + q.Encode()
}

// timelineTries is how often a timeline request the rate limit refused
// is asked again, each after the limit's reset.
const timelineTries = 3

// timelinePage reads one timeline page, within the rate limit: a
// request the instance refuses with 429 is asked again once the limit
// has reset.
func (m *Mastodon) timelinePage(ctx context.Context, u string) ([]wire.Result, error) {
	for try := 1; ; try++ {
		if err := m.limit.wait(ctx); err != nil {
			return nil, err
		}
		page, err := m.timelineRequest(ctx, u)
		var f *failure
		if try == timelineTries || !errors.As(err, &f) || f.class != backoff.RateLimit {
			return page, err
		}
		m.Log.Warn("timeline request refused by the rate limit; asking again after its reset", "err", err)
	}
}

// timelineRequest reads one timeline page: a JSON array of Statuses. A
// status that does not decode is counted and skipped. A response that
// does not come within the stall time is an error.
func (m *Mastodon) timelineRequest(ctx context.Context, u string) ([]wire.Result, error) {
	if m.Stall > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.Stall)
		defer cancel()
	}
	req, err := m.request(ctx, u)
	if err != nil {
		return nil, err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	m.limit.observe(resp.Header, resp.StatusCode)
	if resp.StatusCode != http.StatusOK {
		return nil, httpFailure("mastodon timeline", resp)
	}
	var page []json.RawMessage
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&page); err != nil {
		return nil, fmt.Errorf("timeline page: %w", err)
	}
	var out []wire.Result
	for _, s := range page {
		r, err := wire.DecodeMastodonStatus(s)
		if err != nil {
			m.bad.add(err, len(s))
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// newerID reports whether Mastodon status id a is newer than b: ids are
// decimal numbers that grow with time.
func newerID(a, b string) bool {
	return len(a) > len(b) || len(a) == len(b) && a > b
}

// compareIDs orders Mastodon status ids, oldest first.
func compareIDs(a, b string) int {
	return cmp.Or(cmp.Compare(len(a), len(b)), cmp.Compare(a, b))
}

// idAt is the smallest status id Mastodon can give a status created at t
// or later: its ids are the milliseconds since the epoch shifted left by
// 16 bits, plus a sequence in those 16 bits (Mastodon::Snowflake).
func idAt(t time.Time) string { return strconv.FormatUint(uint64(t.UnixMilli())<<16, 10) }

// idTime is the time in id, the other way round (false: not an id).
func idTime(id string) (time.Time, bool) {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(n >> 16)), true
}

// backfill reads the feed's timeline from Backfill ago up to now, oldest
// page first, before the first connection, at most BackfillPages pages.
// The newest page shows how much time a page holds on this timeline;
// where BackfillPages pages would not reach now from Backfill ago, the
// backfill starts later, so that what it reads joins the stream without
// a hole. A failure other than a post that cannot be handed on ends the
// backfill, not the source: the stream is read from then on.
func (m *Mastodon) backfill(ctx context.Context, f *mastodonFeed, emit Emit) error {
	m.Env.connected(true) // reading its input
	defer m.Env.connected(false)
	now := clockOr(m.Clock).Now()
	from := now.Add(-m.Backfill)
	newest, err := m.timelinePage(ctx, m.timelineURL(f, ""))
	if err != nil {
		return m.backfillFailed(ctx, f, err)
	}
	if span, ok := pageSpan(newest); ok {
		if reach := time.Duration(m.BackfillPages) * span; reach < now.Sub(from) {
			m.Log.Info("backfill shortened: INGEST_MASTODON_BACKFILL_PAGES pages of this timeline reach back only so far",
				"feed", f.name, "asked", m.Backfill, "backfill", reach.Round(time.Second), "pages", m.BackfillPages)
			from = now.Add(-reach)
		}
	}
	f.lastID = idAt(from)
	m.Log.Info("first start: backfilling", "feed", f.name, "from", from.UTC(), "min_id", f.lastID, "pages", m.BackfillPages)
	read, complete, err := m.fill(ctx, f, emit, m.BackfillPages)
	if err != nil {
		return m.backfillFailed(ctx, f, err)
	}
	if !complete {
		m.Log.Warn("backfill stopped at INGEST_MASTODON_BACKFILL_PAGES before it reached now; the first connection's gap fill goes on from there",
			"feed", f.name, "statuses", read)
		return nil
	}
	m.Log.Info("backfill done", "feed", f.name, "statuses", read)
	return nil
}

// backfillFailed returns err when it is a post that could not be handed
// on (the source stops), and otherwise logs it and returns nil.
func (m *Mastodon) backfillFailed(ctx context.Context, f *mastodonFeed, err error) error {
	var ee *emitError
	if errors.As(err, &ee) {
		return err
	}
	if ctx.Err() == nil {
		m.Log.Warn("backfill ended early; reading the stream", "feed", f.name, "err", err)
	}
	return nil
}

// pageSpan is the time between the oldest and the newest status of a
// full timeline page, by their ids (false: not a full page of ids).
func pageSpan(page []wire.Result) (time.Duration, bool) {
	if len(page) < mastodonPage {
		return 0, false
	}
	var oldest, newest time.Time
	for i, r := range page {
		t, ok := idTime(r.LocalID)
		if !ok {
			return 0, false
		}
		if i == 0 || t.Before(oldest) {
			oldest = t
		}
		if t.After(newest) {
			newest = t
		}
	}
	return newest.Sub(oldest), newest.After(oldest)
}

// rateWindow keeps requests within n per sliding window of length per,
// and within what the instance's last answer said: none while its
// X-RateLimit-Remaining, less the requests since, is used up, until its
// X-RateLimit-Reset.
type rateWindow struct {
	n     int
	per   time.Duration
	clock Clock

	mu        sync.Mutex
	sent      []time.Time
	remaining int       // the instance's count, less the requests since (valid before reset)
	reset     time.Time // when the instance's count starts over (zero: no count known)
}

// wait blocks until one more request fits in the window and in the
// instance's count, and counts it.
func (w *rateWindow) wait(ctx context.Context) error {
	for {
		w.mu.Lock()
		now := w.clock.Now()
		if !w.reset.IsZero() && !now.Before(w.reset) {
			w.reset = time.Time{} // a new period: unknown until the next answer
		}
		var until time.Duration
		if !w.reset.IsZero() && w.remaining <= 0 {
			until = w.reset.Sub(now)
		} else {
			for len(w.sent) > 0 && now.Sub(w.sent[0]) >= w.per {
				w.sent = w.sent[1:]
			}
			if len(w.sent) < w.n {
				w.sent = append(w.sent, now)
				w.remaining--
				w.mu.Unlock()
				return nil
			}
			until = w.sent[0].Add(w.per).Sub(now)
		}
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.clock.After(until):
		}
	}
}

// observe takes the instance's count from an answer's headers
// (X-RateLimit-Remaining, and X-RateLimit-Reset, an ISO 8601 time). A
// refusal (429) uses the count up; without a reset time it waits a
// minute, as the rate-limit back-off starts.
func (w *rateWindow) observe(h http.Header, status int) {
	remaining, errN := strconv.Atoi(h.Get("X-RateLimit-Remaining"))
	reset, errT := time.Parse(time.RFC3339Nano, h.Get("X-RateLimit-Reset"))
	w.mu.Lock()
	defer w.mu.Unlock()
	if errN == nil && errT == nil {
		w.remaining, w.reset = remaining, reset
	}
	if status == http.StatusTooManyRequests {
		w.remaining = 0
		if errT != nil {
			w.reset = w.clock.Now().Add(time.Minute)
		}
	}
}
