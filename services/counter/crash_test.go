package main_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/synthetic"
	"github.com/hashtrend/hashtrend/pkg/systest/expect"
)

// TestCrash kills the counter with SIGKILL at chosen moments while posts
// flow in, restarts it under the same instance id and checks that totals
// are exact, batch numbers neither repeat nor skip and totals never go down.
func TestCrash(t *testing.T) {
	points := []struct {
		name string
		seed int64
		// kill waits for the moment and kills c; it may start and kill
		// further counters and returns the one left to kill again.
		kill func(t *testing.T, p pipeline, c *counter) *counter
	}{
		{"mid-window", 11, func(t *testing.T, p pipeline, c *counter) *counter {
			c.waitCommitted("tally", 2, 2*time.Minute)
			// Somewhere inside the next window: its posts are counted in
			// memory only. The moment is drawn at random, so that repeated
			// trials (make counter-crash-trials) hit different instants.
			time.Sleep(time.Duration(rand.Int64N(500)) * time.Millisecond)
			c.Kill()
			return c
		}},
		{"right after a delta commit", 12, func(t *testing.T, p pipeline, c *counter) *counter {
			c.waitMoreCommitted("tally", 3, 2*time.Minute)
			c.Kill()
			return c
		}},
		{"right after a snapshot commit", 13, func(t *testing.T, p pipeline, c *counter) *counter {
			c.waitCommitted("tally", 1, 2*time.Minute)
			c.waitMoreCommitted("rank", 2, 2*time.Minute)
			c.Kill()
			return c
		}},
		{"during restore", 14, func(t *testing.T, p pipeline, c *counter) *counter {
			c.waitCommitted("tally", 4, 2*time.Minute)
			c.Kill()
			// Kill restarts as soon as they say they restore, until one is
			// caught before it finished (the state is tens of thousands of
			// records here, so that usually takes one attempt). A kill that
			// never lands inside a restore has not tested this scenario: the
			// test fails rather than pass on another one.
			const attempts = 10
			for range attempts {
				c = start(t, p, "crash")
				// Restoring, or already past it: then the kill is late.
				c.waitPhase(2*time.Minute, "restoring", "active")
				c.Kill()
				if !strings.Contains(c.Output(), "totals restored") {
					return c
				}
			}
			t.Fatalf("each of %d restores finished before the kill that followed its start: the scenario was not reached", attempts)
			return nil
		}},
	}
	for _, pt := range points {
		t.Run(pt.name, func(t *testing.T) {
			t.Parallel() // mostly waiting for session timeouts
			p := newPipeline(t, 3)
			// A large vocabulary makes a state topic big enough to kill a
			// restore in the middle.
			posts := synthetic.New(synthetic.Config{Seed: pt.seed, Vocabulary: 200_000}).Take(30_000)
			snaps, fed := feeding(t, p, posts, 500)
			c := start(t, p, "crash")
			pt.kill(t, p, c)
			if strings.Contains(c.Output(), "msg=stopped") {
				t.Fatal("the counter stopped by itself before it was killed")
			}
			c = start(t, p, "crash")
			wait(t, fed, 3*time.Minute)
			snaps.waitPosts(t, int64(len(posts)), 3*time.Minute, c)
			verify(t, p, snaps, expect.Of(posts))
			c.stop()
		})
	}
}
