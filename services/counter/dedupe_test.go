package main_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/systest/expect"
)

// again returns keys and values with the records of the originals at every
// nth index (from first on) written again after them, as a source's
// reconnect overlap would: the same post id, the same bytes. It returns how
// many it added.
func again(keys, values, origKeys, origValues [][]byte, first, nth int) (k, v [][]byte, added int) {
	k, v = append([][]byte(nil), keys...), append([][]byte(nil), values...)
	for i := first; i < len(origKeys); i += nth {
		k, v = append(k, origKeys[i]), append(v, origValues[i])
		added++
	}
	return k, v, added
}

// metricNow reads a counter's metric or fails the test.
func metricNow(t *testing.T, c *counter, name string) int64 {
	t.Helper()
	v, err := c.metric(name)
	if err != nil {
		t.Fatalf("counter %s: %s: %v", c.Name, name, err)
	}
	return int64(v)
}

// TestDuplicatesAreCountedOnceAcrossARestart injects posts produced again
// straight into tweets, before and after a SIGKILL and restart of the
// counter: each post is counted once, the duplicates metric counts the
// others, and the restarted counter read the horizon back.
func TestDuplicatesAreCountedOnceAcrossARestart(t *testing.T) {
	p := newPipeline(t, 3)
	posts := syntheticPosts(41, 6000)
	keys, values := encoded(t, posts)

	// Before the restart: the first half, with every 7th post of it again
	// (and every 50th a third time).
	k1, v1, d1 := again(keys[:3000], values[:3000], keys[:3000], values[:3000], 3, 7)
	k1, v1, d1b := again(k1, v1, keys[:3000], values[:3000], 1, 50)
	produce(t, p.brokers, p.tweets, k1, v1)
	snaps := follow(t, p)
	c := start(t, p, "dedupe")
	snaps.waitPosts(t, 3000, 2*time.Minute, c)
	if got := metricNow(t, c, "hashtrend_counter_duplicates_total"); got != int64(d1+d1b) {
		t.Fatalf("before the restart: %d duplicates counted, want %d", got, d1+d1b)
	}
	c.Kill()

	// After it: the second half, posts of the first half again (their
	// originals were read before the restart) and of the second half.
	c = start(t, p, "dedupe")
	k2, v2, d2 := again(keys[3000:], values[3000:], keys[:3000], values[:3000], 0, 11)
	k2, v2, d2b := again(k2, v2, keys[3000:], values[3000:], 5, 13)
	produce(t, p.brokers, p.tweets, k2, v2)
	snaps.waitPosts(t, int64(len(posts)), 3*time.Minute, c)
	verify(t, p, snaps, expect.Of(posts))
	if got := metricNow(t, c, "hashtrend_counter_duplicates_total"); got != int64(d2+d2b) {
		t.Fatalf("after the restart: %d duplicates counted, want %d", got, d2+d2b)
	}
	// Every partition holds fewer records than the horizon, so the restore
	// read back all that was written before the restart.
	if got := metricNow(t, c, "hashtrend_counter_dedupe_restored_records_total"); got != int64(len(k1)) {
		t.Fatalf("the restart read %d records back, want the %d written before it", got, len(k1))
	}
	c.stop()
}

// TestDuplicatesAreCountedOnceAcrossARebalance: a second instance joins,
// takes partitions over and rebuilds their horizons from the topic, so a
// post produced again after the move is not counted twice.
func TestDuplicatesAreCountedOnceAcrossARebalance(t *testing.T) {
	p := newPipeline(t, 6)
	posts := syntheticPosts(42, 8000)
	keys, values := encoded(t, posts)

	k1, v1, d1 := again(keys[:4000], values[:4000], keys[:4000], values[:4000], 2, 9)
	produce(t, p.brokers, p.tweets, k1, v1)
	snaps := follow(t, p)
	a := start(t, p, "a")
	snaps.waitPosts(t, 4000, 2*time.Minute, a)

	b := start(t, p, "b")
	// b restored at least one partition it took from a.
	b.waitLog("dedupe horizon restored", 1, 2*time.Minute)
	k2, v2, d2 := again(keys[4000:], values[4000:], keys[:4000], values[:4000], 0, 5)
	k2, v2, d2b := again(k2, v2, keys[4000:], values[4000:], 1, 17)
	produce(t, p.brokers, p.tweets, k2, v2)
	snaps.waitPosts(t, int64(len(posts)), 3*time.Minute, a, b)
	verify(t, p, snaps, expect.Of(posts))

	da := metricNow(t, a, "hashtrend_counter_duplicates_total")
	db := metricNow(t, b, "hashtrend_counter_duplicates_total")
	if da+db != int64(d1+d2+d2b) {
		t.Fatalf("duplicates counted: %d by a and %d by b, want %d in all", da, db, d1+d2+d2b)
	}
	if db == 0 {
		t.Fatal("the instance that took partitions over caught no duplicate of a post read before the move")
	}
	a.stop()
	b.stop()
}

// TestTheHorizonIsRestoredToItsSize: with a horizon of 500 records on one
// partition, a post produced again 2000 records after its original is
// counted again, one produced again within 500 is not, before and after a
// restart, and the restart reads exactly 500 records back.
func TestTheHorizonIsRestoredToItsSize(t *testing.T) {
	const horizon = 500
	p := newPipeline(t, 1)
	posts := syntheticPosts(43, 2000)
	keys, values := encoded(t, posts)
	env := fmt.Sprintf("COUNTER_DEDUPE_RECORDS=%d", horizon)
	// Offsets 0..1999, then 2000: post 1600 again (400 back, a
	// duplicate), 2001: post 1000 again (1001 back, counted).
	produce(t, p.brokers, p.tweets, append(keys, keys[1600], keys[1000]), append(values, values[1600], values[1000]))
	counted := append(append([]post.Post(nil), posts...), posts[1000])
	snaps := follow(t, p)
	c := start(t, p, "horizon", env)
	snaps.waitPosts(t, int64(len(counted)), 2*time.Minute, c)
	if got := metricNow(t, c, "hashtrend_counter_duplicates_total"); got != 1 {
		t.Fatalf("before the restart: %d duplicates, want 1", got)
	}
	c.stop()

	// Committed offset 2002: the restart reads offsets 1502..2001 back,
	// exactly the horizon of offset 2002. There post 1502 again is 500
	// back (a duplicate only if the restore reached that far), post 1000
	// again at 2003 is 2 back from its copy at 2001 (a duplicate), post
	// 1501 again at 2004 is 503 back (counted).
	c = start(t, p, "horizon", env)
	produce(t, p.brokers, p.tweets, [][]byte{keys[1502], keys[1000], keys[1501]}, [][]byte{values[1502], values[1000], values[1501]})
	counted = append(counted, posts[1501])
	snaps.waitPosts(t, int64(len(counted)), 2*time.Minute, c)
	verify(t, p, snaps, expect.Of(counted))
	if got := metricNow(t, c, "hashtrend_counter_duplicates_total"); got != 2 {
		t.Fatalf("after the restart: %d duplicates, want 2", got)
	}
	if got := metricNow(t, c, "hashtrend_counter_dedupe_restored_records_total"); got != horizon {
		t.Fatalf("the restart read %d records back, want %d", got, horizon)
	}
	c.stop()
}
