package source

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashtrend/hashtrend/pkg/wire"
)

// This file holds what the two live sources, Bluesky and Mastodon, share:
// the stall watchdog, the memory of recent post ids that drops reconnect
// overlaps, and the once-per-kind log of bad messages.

// Clock is the time of a stall watchdog; tests move it by hand.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func watchClockOr(c Clock) Clock {
	if c == nil {
		return systemClock{}
	}
	return c
}

// watchdog notices a connection that has gone silent: every message (a
// heartbeat too) is activity, and a silence of d ends the connection
// through its cancel function. While the source waits for room in the
// producer it is paused: that silence is ours, not the stream's.
type watchdog struct {
	clock  Clock
	d      time.Duration
	last   atomic.Int64 // the clock's UnixNano at the last activity
	paused atomic.Int32
}

func newWatchdog(clock Clock, d time.Duration) *watchdog {
	w := &watchdog{clock: clock, d: d}
	w.active()
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
	wait := w.d
	for {
		select {
		case <-ctx.Done():
			return false
		case <-w.clock.After(wait):
		}
		silent := w.clock.Now().Sub(time.Unix(0, w.last.Load()))
		switch {
		case w.paused.Load() > 0:
			wait = w.d
		case silent >= w.d:
			return true
		default:
			wait = w.d - silent
		}
	}
}

// recentIDs remembers the last n post ids, to drop the posts a reconnect
// delivers twice. Safe for concurrent use.
type recentIDs struct {
	mu   sync.Mutex
	set  map[string]struct{}
	ring []string
	next int
}

func newRecentIDs(n int) *recentIDs {
	return &recentIDs{set: make(map[string]struct{}, n), ring: make([]string, n)}
}

// add records id and reports whether it is new.
func (r *recentIDs) add(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.set[id]; ok {
		return false
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.set, old)
	}
	r.ring[r.next] = id
	r.set[id] = struct{}{}
	r.next = (r.next + 1) % len(r.ring)
	return true
}

// badMessages counts messages that could not be decoded (the "malformed"
// kind) and logs the first at warn, the rest at debug, so a stream of
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

// countMessage counts a non-post message by its kind.
func (m *Metrics) countMessage(r wire.Result) { m.message(r.Kind.String()) }
