// Package backoff holds the reconnect policies of the streaming APIs, as the
// platforms document them: TCP/IP-level errors back off linearly (+250 ms up
// to 16 s), HTTP errors exponentially (5 s doubling up to 320 s), rate
// limiting (HTTP 420 and 429) exponentially from 60 s, and authentication
// failures, which no retry will cure until someone fixes the credentials,
// start at 60 s too so that a bad token is never hammered. A Backoff keeps
// one policy per class of error and forgets them all after a healthy
// connection.
//
// Waiting goes through a Clock so that tests check the sequence of waits
// without sleeping.
package backoff

import (
	"context"
	"time"
)

// Class is the kind of failure a reconnect follows.
type Class int

// The classes of failure, each with its own policy.
const (
	// Network is a TCP/IP-level error: refused, reset, timed out, stalled.
	Network Class = iota
	// HTTP is an HTTP error status other than the ones below.
	HTTP
	// RateLimit is HTTP 420 or 429, or the API saying too many connections.
	RateLimit
	// Auth is HTTP 401 or 403, or the API saying the credentials are bad.
	Auth
)

func (c Class) String() string {
	switch c {
	case Network:
		return "network"
	case HTTP:
		return "http"
	case RateLimit:
		return "rate_limit"
	case Auth:
		return "auth"
	}
	return "unknown"
}

// Policy is one back-off schedule: the first wait is First; each further
// wait adds Step (linear) or multiplies by Factor (exponential), up to Max.
type Policy struct {
	First  time.Duration
	Step   time.Duration
	Factor float64
	Max    time.Duration
}

// The documented policies.
var (
	NetworkPolicy   = Policy{First: 250 * time.Millisecond, Step: 250 * time.Millisecond, Max: 16 * time.Second}
	HTTPPolicy      = Policy{First: 5 * time.Second, Factor: 2, Max: 320 * time.Second}
	RateLimitPolicy = Policy{First: 60 * time.Second, Factor: 2, Max: 960 * time.Second}
	AuthPolicy      = Policy{First: 60 * time.Second, Factor: 2, Max: 960 * time.Second}
)

// next returns the wait after prev (zero: the first wait).
func (p Policy) next(prev time.Duration) time.Duration {
	if prev == 0 {
		return p.First
	}
	var d time.Duration
	if p.Factor > 0 {
		d = time.Duration(float64(prev) * p.Factor)
	} else {
		d = prev + p.Step
	}
	return min(d, p.Max)
}

// Backoff tracks the waits of one connection's reconnects. It is not safe
// for concurrent use.
type Backoff struct {
	policies [4]Policy
	last     [4]time.Duration
}

// New returns a Backoff with the documented policies.
func New() *Backoff {
	return &Backoff{policies: [4]Policy{NetworkPolicy, HTTPPolicy, RateLimitPolicy, AuthPolicy}}
}

// LivePolicy is the schedule of the free live services (Bluesky's
// Jetstream, Mastodon), which document none: 250 ms doubling up to 30 s,
// quick enough to fail over between hosts, slow enough not to hammer one.
var LivePolicy = Policy{First: 250 * time.Millisecond, Factor: 2, Max: 30 * time.Second}

// NewLive returns a Backoff that uses LivePolicy for network and HTTP
// errors and the documented policies for rate limits and authentication.
func NewLive() *Backoff {
	return &Backoff{policies: [4]Policy{LivePolicy, LivePolicy, RateLimitPolicy, AuthPolicy}}
}

// Next returns how long to wait before reconnecting after a failure of
// class c. Each class keeps its own schedule: a network error does not
// shorten the wait of an ongoing rate limit, because the longest schedule
// still in progress wins.
func (b *Backoff) Next(c Class) time.Duration {
	b.last[c] = b.policies[c].next(b.last[c])
	var d time.Duration
	for _, l := range b.last {
		d = max(d, l)
	}
	return d
}

// Reset forgets every schedule: the connection has been healthy.
func (b *Backoff) Reset() { b.last = [4]time.Duration{} }

// Clock is the time source of reconnect waits.
type Clock interface {
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// System is the real clock.
type System struct{}

// After returns time.After(d).
func (System) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Sleep waits for d on clock, or until ctx ends (then it returns ctx.Err()).
func Sleep(ctx context.Context, clock Clock, d time.Duration) error {
	select {
	case <-clock.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
