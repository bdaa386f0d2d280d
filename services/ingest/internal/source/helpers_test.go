package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/services/ingest/internal/backoff"
)

// fakeClock records the back-off waits and returns at once; onWait (when
// set) sees each wait and may end the test's context.
type fakeClock struct {
	mu     sync.Mutex
	waits  []time.Duration
	onWait func(n int, d time.Duration)
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	n := len(c.waits)
	c.mu.Unlock()
	if c.onWait != nil {
		c.onWait(n, d)
	}
	ch := make(chan time.Time, 1)
	ch <- time.Time{}
	return ch
}

func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// stopAfterWaits returns a clock that cancels after n waits.
func stopAfterWaits(n int, cancel context.CancelFunc) *fakeClock {
	return &fakeClock{onWait: func(i int, _ time.Duration) {
		if i >= n {
			cancel()
		}
	}}
}

// manualClock is a stall-watchdog clock that moves only when the test
// says so.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []manualTimer
	armed  chan struct{}
}

type manualTimer struct {
	at time.Time
	ch chan time.Time
}

func newManualClock() *manualClock {
	return &manualClock{now: time.Unix(1_700_000_000, 0), armed: make(chan struct{}, 1)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.timers = append(c.timers, manualTimer{at: c.now.Add(d), ch: ch})
	select {
	case c.armed <- struct{}{}:
	default:
	}
	return ch
}

// Advance moves the clock on by d and fires the timers that are due.
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, tm := range c.timers {
		if tm.at.After(c.now) {
			kept = append(kept, tm)
			continue
		}
		tm.ch <- c.now
	}
	c.timers = kept
}

// awaitTimers waits until n timers are pending.
func (c *manualClock) awaitTimers(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		c.mu.Lock()
		pending := len(c.timers)
		c.mu.Unlock()
		if pending >= n {
			return
		}
		select {
		case <-c.armed:
		case <-deadline:
			t.Fatalf("%d timers pending after 60 s, want %d", pending, n)
		}
	}
}

func testLog() (*slog.Logger, *systest.Buffer) {
	b := &systest.Buffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

func testMetrics(name string) *Metrics { return NewMetrics(prometheus.NewRegistry(), name) }

// collector is an Emit that records posts and cancels after want of them.
type collector struct {
	mu     sync.Mutex
	posts  []post.Post
	at     []Position
	want   int
	cancel context.CancelFunc
}

func (c *collector) emit(_ context.Context, p post.Post, at Position) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.posts = append(c.posts, p)
	c.at = append(c.at, at)
	if c.want > 0 && len(c.posts) >= c.want && c.cancel != nil {
		c.cancel()
	}
	return nil
}

func (c *collector) ids() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return ids(c.posts)
}

// ids are the posts' ids, in order.
func ids(posts []post.Post) []string {
	var out []string
	for _, p := range posts {
		out = append(out, p.ID)
	}
	return out
}

// collect runs src until it has emitted n posts and returns them.
func collect(t *testing.T, src Source, n int) []post.Post {
	t.Helper()
	c, wait := collectInBackground(t, src, n)
	wait()
	return c.posts
}

// collectInBackground starts src, to run until it has emitted n posts; the
// returned function waits for that (see runInBackground).
func collectInBackground(t *testing.T, src Source, n int) (*collector, func()) {
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	c := &collector{want: n, cancel: cancel}
	return c, runInBackground(t, ctx, src, c.emit)
}

// collectUntil runs src until cond holds, then stops it, and returns the
// posts it emitted.
func collectUntil(t *testing.T, src Source, what string, cond func() bool) []post.Post {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c := &collector{}
	wait := runInBackground(t, ctx, src, c.emit)
	systest.Await(t, what, time.Minute, cond)
	cancel()
	wait()
	return c.posts
}

// checkMalformedCounted checks what a source does with bad input among the
// good: every bad message counted as malformed, only the first logged,
// and no connection ended for it.
func checkMalformedCounted(t *testing.T, m *Metrics, logs *systest.Buffer, bad, connections int) {
	t.Helper()
	if got := testutil.ToFloat64(m.messages.WithLabelValues("malformed")); got != float64(bad) {
		t.Errorf("%v malformed, want %d", got, bad)
	}
	if n := strings.Count(logs.String(), "level=WARN msg=\"undecodable message"); n != 1 {
		t.Errorf("%d warnings for bad messages, want 1:\n%s", n, logs.String())
	}
	if connections != 1 {
		t.Errorf("%d connections: a bad message must not end one", connections)
	}
}

