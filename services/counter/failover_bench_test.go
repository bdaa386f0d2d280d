//go:build bench

package main_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/systest/expect"
)

// failoverTrials is how many failovers each scenario measures
// (FAILOVER_TRIALS overrides).
func failoverTrials() int { return envCount("FAILOVER_TRIALS", 10) }

// The harness's windows and session timeout (start).
const (
	trialWindow  = 500 * time.Millisecond
	trialSession = 6 * time.Second
)

// seen returns how many snapshots have arrived and when the last did.
func (s *snapshots) seen() (int, time.Time) {
	a := s.arrivals()
	if len(a) == 0 {
		return 0, time.Time{}
	}
	return len(a), a[len(a)-1].at
}

// gapAfter waits for the first snapshot after the before that had arrived
// when an outage began and returns the time from the last snapshot before it to the first
// after.
func (s *snapshots) gapAfter(t *testing.T, before int, last time.Time, c ...*counter) time.Duration {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		s.mu.Lock()
		n := len(s.at)
		var next time.Time
		if n > before {
			next = s.at[before]
		}
		s.mu.Unlock()
		if n > before {
			return next.Sub(last)
		}
		for _, x := range c {
			if x != nil && !x.Running() {
				t.Fatalf("counter %s exited: %v", x.Name, x.Err())
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no snapshot within 5 minutes of the outage")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// steady waits until k more snapshots have arrived, so that an outage
// starts from a counter publishing every window.
func (s *snapshots) steady(t *testing.T, k int) {
	t.Helper()
	n, _ := s.seen()
	deadline := time.Now().Add(3 * time.Minute)
	for m, _ := s.seen(); m < n+k; m, _ = s.seen() {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d snapshots in 3 minutes", k)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func report(t *testing.T, what string, gaps []time.Duration, goal string) {
	t.Helper()
	s := slices.Clone(gaps)
	slices.Sort(s)
	w := func(d time.Duration) string {
		return fmt.Sprintf("%.2f s (%.1f windows)", d.Seconds(), float64(d)/float64(trialWindow))
	}
	logf(t, "%s, %d trials: snapshot gap min %s, median %s, max %s; goal %s",
		what, len(s), w(s[0]), w(s[len(s)/2]), w(s[len(s)-1]), goal)
}

// TestFailoverGaps measures the longest wait for a snapshot that a
// follower of top-hashtags sees across an outage, from the last snapshot
// before it to the first after, FAILOVER_TRIALS times per kind of outage,
// with posts flowing throughout, and checks that the totals stay exact.
// Windows are 500 ms and the session timeout 6 s (the harness's).
func TestFailoverGaps(t *testing.T) {
	n := failoverTrials()
	run := func(t *testing.T, p pipeline, seed int64, body func(snaps *snapshots)) {
		posts := syntheticPosts(seed, 2_000*n)
		snaps, fed := feeding(t, p, posts, 40)
		body(snaps)
		wait(t, fed, 10*time.Minute)
		c := start(t, p, "final")
		snaps.waitPosts(t, int64(len(posts)), 5*time.Minute, c)
		verify(t, p, snaps, expect.Of(posts))
		c.stop()
	}

	t.Run("SIGKILL and an immediate restart", func(t *testing.T) {
		p := newPipeline(t, 3)
		var gaps []time.Duration
		run(t, p, 41, func(snaps *snapshots) {
			c := start(t, p, "a")
			for range n {
				snaps.steady(t, 4)
				before, last := snaps.seen()
				c.Kill()
				killed := time.Now()
				c = start(t, p, "a")
				gaps = append(gaps, snaps.gapAfter(t, before, last, c))
				if os.Getenv("FAILOVER_DEBUG") != "" {
					t.Logf("killed %s, last snapshot %s\n%s", killed.Format("15:04:05.000"), last.Format("15:04:05.000"), c.Output())
				}
			}
			c.stop()
		})
		report(t, "SIGKILL + immediate restart (same instance id)", gaps, "≤ 2 windows")
	})

	t.Run("SIGKILL and a warm standby taking over", func(t *testing.T) {
		p := newPipeline(t, 3)
		var gaps []time.Duration
		run(t, p, 42, func(snaps *snapshots) {
			active := start(t, p, "a")
			snaps.steady(t, 2)
			standby := start(t, p, "b")
			for i := range n {
				standby.waitLog("warm standby following", 1, 2*time.Minute)
				snaps.steady(t, 4)
				before, last := snaps.seen()
				active.Kill()
				killed := time.Now()
				gaps = append(gaps, snaps.gapAfter(t, before, last, standby))
				if os.Getenv("FAILOVER_DEBUG") != "" {
					t.Logf("killed %s, last snapshot %s\n%s", killed.Format("15:04:05.000"), last.Format("15:04:05.000"), standby.Output())
				}
				if !strings.Contains(standby.Output(), `from="warm standby"`) {
					t.Fatalf("trial %d: the standby did not take over from its warm copy", i)
				}
				// The dead one comes back as the next standby.
				active, standby = standby, start(t, p, active.Name)
			}
			active.stop()
			standby.stop()
		})
		report(t, "SIGKILL, no restart, a warm standby takes over", gaps,
			fmt.Sprintf("≤ session timeout + 1 window = %.1f s", (trialSession+trialWindow).Seconds()))
	})

	t.Run("broker SIGKILL and restart", func(t *testing.T) {
		broker := kafkatest.Disposable(t)
		p := newPipelineOn(t, broker.Addr, 3)
		var gaps, restarts, after []time.Duration
		run(t, p, 43, func(snaps *snapshots) {
			c := start(t, p, "a")
			for range n {
				snaps.steady(t, 4)
				before, last := snaps.seen()
				began := time.Now()
				broker.Kill()
				broker.Start()
				// The broker's own time of its start, not Start's return,
				// which comes at its next look at the log, up to a second
				// later (and made the counter's share below negative).
				started, err := broker.StartedAt()
				if err != nil || started.Before(began) {
					t.Fatalf("broker start: %v at %s, killed at %s", err, started, began)
				}
				restarts = append(restarts, started.Sub(began))
				gap := snaps.gapAfter(t, before, last, c)
				gaps = append(gaps, gap)
				// The counter's own share: from the broker's start to
				// the first snapshot.
				after = append(after, last.Add(gap).Sub(started))
				if os.Getenv("FAILOVER_DEBUG") != "" {
					first := snaps.list()[before]
					t.Logf("killed %s, started %s, last snapshot %s, next produced %s, arrived %s", began.Format("15:04:05.000"), started.Format("15:04:05.000"), last.Format("15:04:05.000"),
						first.ProducedAt.Format("15:04:05.000"), last.Add(gap).Format("15:04:05.000"))
				}
			}
			if os.Getenv("FAILOVER_DEBUG") != "" {
				t.Log(c.Output())
			}
			c.stop()
		})
		report(t, "broker SIGKILL and restart", gaps, "≤ broker restart + 2 windows")
		report(t, "broker restart itself (SIGKILL to the broker logging its start)", restarts, "n/a")
		report(t, "broker SIGKILL: from the broker's start to the first snapshot", after, "≤ 2 windows")
	})
}
