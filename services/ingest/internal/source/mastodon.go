package source

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
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
	URL          string        `envconfig:"INGEST_MASTODON_URL" default:"https://mastodon.social" desc:"mastodon: the instance's base URL"`
	StreamingURL string        `envconfig:"INGEST_MASTODON_STREAMING_URL" desc:"mastodon: base URL of the streaming server, where it is not the instance's (empty: INGEST_MASTODON_URL)"`
	Token        config.Secret `envconfig:"INGEST_MASTODON_TOKEN" desc:"mastodon: a user access token (any account; read scope), required for public streams since Mastodon 4.2 (never logged)"`
	Stream       string        `envconfig:"INGEST_MASTODON_STREAM" default:"public" desc:"mastodon: public (the federated timeline), public:local (this instance only) or hashtag"`
	Tags         string        `envconfig:"INGEST_MASTODON_TAGS" desc:"mastodon: with the hashtag stream, the hashtags to follow, comma separated, without #"`
	Stall        time.Duration `envconfig:"INGEST_MASTODON_STALL" default:"60s" desc:"mastodon: silence (no event, no heartbeat; the server sends one every 15 s) after which the stream is reconnected"`
	GapPages     int           `envconfig:"INGEST_MASTODON_GAP_PAGES" default:"10" desc:"mastodon: after a reconnect, most timeline pages (40 statuses each) read to fill the gap (0: no gap fill)"`
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
	)
}

// New builds the source.
func (s *MastodonSettings) New(env Env) (Source, error) {
	m := &Mastodon{BaseURL: s.URL, StreamingURL: s.StreamingURL, Token: s.Token, Stream: s.Stream,
		Stall: s.Stall, GapPages: s.GapPages, Env: env}
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
// timelines/tag/<tag>), at most GapPages pages and within the API's limit
// of 300 requests in 5 minutes, before it reads the stream again; posts
// seen before are dropped by id. Statuses that reach the instance late
// with an older id can still be missed. Mastodon positions cannot be
// resumed across restarts: the source is not Resumable.
type Mastodon struct {
	BaseURL      string
	StreamingURL string // "": BaseURL
	Token        config.Secret
	Stream       string   // public, public:local or hashtag
	Tags         []string // for the hashtag stream
	Stall        time.Duration
	GapPages     int
	// Clock times the stall watchdog, the back-off waits and the rate
	// limit (nil: the real clock).
	Clock Clock
	Env

	client *http.Client
	seen   *recentIDs
	bad    *badMessages
	limit  *rateWindow
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
	var mu sync.Mutex // one post at a time reaches emit
	locked := func(ctx context.Context, p post.Post, _ Position) error {
		mu.Lock()
		defer mu.Unlock()
		return emit(ctx, p, nil)
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, f := range m.feeds() {
		g.Go(func() error { return m.runFeed(gctx, f, locked) })
	}
	return g.Wait()
}

// runFeed connects and reconnects one feed until ctx ends.
func (m *Mastodon) runFeed(ctx context.Context, f *mastodonFeed, emit Emit) error {
	c := &mastodonConn{m: m, f: f, emit: emit}
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
	dialed bool // a connection was opened before: the next one has a gap
	gap    bool // the open connection has a gap to fill before its first event
	wd     *watchdog
	body   io.ReadCloser
	r      *sseReader
}

// dial opens the feed's stream.
func (c *mastodonConn) dial(ctx context.Context, wd *watchdog) (session, error) {
	m, f := c.m, c.f
	c.gap, c.dialed, c.wd = c.dialed && f.lastID != "" && m.GapPages > 0, true, wd
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
	c.gap = false
	resume := c.wd.pause()
	err := c.m.fillGap(ctx, c.f, c.emit)
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

// handle emits a post not seen before and counts anything else.
func (m *Mastodon) handle(ctx context.Context, f *mastodonFeed, emit Emit, r wire.Result) error {
	if r.Kind != wire.KindPost {
		m.Metrics.countMessage(r)
		return nil
	}
	if newerID(r.LocalID, f.lastID) {
		f.lastID = r.LocalID
	}
	if !m.seen.add(r.Post.ID) {
		m.Metrics.message("duplicate")
		return nil
	}
	return emitted(ctx, emit, r.Post, nil)
}

// mastodonPage is the most statuses a timeline request returns.
const mastodonPage = 40

// fillGap reads the feed's timeline after its newest id seen, oldest page
// first, and hands on the statuses in id order. The caller holds the
// watchdog meanwhile.
func (m *Mastodon) fillGap(ctx context.Context, f *mastodonFeed, emit Emit) error {
	filled := 0
	for page := 0; page < m.GapPages; page++ {
		q := url.Values{}
		for k, v := range f.timeline {
			q[k] = v
		}
		q.Set("min_id", f.lastID)
		q.Set("limit", fmt.Sprint(mastodonPage))
		u := strings.TrimRight(m.BaseURL, "/") + f.path + "?" + q.Encode()
		if err := m.limit.wait(ctx); err != nil {
			return err
		}
		statuses, err := m.timelinePage(ctx, u)
		if err != nil {
			return err
		}
		slices.SortFunc(statuses, func(a, b wire.Result) int {
			return cmp.Or(cmp.Compare(len(a.LocalID), len(b.LocalID)), cmp.Compare(a.LocalID, b.LocalID))
		})
		for _, r := range statuses {
			if err := m.handle(ctx, f, emit, r); err != nil {
				return err
			}
			filled++
		}
		if len(statuses) < mastodonPage {
			break
		}
	}
	m.Log.Info("gap filled", "feed", f.name, "statuses", filled)
	return nil
}

// timelinePage reads one timeline page: a JSON array of Statuses. A
// status that does not decode is counted and skipped.
func (m *Mastodon) timelinePage(ctx context.Context, u string) ([]wire.Result, error) {
	req, err := m.request(ctx, u)
	if err != nil {
		return nil, err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
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

// rateWindow keeps requests within n per sliding window of length per.
type rateWindow struct {
	n     int
	per   time.Duration
	clock Clock

	mu   sync.Mutex
	sent []time.Time
}

// wait blocks until one more request fits in the window, and counts it.
func (w *rateWindow) wait(ctx context.Context) error {
	for {
		w.mu.Lock()
		now := w.clock.Now()
		for len(w.sent) > 0 && now.Sub(w.sent[0]) >= w.per {
			w.sent = w.sent[1:]
		}
		if len(w.sent) < w.n {
			w.sent = append(w.sent, now)
			w.mu.Unlock()
			return nil
		}
		until := w.sent[0].Add(w.per).Sub(now)
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.clock.After(until):
		}
	}
}