// runFor runs src until it returns, failing the test after a generous
// deadline (the source must have stopped on its own or on cancel).
func runFor(t *testing.T, ctx context.Context, src Source, emit Emit) {
	t.Helper()
	runInBackground(t, ctx, src, emit)()
}

// runInBackground starts src; the returned function waits for Run to
// return (after the test cancels ctx, or the collector does) and fails
// the test if it errs or takes more than a generous minute.
func runInBackground(t *testing.T, ctx context.Context, src Source, emit Emit) (wait func()) {
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, emit) }()
	return func() {
		t.Helper()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("source did not stop within 60 s")
		}
	}
}

// writeFiles writes a file of each name in dir, holding what content
// returns (asked once per file): gzipped for a name that ends in .gz,
// compressed by the bzip2 tool for one that ends in .bz2 (left out, and
// the test says so, where the tool is missing), plain otherwise. It
// returns how many files it wrote.
func writeFiles(t *testing.T, dir string, content func() []byte, names ...string) int {
	t.Helper()
	write := func(path string, b []byte) {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for _, name := range names {
		path := filepath.Join(dir, name)
		switch {
		case strings.HasSuffix(name, ".bz2"):
			if _, err := exec.LookPath("bzip2"); err != nil {
				t.Log("no bzip2 tool: .bz2 not covered")
				continue
			}
			plain := strings.TrimSuffix(path, ".bz2")
			write(plain, content())
			if out, err := exec.Command("bzip2", plain).CombinedOutput(); err != nil {
				t.Fatalf("bzip2: %v %s", err, out)
			}
		case strings.HasSuffix(name, ".gz"):
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			_, _ = zw.Write(content())
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			write(path, b.Bytes())
		default:
			write(path, content())
		}
		n++
	}
	return n
}

// conn is one scripted stream connection of a fake API.
type conn func(w http.ResponseWriter, r *http.Request)

// script hands out connections in order; after the last, it answers 503.
type script struct {
	mu    sync.Mutex
	conns []conn
	count int
}

func (s *script) next() conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count++
	if len(s.conns) == 0 {
		return status(http.StatusServiceUnavailable, `{"title":"Service Unavailable"}`)
	}
	c := s.conns[0]
	s.conns = s.conns[1:]
	return c
}

func (s *script) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// status answers with an error status and body.
func status(code int, body string) conn {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

// lines streams the given lines (each sent with \r\n, as the APIs do),
// then either ends the response or, with silent, holds the connection open
// without a byte until the client goes away.
func streamLines(silent bool, lines ...string) conn {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		f := w.(http.Flusher)
		f.Flush()
		for _, l := range lines {
			if _, err := w.Write([]byte(l + "\r\n")); err != nil {
				return
			}
			f.Flush()
		}
		if silent {
			<-r.Context().Done()
		}
	}
}

// checkAuthFailure runs the source start makes, whose fake refuses its
// credentials, until it has waited n times on clock: the waits must be
// the back-off of an auth failure (a minute, doubling), and the log must
// say each of says and hold none of secrets. It returns the log.
func checkAuthFailure(t *testing.T, n int, start func(clock backoff.Clock) (Source, *systest.Buffer), says []string, secrets ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	clock := stopAfterWaits(n, cancel)
	src, logs := start(clock)
	runFor(t, ctx, src, (&collector{}).emit)
	var want []time.Duration
	for i := range n {
		want = append(want, time.Minute<<i)
	}
	if got := clock.Waits(); !reflect.DeepEqual(got, want) {
		t.Errorf("waits %v, want %v", got, want)
	}
	out := logs.String()
	for _, s := range says {
		if !strings.Contains(out, s) {
			t.Errorf("the log does not say %q:\n%s", s, out)
		}
	}
	for _, secret := range secrets {
		if strings.Contains(out, secret) {
			t.Errorf("secret %q is in the log:\n%s", secret, out)
		}
	}
	return out
}

// backoffCase is one failure a fake API keeps answering with, and the
// waits the source must take before its reconnects.
type backoffCase struct {
	name string
	resp conn
	want []time.Duration
}

// checkBackoff runs each case against a source from start, whose fake's
// script then answers every connection with the case's response, until
// the source has waited len(want) times on the injected clock, and
// compares the waits.
func checkBackoff(t *testing.T, cases []backoffCase, start func(t *testing.T, clock backoff.Clock) (Source, *script)) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			clock := stopAfterWaits(len(tc.want), cancel)
			src, s := start(t, clock)
			for range len(tc.want) + 1 {
				s.conns = append(s.conns, tc.resp)
			}
			runFor(t, ctx, src, (&collector{}).emit)
			if got := clock.Waits(); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("waits %v\nwant  %v", got, tc.want)
			}
		})
	}
}
