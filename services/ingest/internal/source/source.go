// Package source reads posts from where they come from: the X API v2
// filtered stream (x.go), the Twitter API v1.1 statuses/filter stream
// (twitter.go), recorded stream files (file.go), standard input (stdin.go),
// the synthetic generator (synthetic.go), and the free live streams of
// Bluesky (bluesky.go, Jetstream over WebSocket) and Mastodon (mastodon.go,
// server-sent events), which share live.go (the memory of recent post
// ids). Each file holds one kind of
// source whole: its settings (its own INGEST_<NAME>_* variables, their
// validation) and the source they build; kinds.go lists them by name,
// with the helpers their settings share.
//
// Every source is a Source: Run reads until the input ends or ctx is
// cancelled and hands each post to an Emit function, which blocks while the
// producer has no room; a source never reads ahead of what it could hand on,
// so backpressure reaches the network connection or the file. The four
// network sources run one connection loop (netloop.go): it dials, reads
// frames, drops a silent connection and reconnects with the platform's
// back-off (package backoff), all on one Clock; each source brings only
// its dial and its wire format (stream.go for the two Twitter APIs). The
// recorded sources stop at the end of their input. Non-post lines
// (keep-alives, deletes, limits, warnings...) are counted by kind, never
// produced.
package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/retry"
	"github.com/hashtrend/hashtrend/pkg/wire"
	"github.com/hashtrend/hashtrend/services/ingest/internal/backoff"
)

// Emit hands one post on. It blocks while there is no room and returns an
// error only when the post cannot be handed on at all; the source then
// stops. at is where the source is in its input just after p, for resuming
// (see Position); nil from a source that cannot resume.
type Emit func(ctx context.Context, p post.Post, at Position) error

// Position is where a source is in its input after a post: a value that
// encoding/json encodes, never changed once emitted.
type Position any

// Source is one origin of posts.
type Source interface {
	// Run reads posts and emits them until the input ends (nil), ctx is
	// cancelled (nil: stopping is not a failure) or it fails.
	Run(ctx context.Context, emit Emit) error
}

// Env is what the service gives every source it builds: the metrics to
// observe with, the state to report connections to and the logger.
type Env struct {
	Metrics *Metrics
	State   *State
	Log     *slog.Logger
}

// connected reports that the source is (or is no longer) connected or
// reading its input.
func (e Env) connected(up bool) {
	if e.State != nil {
		e.State.up.Store(up)
	}
	if e.Metrics != nil {
		e.Metrics.connected(up)
	}
}

// State is what the service knows of its source beyond the posts: whether
// it is connected (or reading its input). The source sets it through its
// Env; readiness reads it.
type State struct {
	up atomic.Bool
}

// Connected reports whether the source is connected or reading.
func (s *State) Connected() bool { return s.up.Load() }

// Metrics are a source's counters, labelled with its name. They only
// observe: the service's own accounting and state live elsewhere.
type Metrics struct {
	read       prometheus.Counter
	messages   *prometheus.CounterVec
	reconnects *prometheus.CounterVec
	backoff    *prometheus.CounterVec
	stalls     prometheus.Counter
	up         prometheus.Gauge
}

// NewMetrics registers the metrics of the source called name on reg.
func NewMetrics(reg prometheus.Registerer, name string) *Metrics {
	l := prometheus.Labels{"source": name}
	m := &Metrics{
		read: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hashtrend_ingest_posts_read_total", Help: "Posts read from the source.", ConstLabels: l}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hashtrend_ingest_messages_total", Help: "Non-post messages read from the source, by kind (malformed: could not be decoded; filtered: posts a filter left out; duplicate: posts a reconnect delivered again).", ConstLabels: l},
			[]string{"kind"}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hashtrend_ingest_reconnects_total", Help: "Reconnects of a network source, by the class of failure before them.", ConstLabels: l},
			[]string{"class"}),
		backoff: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hashtrend_ingest_backoff_seconds_total", Help: "Seconds spent backing off before reconnects, by class of failure.", ConstLabels: l},
			[]string{"class"}),
		stalls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hashtrend_ingest_stream_stalls_total", Help: "Connections dropped because the stream went silent.", ConstLabels: l}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hashtrend_ingest_source_connected", Help: "1 while the source is connected (or reading its input).", ConstLabels: l}),
	}
	reg.MustRegister(m.read, m.messages, m.reconnects, m.backoff, m.stalls, m.up)
	// Every series exists from the start at zero, so that dashboards and
	// rate() see it before the first event of its kind.
	for k := wire.KindUnknown; k <= wire.KindLast; k++ {
		if k != wire.KindPost {
			m.messages.WithLabelValues(k.String())
		}
	}
	for _, k := range []string{"malformed", "filtered", "duplicate"} {
		m.messages.WithLabelValues(k)
	}
	for c := backoff.Network; c <= backoff.Auth; c++ {
		m.reconnects.WithLabelValues(c.String())
		m.backoff.WithLabelValues(c.String())
	}
	return m
}

