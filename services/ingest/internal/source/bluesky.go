package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	// The dictionary of Jetstream's v1 zstd compression, as Jetstream
	// publishes it (MIT licence, Copyright (c) 2023 Jaz): its own module
	// is where it is kept, so it is imported rather than copied.
	jetstreammodels "github.com/bluesky-social/jetstream/pkg/models"
	"github.com/coder/websocket"
	"github.com/klauspost/compress/zstd"

	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/wire"
	"github.com/hashtrend/hashtrend/services/ingest/internal/backoff"
)

// BlueskySettings are the bluesky source's variables.
type BlueskySettings struct {
	Hosts    string        `envconfig:"INGEST_BLUESKY_HOSTS" default:"jetstream2.us-east.bsky.network,jetstream1.us-east.bsky.network,jetstream1.us-west.bsky.network" desc:"bluesky: Jetstream instances to read from, in turn on failure: host names or ws(s):// URLs, comma separated"`
	Langs    string        `envconfig:"INGEST_BLUESKY_LANGS" desc:"bluesky: keep only posts in these languages, comma separated (en keeps en-US; empty: all)"`
	DIDs     string        `envconfig:"INGEST_BLUESKY_DIDS" desc:"bluesky: read only the posts of these accounts, comma separated DIDs (empty: everyone)"`
	Cashtags bool          `envconfig:"INGEST_BLUESKY_CASHTAGS" default:"false" desc:"bluesky: count cashtags ($AAPL) as hashtags"`
	Compress bool          `envconfig:"INGEST_BLUESKY_COMPRESS" default:"false" desc:"bluesky: ask Jetstream for zstd-compressed messages (about half the bandwidth)"`
	Rewind   time.Duration `envconfig:"INGEST_BLUESKY_REWIND" default:"5s" desc:"bluesky: how far before its position a reconnect resumes; the overlap is dropped by post id"`
	Stall    time.Duration `envconfig:"INGEST_BLUESKY_STALL" default:"60s" desc:"bluesky: silence after which the connection is dropped and the next host tried"`
	Backfill time.Duration `envconfig:"INGEST_BLUESKY_BACKFILL" default:"0s" desc:"bluesky: on a first start (no committed position), start this far back, e.g. 6h20m, replayed as fast as Jetstream sends it, then live (at most 36h, Jetstream's replay window; 0: live only)"`
}

// jetstreamLookback is how far back Jetstream's cursor replay reaches by
// default, on v1 and v2 alike (docs/ingest.md cites where it says so): a
// longer backfill would be cut to it without a word from the server.
const jetstreamLookback = 36 * time.Hour

// Validate checks the settings.
func (s *BlueskySettings) Validate() error {
	hosts := splitList(s.Hosts)
	if len(hosts) == 0 {
		return config.Invalid("INGEST_BLUESKY_HOSTS", "at least one Jetstream host is needed")
	}
	for _, h := range hosts {
		if _, err := (&Bluesky{}).URL(h, 0); err != nil {
			return config.Invalid("INGEST_BLUESKY_HOSTS", "%v", err)
		}
	}
	for _, d := range splitList(s.DIDs) {
		if !strings.HasPrefix(d, "did:") {
			return config.Invalid("INGEST_BLUESKY_DIDS", "%q is not a DID (did:plc:... or did:web:...)", d)
		}
	}
	if s.Backfill > jetstreamLookback {
		return config.Invalid("INGEST_BLUESKY_BACKFILL", "%s is further back than Jetstream replays (%s)", s.Backfill, jetstreamLookback)
	}
	return config.First(
		config.NotNegative("INGEST_BLUESKY_REWIND", s.Rewind),
		config.Positive("INGEST_BLUESKY_STALL", s.Stall),
		config.NotNegative("INGEST_BLUESKY_BACKFILL", s.Backfill),
	)
}

// New builds the source.
func (s *BlueskySettings) New(env Env) (Source, error) {
	return &Bluesky{Hosts: splitList(s.Hosts), Langs: splitList(s.Langs), DIDs: splitList(s.DIDs),
		Cashtags: s.Cashtags, Compress: s.Compress, Rewind: s.Rewind, Stall: s.Stall, Backfill: s.Backfill, Env: env}, nil
}

