package main_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/systest/expect"
)

// TestScaleOutAndIn starts three instances at different times while posts
// flow, kills the one running rank, so that a standby takes over, and stops
// another: totals stay exact and publishing resumes.
func TestScaleOutAndIn(t *testing.T) {
	p := newPipeline(t, 6)
	posts := syntheticPosts(21, 40_000)
	keys, values := encoded(t, posts)
	snaps := follow(t, p)
	fed := feed(p.brokers, p.tweets, keys, values, 400, 100*time.Millisecond)

	a := start(t, p, "a")
	a.waitLog("msg=\"snapshot committed\"", 3, 2*time.Minute)
	b := start(t, p, "b")
	b.waitLog("msg=\"partitions assigned\"", 1, 2*time.Minute)
	c := start(t, p, "c")
	c.waitLog("msg=\"partitions assigned\"", 1, 2*time.Minute)
	if !strings.Contains(a.Output(), "deltas partition assigned") {
		t.Fatal("the first instance does not run rank")
	}

	last, _ := snaps.last()
	a.Kill()
	deadline := time.Now().Add(2 * time.Minute)
	var standby, other *counter
	for standby == nil {
		switch {
		case strings.Contains(b.Output(), "totals restored"):
			standby, other = b, c
		case strings.Contains(c.Output(), "totals restored"):
			standby, other = c, b
		case time.Now().After(deadline):
			t.Fatal("no standby took over rank within 2 minutes")
		default:
			time.Sleep(50 * time.Millisecond)
		}
	}
	for {
		if now, _ := snaps.last(); now.Batch >= last.Batch+3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("publishing did not resume after batch %d", last.Batch)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The standby that took over leaves cleanly; the last one carries on.
	standby.stop()
	wait(t, fed, 3*time.Minute)
	snaps.waitPosts(t, int64(len(posts)), 3*time.Minute, other)
	verify(t, p, snaps, expect.Of(posts))
	other.stop()
}

// TestBrokerRestart restarts a disposable broker mid-run: the counter rides
// it out without a restart of its own and the totals are exact.
func TestBrokerRestart(t *testing.T) {
	broker := kafkatest.Disposable(t)
	p := newPipelineOn(t, broker.Addr, 3)
	posts := syntheticPosts(31, 30_000)
	keys, values := encoded(t, posts)
	produce(t, p.brokers, p.tweets, keys[:10_000], values[:10_000])
	snaps := follow(t, p)
	c := start(t, p, "restart")
	snaps.waitPosts(t, 10_000, 2*time.Minute, c)

	broker.Stop()
	broker.Start()
	produce(t, p.brokers, p.tweets, keys[10_000:], values[10_000:])
	snaps.waitPosts(t, int64(len(posts)), 3*time.Minute, c)
	verify(t, p, snaps, expect.Of(posts))
	c.stop()
}
