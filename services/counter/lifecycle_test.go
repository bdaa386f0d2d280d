package main_test

import (
	"context"
	"math/rand/v2"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
)

// The definition of the lifecycle crash test: a 15-minute horizon, a
// half-life that keeps a burst listed for hours of post time, and room in
// the list for every episode of the run.
var lifecycleEnv = []string{
	"COUNTER_TRENDING_BUCKET=1m", "COUNTER_TRENDING_LATENESS=1m", "COUNTER_TRENDING_RECENT=5m",
	"COUNTER_TRENDING_BASELINE=10m", "COUNTER_TRENDING_MIN=5", "COUNTER_TRENDING_MIN_SCORE=25",
	"COUNTER_TRENDING_HALF_LIFE=30m", "COUNTER_TOP_N=25",
}

// lifecycleKeep is what the deltas topic keeps before a checkpoint in the
// test below: what the counter asks of its retention (the horizon, the
// recent window, a bucket and the lateness) and a bucket more.
const lifecycleKeep = 15*time.Minute + 5*time.Minute + time.Minute + time.Minute + time.Minute

// TestTrendingLifecyclesSurviveACrashBeyondTheDeltasRetained runs 50 minutes of
// post time with the generator's rising tags through two counters. One
// is killed with SIGKILL mid-run, and its deltas topic then loses every
// record older than the counter needs to rebuild its buckets (as its
// retention would, hours later in a live run), so that the episodes of
// the first risers began before any delta it can read. Restarted, it
// publishes for every watermark both published the same list as the
// uninterrupted counter, with the same since, peak, status and decayed
// score of every row: the lifecycles come from its checkpoint.
func TestTrendingLifecyclesSurviveACrashBeyondTheDeltasRetained(t *testing.T) {
	posts, _ := risingStream(24, 50)
	split := 0
	for split < len(posts) && posts[split].CreatedAt.Before(trendStart.Add(42*time.Minute)) {
		split++
	}
	a, b := newPipeline(t, 3), newPipeline(t, 3)
	keys, values := encoded(t, posts)
	sa, sb := follow(t, a), follow(t, b)
	// Batches of under two minutes of post time (each batch is a
	// producer of its own, some 300 ms), then of 20 seconds from where b
	// is killed, so that both publish the lists of most buckets after it.
	fedA := make(chan error, 1)
	go func() {
		if err := <-feed(a.brokers, a.tweets, keys[:split], values[:split], 2000, 100*time.Millisecond); err != nil {
			fedA <- err
			return
		}
		fedA <- <-feed(a.brokers, a.tweets, keys[split:], values[split:], 400, 100*time.Millisecond)
	}()
	ca := start(t, a, "steady", lifecycleEnv...)
	cb := start(t, b, "crash", lifecycleEnv...)
	cb.waitPhase(2*time.Minute, "active")
	wait(t, feed(b.brokers, b.tweets, keys[:split], values[:split], 2000, 100*time.Millisecond), 3*time.Minute)
	sb.waitPosts(t, int64(split), 3*time.Minute, cb)
	fedB := feed(b.brokers, b.tweets, keys[split:], values[split:], 400, 100*time.Millisecond)
	cb.waitMoreCommitted("tally", 2, time.Minute)
	time.Sleep(time.Duration(rand.Int64N(500)) * time.Millisecond) // somewhere mid-window
	cb.Kill()
	last, _ := sb.last()
	if last.Posts >= int64(len(posts)) || last.Watermark == nil {
		t.Fatalf("killed at batch %d with %d posts and watermark %v: not mid-run", last.Batch, last.Posts, last.Watermark)
	}
	killed := *last.Watermark
	retained := dropDeltasBefore(t, b, killed.Add(-lifecycleKeep))

	cb = start(t, b, "crash", lifecycleEnv...)
	wait(t, fedA, 3*time.Minute)
	wait(t, fedB, 3*time.Minute)
	sa.waitPosts(t, int64(len(posts)), 4*time.Minute, ca)
	sb.waitPosts(t, int64(len(posts)), 4*time.Minute, cb)
	ca.stop()
	cb.stop()
	m := regexp.MustCompile(`trending buckets (rebuilt|caught up from the warm standby).* lifecycles=(\d+)`).FindStringSubmatch(cb.Output())
	if m == nil || m[2] == "0" {
		t.Fatalf("the restarted counter took no lifecycle from its checkpoint: %v", m)
	}

	listsA, orderA := trendLists(t, sa.list())
	listsB, orderB := trendLists(t, sb.list())
	common, after, older := 0, 0, 0
	for _, at := range orderB {
		la, ok := listsA[at]
		if !ok {
			continue
		}
		common++
		if !sameLists(la, listsB[at]) {
			t.Errorf("at %s, uninterrupted vs restarted: %s", at.Format(time.TimeOnly), rowDiff(la, listsB[at]))
		}
		if at.After(killed) {
			after++
			for _, r := range listsB[at] {
				if r.Since != nil && r.Since.Before(retained) {
					older++
				}
			}
		}
	}
	if after < 3 || older == 0 {
		t.Fatalf("%d watermarks in common after the kill at %s, %d rows of them trending since before the first delta retained (%s): the test shows nothing",
			after, killed.Format(time.TimeOnly), older, retained.Format(time.TimeOnly))
	}
	final := orderA[len(orderA)-1]
	if orderB[len(orderB)-1] != final || !hasStatus(listsA[final], snapshot.Cooling) {
		t.Fatalf("last watermarks %s and %s; at the end %s", final, orderB[len(orderB)-1], rowsOf(listsA[final]))
	}
	largest := 0
	for _, s := range sa.list() {
		b, err := snapshot.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, len(b))
	}
	t.Logf("%d watermarks in common, %d after the kill at %s; %d rows trending since before %s, the first delta retained; restored %s lifecycles; largest snapshot %d bytes; at %s: %s",
		common, after, killed.Format(time.TimeOnly), older, retained.Format(time.TimeOnly), m[2], largest, final.Format(time.TimeOnly), rowsOf(listsA[final]))
}