// PostRead counts one post read from the source.
func (m *Metrics) PostRead() { m.read.Inc() }

func (m *Metrics) connected(up bool) {
	if up {
		m.up.Set(1)
	} else {
		m.up.Set(0)
	}
}

func (m *Metrics) message(kind string) { m.messages.WithLabelValues(kind).Inc() }

func (m *Metrics) reconnect(c backoff.Class, wait time.Duration) {
	m.reconnects.WithLabelValues(c.String()).Inc()
	m.backoff.WithLabelValues(c.String()).Add(wait.Seconds())
}

// lines decodes stream lines with decode and emits the posts; the other
// kinds are counted and returned to the caller, which may act on them.
type lines struct {
	decode func([]byte) (wire.Result, error)
	m      *Metrics
	log    *slog.Logger
}

// handle decodes one line. A post is emitted with at, the position after
// the line (an emit error is returned); a malformed line is counted and
// logged, not an error: one bad line must not stop a stream.
func (l lines) handle(ctx context.Context, emit Emit, line []byte, at Position) (wire.Result, error) {
	r, err := l.decode(line)
	if err != nil {
		l.m.message("malformed")
		l.log.Warn("undecodable line skipped", "err", err, "bytes", len(line))
		return r, nil
	}
	if r.Kind == wire.KindPost {
		if err := emit(ctx, r.Post, at); err != nil {
			return r, fmt.Errorf("emit post %s: %w", r.Post.ID, err)
		}
		return r, nil
	}
	l.m.message(r.Kind.String())
	return r, nil
}

// badMessages counts messages that could not be decoded (the "malformed"
// kind) and logs the first at warn, the rest at debug, so that a stream of
// broken messages cannot flood the log.
type badMessages struct {
	m    *Metrics
	log  *slog.Logger
	mu   sync.Mutex
	seen bool
}

func (b *badMessages) add(err error, size int) {
	b.m.message("malformed")
	b.mu.Lock()
	first := !b.seen
	b.seen = true
	b.mu.Unlock()
	if first {
		b.log.Warn("undecodable message skipped (further ones are logged at debug)", "err", err, "bytes", size)
		return
	}
	b.log.Debug("undecodable message skipped", "err", err, "bytes", size)
}

// pacer spaces events out to a rate. Falling far behind (the producer was
// blocked) restarts the schedule rather than bursting to catch up.
type pacer struct {
	interval time.Duration
	start    time.Time
	n        int64
}

func newPacer(rate float64) *pacer {
	if rate <= 0 {
		return &pacer{}
	}
	return &pacer{interval: time.Duration(float64(time.Second) / rate)}
}

// wait blocks until the next event is due.
func (p *pacer) wait(ctx context.Context) error {
	if p.interval == 0 {
		return ctx.Err()
	}
	now := time.Now()
	if p.start.IsZero() {
		p.start = now
	}
	due := p.start.Add(time.Duration(p.n) * p.interval)
	p.n++
	if lag := now.Sub(due); lag > time.Second {
		p.start, p.n = now, 1
		return ctx.Err()
	}
	return retry.Sleep(ctx, due.Sub(now))
}

// stopped turns the end of ctx into a clean stop.
func stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return nil
	}
	return err
}
