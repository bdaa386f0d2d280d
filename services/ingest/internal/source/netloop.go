package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/services/ingest/internal/backoff"
)

// This file is the one connection loop of the network sources (x,
// twitter, bluesky, mastodon): dial, read frames until the connection
// ends, drop it when it goes silent, sort the failure into a back-off
// class, wait, and dial again, until ctx ends or a post cannot be handed
// on. A source brings what is its own: how to dial, and how to read and
// handle one frame of its wire format (a session).

// Clock is the time of the network loop: the stall watchdog reads Now and
// waits on After, and the back-off between connections waits on After.
// Tests move it by hand.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// clockOr returns c, or the real clock when c is nil.
func clockOr(c Clock) Clock {
	if c == nil {
		return systemClock{}
	}
	return c
}

// session is one open connection of a network source, as its dial
// returns it.
type session interface {
	// frame reads one frame (a line, a WebSocket message, a server-sent
	// event) and handles it: posts go to emit (which holds the watchdog
	// while it blocks), the rest is counted. fed reports data that shows
	// the connection healthy (the back-off starts over). err ends the
	// connection: a read error (io.EOF: the server closed it), a failure
	// the stream announced, or an emit error.
	frame(ctx context.Context, emit Emit) (fed bool, err error)
	// attrs are the connection's attributes for the "connected" log line.
	attrs() []any
	close()
}

// loop connects and reconnects one network stream.
type loop struct {
	env   Env
	name  string // the source's kind, in the "connected" log line
	stall time.Duration
	clock Clock
	// backoff is the source's schedule (backoff.New or backoff.NewLive).
	backoff *backoff.Backoff
	// authHint names the settings to check after an authentication failure.
	authHint string
	// prepare, if set, runs before each connection, outside the
	// watchdog (x: sync the stream rules).
	prepare func(ctx context.Context) error
	// dial opens one connection; the watchdog is running meanwhile (a
	// silent handshake is a stall) and the session may hold it (a gap
	// fill that reads elsewhere) or feed it bytes as they arrive.
	dial func(ctx context.Context, wd *watchdog) (session, error)
	// about, if set, gives the attributes of the disconnect log line,
	// after the connection it is about has ended (bluesky: the host and
	// the next one).
	about func() []any
}

// run connects and reconnects until ctx ends (nil) or a post cannot be
// handed on (that error).
func (l *loop) run(ctx context.Context, emit Emit) error {
	l.clock = clockOr(l.clock)
	for {
		err := l.connection(ctx, emit)
		if stop, err := l.after(ctx, err); stop {
			return err
		}
	}
}

