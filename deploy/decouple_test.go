package deploy_test

// The lesson of the tutorial hashtrend grew out of: with Kafka between
// them, the producer and the consumer stop and start independently and
// nothing is lost or counted twice. These tests run the real ingest and
// counter binaries on topics of their own.

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/pkg/systest/expect"
)

// pipeline is one test's topics, groups and counter instance.
type pipeline struct {
	t      *testing.T
	env    []string // shared by ingest and counter
	tweets string
	top    string
}

func newPipeline(t *testing.T) *pipeline {
	p := &pipeline{t: t, tweets: kafkatest.Name(t, "tweets"), top: kafkatest.Name(t, "top")}
	dlq, deltas, counts := kafkatest.Name(t, "dlq"), kafkatest.Name(t, "deltas"), kafkatest.Name(t, "counts")
	kafkatest.DeleteAfter(t, p.tweets, dlq, deltas, counts)
	kafkatest.CreateTopic(t, p.top, 1, nil) // read before the counter has created it
	p.env = []string{
		"KAFKA_BROKERS=" + kafkatest.Brokers(t),
		"TOPIC_TWEETS=" + p.tweets, "TOPIC_TWEETS_PARTITIONS=3", "TOPIC_TOP=" + p.top,
		"TOPIC_DLQ=" + dlq, "TOPIC_DELTAS=" + deltas, "TOPIC_COUNTS=" + counts,
	}
	return p
}

// counter starts a counter: the same instance id every time, as a
// restarted container or process keeps it.
func (p *pipeline) counter() *systest.Process {
	return systest.Start(p.t, "counter", bins["counter"], append(p.env,
		"COUNTER_INSTANCE_ID="+p.tweets+".counter",
		"COUNTER_GROUP_TALLY="+p.tweets+".tally", "COUNTER_GROUP_RANK="+p.tweets+".rank",
		"COUNTER_WINDOW=500ms", "COUNTER_GRACE=200ms", "COUNTER_TRANSACTION_TIMEOUT=6s", "COUNTER_SESSION_TIMEOUT=6s",
		"COUNTER_OPS_ADDR=off")...)
}

// ingest starts the synthetic source; ops is its metrics address.
func (p *pipeline) ingest(ops string, env ...string) *systest.Process {
	return systest.Start(p.t, "ingest", bins["ingest"], append(append(p.env,
		"INGEST_SOURCE=synthetic", "INGEST_SYNTHETIC_RATE=400", "INGEST_OPS_ADDR="+ops), env...)...)
}

// snapshots returns every committed snapshot in topic order.
func (p *pipeline) snapshots() []snapshot.Snapshot {
	return kafkatest.Snapshots(p.t, kafkatest.Brokers(p.t), p.top)
}

// waitSnapshot waits for a snapshot for which ok holds and returns the
// whole sequence up to now.
func (p *pipeline) waitSnapshot(what string, timeout time.Duration, ok func(snapshot.Snapshot) bool) []snapshot.Snapshot {
	p.t.Helper()
	return kafkatest.AwaitSnapshots(p.t, kafkatest.Brokers(p.t), p.top, "a snapshot with "+what, timeout,
		func(s []snapshot.Snapshot) bool { return ok(s[len(s)-1]) })
}

// checkExact compares the final snapshot with counts made from every post
// in the tweets topic, and checks the whole snapshot sequence.
func (p *pipeline) checkExact() {
	p.t.Helper()
	var posts []post.Post
	for _, m := range kafkatest.ReadAll(p.t, p.tweets, time.Minute) {
		ps, err := post.Decode(m.Value)
		if err != nil {
			p.t.Fatal(err)
		}
		posts = append(posts, ps)
	}
	want := expect.Of(posts)
	snaps := kafkatest.AwaitSnapshots(p.t, kafkatest.Brokers(p.t), p.top, fmt.Sprintf("a snapshot with all %d posts", len(posts)),
		2*time.Minute, want.AllCounted)
	if err := want.CompareLast(snaps, 10); err != nil {
		p.t.Fatal(err)
	}
}

// produced reads ingest's confirmed-posts counter from its /metrics.
func produced(addr string) int64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && strings.HasPrefix(f[0], "hashtrend_ingest_posts_produced_total") {
			n, _ := strconv.ParseFloat(f[1], 64)
			return int64(n)
		}
	}
	return -1
}

func waitProduced(t *testing.T, addr string, atLeast int64) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for produced(addr) < atLeast {
		if time.Now().After(deadline) {
			t.Fatalf("ingest did not confirm %d posts within a minute (%d)", atLeast, produced(addr))
		}
		time.Sleep(100 * time.Millisecond) // the next scrape
	}
}

func TestCounterStoppedAndStartedWhileIngestRunsLosesNothing(t *testing.T) {
	p := newPipeline(t)
	first := p.counter()
	ops := systest.FreeAddr(t)
	ing := p.ingest(ops, "INGEST_SYNTHETIC_SEED=11", "INGEST_SYNTHETIC_COUNT=6000")
	p.waitSnapshot("posts", time.Minute, func(s snapshot.Snapshot) bool { return s.Posts > 0 })

	first.Stop(time.Minute)
	before := produced(ops)
	waitProduced(t, ops, before+1000) // ingest goes on while no counter runs
	stoppedAt := len(p.snapshots())

	p.counter()
	ing.Wait(2 * time.Minute)
	p.checkExact()
	if len(p.snapshots()) <= stoppedAt {
		t.Fatal("no snapshot after the counter was started again")
	}
}

func TestIngestStoppedAndStartedWhileTheCounterRunsLosesNothing(t *testing.T) {
	p := newPipeline(t)
	p.counter()
	ops := systest.FreeAddr(t)
	first := p.ingest(ops, "INGEST_SYNTHETIC_SEED=21")
	waitProduced(t, ops, 1000)
	first.Stop(time.Minute) // flushes what it queued

	// The counter keeps publishing while nothing comes in.
	idle := p.snapshots()
	last := idle[len(idle)-1]
	p.waitSnapshot("two more batches", time.Minute, func(s snapshot.Snapshot) bool { return s.Batch >= last.Batch+2 })

	p.ingest(systest.FreeAddr(t), "INGEST_SYNTHETIC_SEED=22", "INGEST_SYNTHETIC_COUNT=2000").Wait(2 * time.Minute)
	p.checkExact()
}
