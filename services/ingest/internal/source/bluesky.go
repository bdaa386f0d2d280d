package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
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

	"github.com/hashtrend/hashtrend/pkg/wire"
	"github.com/hashtrend/hashtrend/services/ingest/internal/backoff"
)

// Bluesky reads Bluesky's posts from Jetstream's v1 /subscribe WebSocket,
// which needs no account: wantedCollections=app.bsky.feed.post, the DIDs
// to follow if any, and optionally zstd compression with Jetstream's
// dictionary.
//
// Its position is the time_us of the last event handled. A reconnect, or
// a start from a stored position, asks for cursor = position − Rewind
// (Jetstream delivers at least once there, and the hosts' clocks differ a
// little), and the posts seen again are dropped by id. A failed or silent
// connection (no message for Stall) moves on to the next host, after a
// back-off of 250 ms doubling to 30 s that starts over once a connection
// delivers.
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
	// Cursor is the time_us to start from (0: the live tail).
	Cursor int64
	// Clock times the back-off waits and Watch the stall watchdog (nil:
	// the real clock).
	Clock backoff.Clock
	Watch Clock

	Metrics *Metrics
	Log     *slog.Logger

	position atomic.Int64
}

// jetstreamReadLimit bounds one WebSocket message. It is well above
// wire.MaxJetstreamFrame so that an oversized event is counted as bad and
// skipped instead of closing the connection.
const jetstreamReadLimit = 16 << 20

// Position returns the time_us of the last event handled (the starting
// Cursor before any).
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
	b.position.Store(b.Cursor)
	c := &jetstreamConn{
		b:       b,
		dec:     wire.Jetstream{Cashtags: b.Cashtags},
		zr:      zr,
		seen:    newRecentIDs(1 << 16),
		bad:     &badMessages{m: b.Metrics, log: b.Log},
		client:  &http.Client{Transport: transport()},
		backoff: backoff.NewLive(),
		watch:   watchClockOr(b.Watch),
	}
	clock := clockOr(b.Clock)
	for host := 0; ; host = (host + 1) % len(b.Hosts) {
		err := c.run(ctx, emit, b.Hosts[host])
		b.Metrics.setConnected(false)
		if ctx.Err() != nil {
			return nil
		}
		var fatal *emitError
		if errors.As(err, &fatal) {
			return fatal.err
		}
		f := failed(err)
		wait := c.backoff.Next(f.class)
		next := b.Hosts[(host+1)%len(b.Hosts)]
		b.Log.Warn("disconnected", "host", b.Hosts[host], "class", f.class.String(), "err", f.err, "next_host", next, "reconnect_in", wait)
		b.Metrics.reconnect(f.class, wait)
		if err := backoff.Sleep(ctx, clock, wait); err != nil {
			return nil
		}
	}
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

// jetstreamConn is what outlives one connection: decoder, recent ids,
// back-off.
type jetstreamConn struct {
	b       *Bluesky
	dec     wire.Jetstream
	zr      *zstd.Decoder
	seen    *recentIDs
	bad     *badMessages
	client  *http.Client
	backoff *backoff.Backoff
	watch   Clock
	buf     []byte
}

// run reads one connection to its end and says why it ended.
func (c *jetstreamConn) run(ctx context.Context, emit Emit, host string) error {
	b := c.b
	cursor := int64(0)
	if pos := b.position.Load(); pos > 0 {
		cursor = max(1, pos-b.Rewind.Microseconds())
	}
	u, err := b.URL(host, cursor)
	if err != nil {
		return err
	}
	dctx, cancelDial := context.WithTimeout(ctx, b.Stall)
	ws, resp, err := websocket.Dial(dctx, u, &websocket.DialOptions{
		HTTPClient: c.client,
		HTTPHeader: http.Header{"User-Agent": {"hashtrend-ingest"}},
	})
	cancelDial()
	if err != nil {
		if resp != nil {
			return httpFailure("jetstream handshake", resp)
		}
		if dctx.Err() != nil && ctx.Err() == nil {
			b.Metrics.stalls.Inc()
			return fmt.Errorf("%w: no handshake from %s in %s", errStall, host, b.Stall)
		}
		return fmt.Errorf("jetstream dial %s: %w", host, err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(jetstreamReadLimit)
	b.Metrics.setConnected(true)
	b.Log.Info("connected", "source", "bluesky", "url", u)

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wd := newWatchdog(c.watch, b.Stall)
	var stalled atomic.Bool
	go func() {
		if wd.run(cctx) {
			stalled.Store(true)
			cancel()
		}
	}()
	healthy := false
	for {
		typ, msg, err := ws.Read(cctx)
		if err != nil {
			switch {
			case stalled.Load():
				b.Metrics.stalls.Inc()
				return fmt.Errorf("%w: %s silent for %s", errStall, host, b.Stall)
			case ctx.Err() != nil:
				return ctx.Err()
			}
			return fmt.Errorf("reading %s: %w", host, err)
		}
		wd.active()
		if typ == websocket.MessageBinary && c.zr != nil {
			if c.buf, err = c.zr.DecodeAll(msg, c.buf[:0]); err != nil {
				c.bad.add(fmt.Errorf("zstd: %w", err), len(msg))
				continue
			}
			msg = c.buf
		}
		r, err := c.dec.Decode(msg)
		if err != nil {
			c.bad.add(err, len(msg))
			continue
		}
		if !healthy {
			// Events flow: the back-off starts over.
			healthy = true
			c.backoff.Reset()
		}
		if err := c.handle(ctx, emit, wd, r); err != nil {
			return err
		}
	}
}

// handle emits a post that is new and wanted, counts anything else, and
// then moves the position on.
func (c *jetstreamConn) handle(ctx context.Context, emit Emit, wd *watchdog, r wire.Result) error {
	b := c.b
	switch {
	case r.Kind != wire.KindPost:
		b.Metrics.countMessage(r)
	case !wantLang(b.Langs, r.Post.Lang):
		b.Metrics.message("filtered")
	case !c.seen.add(r.Post.ID):
		b.Metrics.message("duplicate")
	default:
		resume := wd.pause()
		err := b.Metrics.emit(ctx, emit, r.Post)
		resume()
		if err != nil {
			return &emitError{err: fmt.Errorf("emit post %s: %w", r.Post.ID, err)}
		}
	}
	if r.TimeUS > b.position.Load() {
		b.position.Store(r.TimeUS)
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