// connection runs one connection to its end and says why it ended.
func (l *loop) connection(ctx context.Context, emit Emit) error {
	if l.prepare != nil {
		if err := l.prepare(ctx); err != nil {
			return err
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The watchdog covers the dial and the wait for the response too.
	wd := newWatchdog(l.clock, l.stall)
	var stalled atomic.Bool
	go func() {
		if wd.run(cctx) {
			stalled.Store(true)
			cancel()
		}
	}()
	s, err := l.dial(cctx, wd)
	if err != nil {
		if stalled.Load() && ctx.Err() == nil {
			l.env.Metrics.stalls.Inc()
			return fmt.Errorf("%w: no response in %s", errStall, l.stall)
		}
		return err
	}
	defer s.close()
	l.env.connected(true)
	l.env.Log.Info("connected", append([]any{"source", l.name}, s.attrs()...)...)

	// While a post waits for room in the producer the stream is not read:
	// that silence is ours, not a stall.
	paused := func(ctx context.Context, p post.Post, at Position) error {
		resume := wd.pause()
		defer resume()
		return emit(ctx, p, at)
	}
	for {
		fed, err := s.frame(cctx, paused)
		if err != nil {
			return l.ended(ctx, err, stalled.Load())
		}
		wd.active()
		if fed {
			l.backoff.Reset()
		}
	}
}

// ended says why a connection whose frame failed with err ended: the post
// that could not be handed on, the watchdog, ctx, the server, or the
// failure the stream announced or the read met.
func (l *loop) ended(ctx context.Context, err error, stalled bool) error {
	var ee *emitError
	var f *failure
	switch {
	case errors.As(err, &ee):
		return err
	case stalled:
		l.env.Metrics.stalls.Inc()
		return fmt.Errorf("%w: silent for %s", errStall, l.stall)
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, io.EOF):
		return errors.New("stream closed by the server")
	case errors.As(err, &f):
		return err
	}
	return fmt.Errorf("reading stream: %w", err)
}

// after decides what follows a connection that ended with err: stop (with
// the error run returns: nil when ctx ended, the emit error when a post
// could not be handed on), or log, count and wait out the back-off of
// err's class, and connect again.
func (l *loop) after(ctx context.Context, err error) (stop bool, _ error) {
	l.env.connected(false)
	if ctx.Err() != nil {
		return true, nil
	}
	var fatal *emitError
	if errors.As(err, &fatal) {
		return true, fatal.err
	}
	f := failed(err)
	wait := l.backoff.Next(f.class)
	var attrs []any
	if l.about != nil {
		attrs = l.about()
	}
	attrs = append(attrs, "class", f.class.String(), "err", f.err, "reconnect_in", wait)
	if f.class == backoff.Auth {
		l.env.Log.Error("authentication failed: check "+l.authHint+"; retrying slowly", attrs...)
	} else {
		l.env.Log.Warn("disconnected", attrs...)
	}
	l.env.Metrics.reconnect(f.class, wait)
	if backoff.Sleep(ctx, l.clock, wait) != nil {
		return true, nil
	}
	return false, nil
}

// watchdog notices a connection that has gone silent: every frame (a
// heartbeat too) is activity, and a silence of d ends the connection. While
// the source waits for room in the producer it is paused: that silence is
// ours, not the stream's.
type watchdog struct {
	clock  Clock
	d      time.Duration
	first  <-chan time.Time // armed when the watchdog is made
	last   atomic.Int64     // the clock's UnixNano at the last activity
	paused atomic.Int32
}

func newWatchdog(clock Clock, d time.Duration) *watchdog {
	w := &watchdog{clock: clock, d: d}
	w.active()
	w.first = clock.After(d)
	return w
}

// active records activity now.
func (w *watchdog) active() { w.last.Store(w.clock.Now().UnixNano()) }

// pause holds the watchdog until the returned function is called, which
// counts as activity.
func (w *watchdog) pause() (resume func()) {
	w.paused.Add(1)
	return func() {
		w.active()
		w.paused.Add(-1)
	}
}

// run waits until ctx ends (false) or the connection has been silent for
// d while not paused (true).
func (w *watchdog) run(ctx context.Context) bool {
	timer := w.first
	for {
		select {
		case <-ctx.Done():
			return false
		case <-timer:
		}
		// paused before last: resume records the activity before it
		// lets go, so a watchdog that finds it let go reads that activity.
		wait := w.d
		if w.paused.Load() == 0 {
			silent := w.clock.Now().Sub(time.Unix(0, w.last.Load()))
			if silent >= w.d {
				return true
			}
			wait = w.d - silent
		}
		timer = w.clock.After(wait)
	}
}

// lively is a response body that tells the watchdog of every byte that
// arrives, so that a long frame arriving slowly is not a silence.
type lively struct {
	io.ReadCloser
	wd *watchdog
}

func (l lively) Read(p []byte) (int, error) {
	n, err := l.ReadCloser.Read(p)
	if n > 0 {
		l.wd.active()
	}
	return n, err
}

// failure is why a connection ended, sorted for the back-off.
type failure struct {
	class backoff.Class
	err   error
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// failed sorts err: a failure keeps its class, anything else is a network
// error.
func failed(err error) *failure {
	var f *failure
	if errors.As(err, &f) {
		return f
	}
	return &failure{class: backoff.Network, err: err}
}

// httpFailure sorts an HTTP error response and reads a little of its body
// for the log.
func httpFailure(what string, resp *http.Response) *failure {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	err := fmt.Errorf("%s: HTTP %s: %s", what, resp.Status, strings.TrimSpace(string(body)))
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return &failure{class: backoff.Auth, err: err}
	case 420, http.StatusTooManyRequests:
		return &failure{class: backoff.RateLimit, err: err}
	}
	return &failure{class: backoff.HTTP, err: err}
}

// emitError is a failure to hand a post on: not the network's fault, so
// the source stops instead of reconnecting.
type emitError struct{ err error }

func (e *emitError) Error() string { return e.err.Error() }

// emitted hands p on through emit and marks a failure as an emitError.
func emitted(ctx context.Context, emit Emit, p post.Post, at Position) error {
	if err := emit(ctx, p, at); err != nil {
		return &emitError{err: fmt.Errorf("emit post %s: %w", p.ID, err)}
	}
	return nil
}

// errStall is a stream that went silent.
var errStall = errors.New("stream stalled")

// transport is the HTTP transport of the network sources: it bounds the
// connection set-up but not the response, which streams for as long as the
// server keeps sending.
func transport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          4,
		IdleConnTimeout:       90 * time.Second,
	}
}
