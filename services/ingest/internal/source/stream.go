package source

import (
	"bufio"
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
	"github.com/hashtrend/hashtrend/pkg/wire"
	"github.com/hashtrend/hashtrend/services/ingest/internal/backoff"
)

// stream is what the two network sources share: connect, read lines until
// the connection ends or stalls, sort the failure into a back-off class,
// wait and connect again, until ctx ends.
type stream struct {
	name  string
	stall time.Duration
	clock backoff.Clock
	env   Env
	// prepare runs before each connection (X: sync the rules).
	prepare func(ctx context.Context) error
	// request builds the stream request (signed, for v1.1).
	request func(ctx context.Context) (*http.Response, error)
	decode  func([]byte) (wire.Result, error)
	// authHint names the settings to check after an authentication failure.
	authHint string
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

// run connects and reconnects until ctx ends.
func (s *stream) run(ctx context.Context, emit Emit) error {
	b := backoff.New()
	for {
		err := s.connection(ctx, emit, b)
		if stop, err := s.env.afterConnection(ctx, err, b, s.clock, s.authHint); stop {
			return err
		}
	}
}

// afterConnection decides what follows a connection that ended with err:
// stop (with the error Run returns: nil when ctx ended, the emit error
// when a post could not be handed on), or log, count and wait out the
// back-off of err's class, and connect again. authHint names the settings
// to check after an authentication failure; attrs go into the log line.
func (e Env) afterConnection(ctx context.Context, err error, b *backoff.Backoff, clock backoff.Clock, authHint string, attrs ...any) (stop bool, _ error) {
	e.connected(false)
	if ctx.Err() != nil {
		return true, nil
	}
	var fatal *emitError
	if errors.As(err, &fatal) {
		return true, fatal.err
	}
	f := failed(err)
	wait := b.Next(f.class)
	attrs = append(attrs, "class", f.class.String(), "err", f.err, "reconnect_in", wait)
	if f.class == backoff.Auth {
		e.Log.Error("authentication failed: check "+authHint+"; retrying slowly", attrs...)
	} else {
		e.Log.Warn("disconnected", attrs...)
	}
	e.Metrics.reconnect(f.class, wait)
	if backoff.Sleep(ctx, clock, wait) != nil {
		return true, nil
	}
	return false, nil
}

// emitError is a failure to hand a post on: not the network's fault, so
// the source stops instead of reconnecting.
type emitError struct{ err error }

func (e *emitError) Error() string { return e.err.Error() }

// errStall is a stream that went silent.
var errStall = errors.New("stream stalled")

// connection runs one connection to its end and says why it ended.
func (s *stream) connection(ctx context.Context, emit Emit, b *backoff.Backoff) error {
	if s.prepare != nil {
		if err := s.prepare(ctx); err != nil {
			return err
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stalled atomic.Bool
	// The stall timer covers the wait for the response headers too.
	timer := time.AfterFunc(s.stall, func() { stalled.Store(true); cancel() })
	defer timer.Stop()

	resp, err := s.request(cctx)
	if err != nil {
		if stalled.Load() {
			s.env.Metrics.stalls.Inc()
			return fmt.Errorf("%w: no response in %s", errStall, s.stall)
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return httpFailure("stream", resp)
	}
	s.env.connected(true)
	s.env.Log.Info("connected", "source", s.name)

	// While a post waits for room in the producer the stream is not read:
	// that silence is ours, not a stall.
	paused := func(ctx context.Context, p post.Post, at Position) error {
		timer.Stop()
		defer timer.Reset(s.stall)
		return emit(ctx, p, at)
	}
	healthy := false
	l := lines{decode: s.decode, m: s.env.Metrics, log: s.env.Log}
	r := bufio.NewReaderSize(&stallReader{r: resp.Body, timer: timer, d: s.stall}, 1<<16)
	var ended *failure
	err = readLines(r, func(line []byte) error {
		if !healthy {
			// Data flows: the connection is healthy, the back-off starts over.
			healthy = true
			b.Reset()
		}
		res, err := l.handle(ctx, paused, line, nil)
		if err != nil {
			return &emitError{err: err}
		}
		switch res.Kind {
		case wire.KindDisconnect:
			ended = disconnectFailure(res.Notice)
			s.env.Log.Warn("disconnect message", "code", res.Notice.Code, "reason", res.Notice.Reason)
		case wire.KindWarning:
			s.env.Log.Warn("stall warning", "code", res.Notice.Code, "message", res.Notice.Reason)
		case wire.KindLimit:
			s.env.Log.Debug("limit notice", "undelivered", res.Notice.Limit)
		case wire.KindStreamError:
			if f := streamErrorFailure(res.Errors); f != nil {
				ended = f
			}
			for _, e := range res.Errors {
				s.env.Log.Warn("stream error", "title", e.Title, "type", e.Type, "detail", e.Detail, "disconnect_type", e.DisconnectType)
			}
		}
		return nil
	})
	var ee *emitError
	switch {
	case errors.As(err, &ee):
		return err
	case stalled.Load():
		s.env.Metrics.stalls.Inc()
		return fmt.Errorf("%w: silent for %s", errStall, s.stall)
	case ctx.Err() != nil:
		return ctx.Err()
	case ended != nil:
		return ended
	case err == nil:
		return errors.New("stream closed by the server")
	}
	return fmt.Errorf("reading stream: %w", err)
}

// readLines calls fn for each line of r, \r\n or \n terminated, without
// the terminator; keep-alive lines are empty lines.
func readLines(r *bufio.Reader, fn func([]byte) error) error {
	var long []byte
	for {
		chunk, err := r.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			long = append(long, chunk...)
			if len(long) > maxLine {
				return fmt.Errorf("line longer than %d bytes", maxLine)
			}
			continue
		case err != nil && len(chunk) == 0 && len(long) == 0:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		line := chunk
		if long != nil {
			line = append(long, chunk...)
			long = nil
		}
		line = trimEOL(line)
		if ferr := fn(line); ferr != nil {
			return ferr
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// stallReader restarts the stall timer whenever bytes arrive.
type stallReader struct {
	r     io.Reader
	timer *time.Timer
	d     time.Duration
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.timer.Reset(s.d)
	}
	return n, err
}

// disconnectFailure sorts a v1.1 disconnect message by its code
// (https://developer.twitter.com/en/docs/twitter-api/v1/tweets/filter-realtime/guides/streaming-message-types).
func disconnectFailure(n wire.Notice) *failure {
	err := fmt.Errorf("disconnect %s: %s", n.Code, n.Reason)
	switch n.Code {
	case "6", "7": // token revoked, admin logout
		return &failure{class: backoff.Auth, err: err}
	case "2", "9", "10": // duplicate stream, max message limit, stream exception
		return &failure{class: backoff.HTTP, err: err}
	}
	// shutdown, control request, stall, normal, broker stall, shed load
	return &failure{class: backoff.Network, err: err}
}

// streamErrorFailure sorts a v2 errors line: a disconnect or a connection
// limit ends the connection; other errors (a rule that matched nothing, a
// missing expansion) are only logged.
func streamErrorFailure(errs []wire.StreamError) *failure {
	for _, e := range errs {
		title := strings.ToLower(e.Title + " " + e.Type)
		switch {
		case strings.Contains(title, "connectionexception"), strings.Contains(title, "too many connections"),
			strings.Contains(strings.ToLower(e.Detail), "maximum allowed connection"):
			return &failure{class: backoff.RateLimit, err: e}
		case e.DisconnectType != "", strings.Contains(title, "operational-disconnect"), strings.Contains(title, "operational disconnect"):
			return &failure{class: backoff.Network, err: e}
		}
	}
	return nil
}

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