// Bluesky reads Bluesky's posts from Jetstream's v1 /subscribe WebSocket,
// which needs no account: wantedCollections=app.bsky.feed.post, the DIDs
// to follow if any, and optionally zstd compression with Jetstream's
// dictionary.
//
// Its position is the time_us of the last event handled, with the host
// that stamped it (BlueskyPosition). A reconnect, or a start resumed from
// a position, asks for cursor = position − Rewind (Jetstream delivers at
// least once there, and each host stamps time_us with its own clock); the
// posts delivered again are dropped: by id within a run, and by time_us on
// the host of a resumed position. Resumed on another host, the overlap is
// left to the counter's dedupe by post id. A failed or silent connection
// (no message for Stall) moves on to the next host, after a back-off of
// 250 ms doubling to 30 s that starts over once a connection delivers.
//
// A first start (no position to resume) with Backfill asks for cursor =
// now − Backfill instead of the live tail: Jetstream replays from there
// as fast as it sends, then goes on live on the same connection, and the
// positions are the events' time_us as for any other start. Jetstream
// replays only what it still holds and says nothing when a cursor is
// older: the first event then comes later than the cursor, and the
// source logs once how far back the instance served (see checkReplay).
type Bluesky struct {
	// Hosts are the Jetstream instances, tried in turn: host names
	// (wss://NAME/subscribe) or ws:// and wss:// URLs.
	Hosts []string
	// DIDs, if any, are the only accounts whose posts are read.
	DIDs []string
	// Langs, if any, keep only posts whose first language is one of them
	// or a variant ("en" keeps "en-US").
	Langs []string
	// Cashtags counts cashtag facets as hashtags (see wire.Jetstream).
	Cashtags bool
	// Compress asks for zstd-compressed messages.
	Compress bool
	// Rewind is how far before the position a reconnect resumes.
	Rewind time.Duration
	// Stall is how long a connection may be silent before it is dropped.
	Stall time.Duration
	// Backfill, on a first start, is how far back the first cursor is
	// (0: the live tail).
	Backfill time.Duration
	// Clock times the stall watchdog and the back-off waits (nil: the
	// real clock).
	Clock Clock
	Env

	// from is the position to resume after (set by Resume); position is
	// the time_us of the last event handled.
	from     BlueskyPosition
	position atomic.Int64
}

// BlueskyPosition is the bluesky source's position: an event's time_us
// and the host that stamped it.
type BlueskyPosition struct {
	TimeUS int64  `json:"time_us"`
	Host   string `json:"host"`
}

// Identity names the input: the hosts and what is asked of them.
func (b *Bluesky) Identity() string {
	return "bluesky:" + strings.Join(b.Hosts, ",") + "?dids=" + strings.Join(b.DIDs, ",")
}

// Resume makes the next Run start just after at, a BlueskyPosition, on
// its host when that is still one of Hosts.
func (b *Bluesky) Resume(at json.RawMessage) error {
	var pos BlueskyPosition
	dec := json.NewDecoder(bytes.NewReader(at))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pos); err != nil || pos.TimeUS <= 0 {
		return fmt.Errorf("bluesky position %s: not a time_us and host", at)
	}
	b.from = pos
	return nil
}

// jetstreamReadLimit bounds one WebSocket message. It is well above
// wire.MaxJetstreamFrame so that an oversized event is counted as bad and
// skipped instead of closing the connection.
const jetstreamReadLimit = 16 << 20

// Position returns the time_us of the last event handled (the resumed
// position's before any).
func (b *Bluesky) Position() int64 { return b.position.Load() }

