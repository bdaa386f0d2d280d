package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
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

// testClock is the network loop's clock in tests: its time moves only
// when the test (or waitOut, for the back-off) moves it.
type testClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []testTimer
	set    chan struct{} // closed (and replaced) when a timer is set
}

type testTimer struct {
	at time.Time
	d  time.Duration
	ch chan time.Time
}

func newTestClock() *testClock { return newTestClockAt(time.Unix(1_700_000_000, 0)) }

// newTestClockAt returns a test clock that starts at now.
func newTestClockAt(now time.Time) *testClock {
	return &testClock{now: now, set: make(chan struct{})}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.timers = append(c.timers, testTimer{at: c.now.Add(d), d: d, ch: ch})
	close(c.set)
	c.set = make(chan struct{})
	return ch
}

// Advance moves the clock on by d and fires the timers that are due.
func (c *testClock) Advance(d time.Duration) {
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

// armed returns a channel that is closed when the next timer is set.
func (c *testClock) armed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.set
}

// pending returns how many timers set for d are pending (d < 0: any).
func (c *testClock) pending(d time.Duration) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, tm := range c.timers {
		if tm.d == d || d < 0 {
			n++
		}
	}
	return n
}

// awaitTimers waits until n timers are pending.
func (c *testClock) awaitTimers(t *testing.T, n int) {
	t.Helper()
	c.await(t, fmt.Sprintf("%d timers pending", n), func() bool { return c.pending(-1) >= n })
}

// await waits until cond holds, checking it each time a timer is set.
func (c *testClock) await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !c.wait(what, cond) {
		t.Fatalf("not the case after 60 s: %s", what)
	}
}

// wait waits until cond holds (true), checking it each time a timer is
// set, or 60 s have passed (false).
func (c *testClock) wait(what string, cond func() bool) bool {
	deadline := time.After(60 * time.Second)
	for {
		armed := c.armed()
		if cond() {
			return true
		}
		select {
		case <-armed:
		case <-deadline:
			return false
		}
	}
}

// waits are the back-off waits of one source, waited out at once.
type waits struct {
	mu     sync.Mutex
	got    []time.Duration
	stopAt int
	stop   context.CancelFunc
}

// waitOut ends every back-off wait of the source whose metrics are m as
// soon as it begins, by moving clock on by it, and records the waits. A
// wait begins after the source has counted the reconnect and added the
// wait to its back-off seconds, and before it sets its timer: so the wait
// is what the metrics added, and it is over once that timer is pending and
// the clock has moved on by it. A test's stall times must differ from
// every back-off wait (45 s does), or the watchdog's timers of the
// connections that ended could be taken for the wait's.
func waitOut(t *testing.T, clock *testClock, m *Metrics) *waits {
	w := &waits{}
	reconnects := func() (n, seconds float64) {
		for c := backoff.Network; c <= backoff.Auth; c++ {
			n += testutil.ToFloat64(m.reconnects.WithLabelValues(c.String()))
			seconds += testutil.ToFloat64(m.backoff.WithLabelValues(c.String()))
		}
		return n, seconds
	}
	ctx := t.Context()
	go func() {
		var handled, before float64
		for armed := clock.armed(); ; {
			select {
			case <-ctx.Done():
				return
			case <-armed:
			}
			armed = clock.armed()
			n, seconds := reconnects()
			if n == handled {
				continue
			}
			if n > handled+1 {
				t.Errorf("%v reconnects at once: their waits cannot be told apart", n-handled)
				return
			}
			d := time.Duration(math.Round((seconds - before) * float64(time.Second)))
			if n := clock.pending(d); n == 0 {
				continue // counted; its timer is not set yet
			} else if n > 1 {
				t.Errorf("%d timers of %s pending: a stall time of the test equals a back-off wait", n, d)
				return
			}
			handled, before = n, seconds
			w.mu.Lock()
			w.got = append(w.got, d)
			if w.stop != nil && len(w.got) >= w.stopAt {
				w.stop()
			}
			w.mu.Unlock()
			clock.Advance(d)
		}
	}()
	return w
}

// Waits returns the waits so far.
func (w *waits) Waits() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.got)
}

// stopAfter cancels (the source's context) once n waits have begun.
func (w *waits) stopAfter(n int, cancel context.CancelFunc) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopAt, w.stop = n, cancel
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

// backoffCase is one failure a fake API keeps answering with, and the
// waits the source must take before its reconnects.
type backoffCase struct {
	name string
	resp conn
	want []time.Duration
}

// checkBackoff runs each case against a source from start, whose fake's
// script then answers every connection with the case's response, until
// the source has waited len(want) times, and compares the waits.
func checkBackoff(t *testing.T, cases []backoffCase, start func(t *testing.T, clock *testClock, m *Metrics) (Source, *script, *systest.Buffer)) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			clock, m := newTestClock(), testMetrics("test")
			w := waitOut(t, clock, m)
			w.stopAfter(len(tc.want), cancel)
			src, s, _ := start(t, clock, m)
			for range len(tc.want) + 1 {
				s.conns = append(s.conns, tc.resp)
			}
			runFor(t, ctx, src, (&collector{}).emit)
			if got := w.Waits(); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("waits %v\nwant  %v", got, tc.want)
			}
		})
	}
}
