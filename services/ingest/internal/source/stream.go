package source

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/hashtrend/hashtrend/pkg/wire"
	"github.com/hashtrend/hashtrend/services/ingest/internal/backoff"
)

// lineStream is the session of the two Twitter APIs (x, twitter): a
// response body of JSON lines, keep-alives as empty lines, and notices
// (disconnects, stall warnings, limits, v2 errors) between the posts.
type lineStream struct {
	env    Env
	body   io.ReadCloser
	r      *bufio.Reader
	long   []byte
	decode func([]byte) (wire.Result, error)
	bad    *badMessages
	// ended is the failure a notice announced; it is why the connection
	// ends once the server closes it.
	ended *failure
}

// dialLines returns a loop's dial for a line stream: request sends the
// stream request, decode reads a line of its API.
func dialLines(env Env, request func(ctx context.Context) (*http.Response, error), decode func([]byte) (wire.Result, error)) func(context.Context, *watchdog) (session, error) {
	bad := &badMessages{m: env.Metrics, log: env.Log}
	return func(ctx context.Context, wd *watchdog) (session, error) {
		resp, err := request(ctx)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			defer resp.Body.Close()
			return nil, httpFailure("stream", resp)
		}
		body := lively{ReadCloser: resp.Body, wd: wd}
		return &lineStream{env: env, body: resp.Body, r: bufio.NewReaderSize(body, 1<<16), decode: decode, bad: bad}, nil
	}
}

func (s *lineStream) attrs() []any { return nil }
func (s *lineStream) close()       { s.body.Close() }

// frame reads and handles one line. Any line, a keep-alive too, shows the
// connection healthy.
func (s *lineStream) frame(ctx context.Context, emit Emit) (bool, error) {
	line, err := s.line()
	if err != nil {
		if s.ended != nil {
			return false, s.ended
		}
		return false, err
	}
	res, err := s.decode(line)
	if err != nil {
		s.bad.add(err, len(line))
		return true, nil
	}
	log := s.env.Log
	switch res.Kind {
	case wire.KindPost:
		return true, emitted(ctx, emit, res.Post, nil)
	case wire.KindDisconnect:
		s.ended = disconnectFailure(res.Notice)
		log.Warn("disconnect message", "code", res.Notice.Code, "reason", res.Notice.Reason)
	case wire.KindWarning:
		log.Warn("stall warning", "code", res.Notice.Code, "message", res.Notice.Reason)
	case wire.KindLimit:
		log.Debug("limit notice", "undelivered", res.Notice.Limit)
	case wire.KindStreamError:
		if f := streamErrorFailure(res.Errors); f != nil {
			s.ended = f
		}
		for _, e := range res.Errors {
			log.Warn("stream error", "title", e.Title, "type", e.Type, "detail", e.Detail, "disconnect_type", e.DisconnectType)
		}
	}
	s.env.Metrics.countMessage(res)
	return true, nil
}

// line reads one line, \r\n or \n terminated, without the terminator;
// keep-alive lines are empty lines. io.EOF once the stream ended.
func (s *lineStream) line() ([]byte, error) {
	for {
		chunk, err := s.r.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			s.long = append(s.long, chunk...)
			if len(s.long) > maxLine {
				return nil, fmt.Errorf("line longer than %d bytes", maxLine)
			}
			continue
		case err != nil && len(chunk) == 0 && len(s.long) == 0:
			return nil, err
		}
		line := chunk
		if s.long != nil {
			line = append(s.long, chunk...)
			s.long = nil
		}
		// A last line without its end comes with the read's error: the
		// line now, the error (io.EOF) on the next call.
		return trimEOL(line), nil
	}
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
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