// Run reads until ctx ends.
func (b *Bluesky) Run(ctx context.Context, emit Emit) error {
	if len(b.Hosts) == 0 {
		return errors.New("bluesky: no Jetstream host")
	}
	var zr *zstd.Decoder
	if b.Compress {
		var err error
		zr, err = zstd.NewReader(nil, zstd.WithDecoderDicts(jetstreammodels.ZSTDDictionary),
			zstd.WithDecoderMaxMemory(jetstreamReadLimit), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return fmt.Errorf("bluesky: zstd dictionary: %w", err)
		}
		defer zr.Close()
	}
	b.position.Store(b.from.TimeUS)
	clock := clockOr(b.Clock)
	c := &jetstreamConn{
		b:      b,
		dec:    wire.Jetstream{Cashtags: b.Cashtags},
		zr:     zr,
		seen:   newRecentIDs(1 << 16),
		floor:  b.from,
		bad:    &badMessages{m: b.Metrics, log: b.Log},
		client: &http.Client{Transport: transport()},
		next:   max(0, slices.Index(b.Hosts, b.from.Host)),
		clock:  clock,
	}
	switch {
	case b.from.TimeUS > 0:
		c.replaying = true
		b.Log.Info("resuming", "host", b.Hosts[c.next], "time_us", b.from.TimeUS, "rewind", b.Rewind)
	case b.Backfill > 0:
		from := clock.Now().Add(-b.Backfill)
		c.start, c.replaying = from.UnixMicro(), true
		b.Log.Info("first start: backfilling", "backfill", b.Backfill, "from", from.UTC(), "cursor", c.start)
	}
	l := &loop{env: b.Env, name: "bluesky", stall: b.Stall, clock: b.Clock, backoff: backoff.NewLive(),
		authHint: "INGEST_BLUESKY_HOSTS", dial: c.dial,
		// A failed or silent connection moves on to the next host.
		about: func() []any { return []any{"host", c.host, "next_host", b.Hosts[c.next]} }}
	return l.run(ctx, emit)
}