func hasStatus(l []snapshot.Trend, status string) bool {
	for _, r := range l {
		if r.Status == status {
			return true
		}
	}
	return false
}

// dropDeltasBefore deletes the records of p's deltas topic before the
// first delta whose watermark reaches from (DeleteRecords, as retention
// deletes old segments) and returns the start of the earliest bucket
// that the records left hold.
func dropDeltasBefore(t *testing.T, p pipeline, from time.Time) time.Time {
	t.Helper()
	cut := kafka.Offset(-1)
	var earliest time.Time
	for _, m := range kafkatest.ReadAllFrom(t, p.brokers, p.deltas, time.Minute) {
		d, err := delta.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if cut < 0 {
			for _, w := range d.Watermarks {
				if !time.UnixMilli(w.At).Before(from) {
					cut = m.TopicPartition.Offset
				}
			}
			if cut < 0 {
				continue
			}
		}
		for _, c := range d.Counts {
			for _, bk := range c.Buckets {
				if s := time.UnixMilli(bk.Start).UTC(); earliest.IsZero() || s.Before(earliest) {
					earliest = s
				}
			}
		}
	}
	if cut <= 0 {
		t.Fatalf("no delta of %s before the watermark %s to delete", p.deltas, from)
	}
	admin, err := kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": p.brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := admin.DeleteRecords(ctx, []kafka.TopicPartition{{Topic: &p.deltas, Partition: 0, Offset: cut}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.DeleteRecordsResults {
		if r.TopicPartition.Error != nil {
			t.Fatalf("delete %s before %d: %v", p.deltas, cut, r.TopicPartition.Error)
		}
	}
	t.Logf("deleted %s before offset %s (watermark %s); its earliest bucket is now %s", p.deltas, strconv.FormatInt(int64(cut), 10), from.Format(time.TimeOnly), earliest.Format(time.TimeOnly))
	return earliest
}