// URL returns the subscribe URL of host, resuming at cursor (0: live).
func (b *Bluesky) URL(host string, cursor int64) (string, error) {
	if !strings.Contains(host, "://") {
		host = "wss://" + host
	}
	u, err := url.Parse(host)
	if err != nil {
		return "", fmt.Errorf("jetstream host %q: %w", host, err)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/subscribe"
	}
	q := u.Query()
	q.Set("wantedCollections", "app.bsky.feed.post")
	for _, d := range b.DIDs {
		q.Add("wantedDids", d)
	}
	if cursor > 0 {
		q.Set("cursor", strconv.FormatInt(cursor, 10))
	}
	if b.Compress {
		q.Set("compress", "true")
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// jetstreamConn is what outlives one connection: decoder, what was seen,
// the host to dial next.
type jetstreamConn struct {
	b      *Bluesky
	dec    wire.Jetstream
	zr     *zstd.Decoder
	seen   *recentIDs
	floor  BlueskyPosition // events of floor.Host up to floor.TimeUS were handled
	host   string          // of the connection
	url    string          // of the connection
	next   int             // the index of the host to dial next
	bad    *badMessages
	client *http.Client
	ws     *websocket.Conn
	buf    []byte
	clock  Clock
	start  int64 // the backfill's cursor: the first one, and the earliest any reconnect asks for
	// check is the cursor the next event is compared with (0: none), and
	// checked says that the run's first cursor has been checked.
	check   int64
	checked bool
	// replaying is set while a backfill or a resume is behind the live
	// tail, for the one log line that says it has caught up.
	replaying bool
}

// replaySlack is how much later than its cursor the first event of a
// replay may come before the source takes the cursor for older than what
// the instance holds: the public firehose has events every few
// milliseconds, a host's clock may be a little off.
const replaySlack = time.Minute

// dial opens a connection to the next host, resuming at the position
// minus the rewind (not before the backfill's cursor), or at the
// backfill's cursor before any event.
func (c *jetstreamConn) dial(ctx context.Context, _ *watchdog) (session, error) {
	b := c.b
	c.host = b.Hosts[c.next]
	c.next = (c.next + 1) % len(b.Hosts)
	cursor := c.start
	if pos := b.position.Load(); pos > 0 {
		// Never before the backfill's cursor: what is older was not
		// asked for.
		cursor = max(1, pos-b.Rewind.Microseconds(), c.start)
	}
	// The run's first cursor (the backfill's or the resumed position's)
	// is checked against the first event it brings, unless the DIDs
	// filter makes events rare enough that a late first one says nothing.
	c.check = 0
	if !c.checked && cursor > 0 && len(b.DIDs) == 0 {
		c.check = cursor
	}
	u, err := b.URL(c.host, cursor)
	if err != nil {
		return nil, err
	}
	ws, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{
		HTTPClient: c.client,
		HTTPHeader: http.Header{"User-Agent": {"hashtrend-ingest"}},
	})
	if err != nil {
		if resp != nil {
			return nil, httpFailure("jetstream handshake", resp)
		}
		return nil, fmt.Errorf("jetstream dial %s: %w", c.host, err)
	}
	ws.SetReadLimit(jetstreamReadLimit)
	c.ws, c.url = ws, u
	return c, nil
}

func (c *jetstreamConn) attrs() []any { return []any{"url", c.url} }
func (c *jetstreamConn) close()       { c.ws.CloseNow() }

// frame reads and handles one WebSocket message. An event that decodes
// shows the connection healthy.
func (c *jetstreamConn) frame(ctx context.Context, emit Emit) (bool, error) {
	typ, msg, err := c.ws.Read(ctx)
	if err != nil {
		return false, fmt.Errorf("%s: %w", c.host, err)
	}
	if typ == websocket.MessageBinary && c.zr != nil {
		if c.buf, err = c.zr.DecodeAll(msg, c.buf[:0]); err != nil {
			c.bad.add(fmt.Errorf("zstd: %w", err), len(msg))
			return false, nil
		}
		msg = c.buf
	}
	r, err := c.dec.Decode(msg)
	if err != nil {
		c.bad.add(err, len(msg))
		return false, nil
	}
	if c.check > 0 {
		c.checkReplay(r.TimeUS)
	}
	return true, c.handle(ctx, emit, r)
}

// checkReplay compares the first event of the run's first replay with
// its cursor. Jetstream replays what it still holds from the cursor on
// and starts at the oldest it holds when the cursor is older, without a
// word: an event more than replaySlack after the cursor says so, and the
// source logs once how far back the instance served.
func (c *jetstreamConn) checkReplay(first int64) {
	cursor := c.check
	c.check, c.checked = 0, true
	if time.Duration(first-cursor)*time.Microsecond <= replaySlack {
		return
	}
	now := c.clock.Now()
	asked, served := time.UnixMicro(cursor), time.UnixMicro(first)
	c.b.Log.Warn("the Jetstream instance replays less than asked: it holds nothing older",
		"host", c.host, "asked", now.Sub(asked).Round(time.Second), "served", now.Sub(served).Round(time.Second),
		"cursor", cursor, "first_time_us", first)
}

// handle emits a post that is new and wanted, counts anything else, and
// then moves the position on.
func (c *jetstreamConn) handle(ctx context.Context, emit Emit, r wire.Result) error {
	b := c.b
	switch {
	case r.Kind != wire.KindPost:
		b.Metrics.countMessage(r)
	case !wantLang(b.Langs, r.Post.Lang):
		b.Metrics.message("filtered")
	case c.host == c.floor.Host && r.TimeUS <= c.floor.TimeUS, !c.seen.add(r.Post.ID):
		b.Metrics.message("duplicate")
	default:
		if err := emitted(ctx, emit, r.Post, BlueskyPosition{TimeUS: r.TimeUS, Host: c.host}); err != nil {
			return err
		}
	}
	if r.TimeUS > b.position.Load() {
		b.position.Store(r.TimeUS)
	}
	if c.replaying && time.UnixMicro(r.TimeUS).After(c.clock.Now().Add(-replaySlack)) {
		c.replaying = false
		b.Log.Info("replay caught up: reading live", "host", c.host, "time_us", r.TimeUS)
	}
	return nil
}

// wantLang reports whether a post in lang passes the language filter.
func wantLang(langs []string, lang string) bool {
	if len(langs) == 0 {
		return true
	}
	for _, l := range langs {
		if strings.EqualFold(lang, l) || len(lang) > len(l) && lang[len(l)] == '-' && strings.EqualFold(lang[:len(l)], l) {
			return true
		}
	}
	return false
}
