package main_test

import (
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/systest/expect"
)

// TestScaleOutAndIn starts three instances at different times while posts
// flow, kills the one running rank, so that a standby takes over, and stops
// another: totals stay exact and publishing resumes.
func TestScaleOutAndIn(t *testing.T) {
	p := newPipeline(t, 6)
	posts := syntheticPosts(21, 40_000)
	snaps, fed := feeding(t, p, posts, 400)

	a := start(t, p, "a")
	a.waitCommitted("rank", 3, 2*time.Minute)
	b := start(t, p, "b")
	b.waitLog("msg=\"partitions assigned\"", 1, 2*time.Minute)
	c := start(t, p, "c")
	c.waitLog("msg=\"partitions assigned\"", 1, 2*time.Minute)
	// The joins abort a's snapshot in flight (its generation moved on),
	// and it restores for a moment: it keeps rank's partition, so it is
	// active again once that restore ends.
	a.waitPhase(2*time.Minute, "active")

	last, _ := snaps.last()
	a.Kill()
	deadline := time.Now().Add(2 * time.Minute)
	var standby, other *counter
	for standby == nil {
		switch {
		case b.inPhase("active"):
			standby, other = b, c
		case c.inPhase("active"):
			standby, other = c, b
		case time.Now().After(deadline):
			t.Fatal("no standby took over rank within 2 minutes")
		default:
			time.Sleep(50 * time.Millisecond)
		}
	}
	snaps.waitBatch(t, last.Batch+3, 2*time.Minute, standby, other)
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

// TestFencedStaticMemberRecovers joins each stage's group under the
// stage's own group.instance.id, as librdkafka itself does when a broker
// restart times its session out: the broker fences the counter's member
// for good. The stage must take that as a failure and run again with new
// clients, which take the partitions back; snapshots go on and the totals
// are exact. The fenced consumers are destroyed, none left unclosed.
func TestFencedStaticMemberRecovers(t *testing.T) {
	p := newPipeline(t, 3)
	posts := syntheticPosts(51, 20_000)
	snaps, fed := feeding(t, p, posts, 200)
	c := start(t, p, "fenced")
	c.waitCommitted("rank", 3, 2*time.Minute)

	for _, st := range []struct{ stage, group, topic string }{
		{"rank", p.rankGroup, p.deltas},
		{"tally", p.tallyGroup, p.tweets},
	} {
		impersonate(t, p.brokers, st.group, p.run+"-fenced-"+st.stage, st.topic)
		// The fenced stage runs again with new clients.
		c.waitMetric(`hashtrend_counter_stage_restarts_total{stage="`+st.stage+`"}`, func(v float64) bool { return v >= 1 }, 2*time.Minute)
		last, _ := snaps.last()
		snaps.waitBatch(t, last.Batch+3, 2*time.Minute, c)
	}
	wait(t, fed, 3*time.Minute)
	snaps.waitPosts(t, int64(len(posts)), 3*time.Minute, c)
	verify(t, p, snaps, expect.Of(posts))
	c.stop()
	for _, stage := range []string{"rank", "tally"} {
		if !strings.Contains(c.Output(), stage+" consumer destroyed after its fatal error") {
			t.Errorf("%s's fenced consumer was not destroyed", stage)
		}
	}
	if strings.Contains(c.Output(), "left unclosed") {
		t.Error("a fenced consumer was left unclosed")
	}
}

// impersonate joins group as the static member instance on topic and stays
// until the group has handed it the member's partitions, then closes
// (a static member does not leave its group when it closes).
func impersonate(t *testing.T, brokers, group, instance, topic string) {
	t.Helper()
	c, err := kafka.NewConsumer(&kafka.ConfigMap{
		"bootstrap.servers": brokers, "group.id": group, "group.instance.id": instance,
		"partition.assignment.strategy": "cooperative-sticky", "session.timeout.ms": 6000,
		"enable.auto.commit": false, "isolation.level": "read_committed",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	assigned := false
	if err := c.SubscribeTopics([]string{topic}, func(c *kafka.Consumer, ev kafka.Event) error {
		if a, ok := ev.(kafka.AssignedPartitions); ok && len(a.Partitions) > 0 {
			assigned = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for !assigned {
		if time.Now().After(deadline) {
			t.Fatalf("%s: never assigned a partition of %s as %s", group, topic, instance)
		}
		c.Poll(100)
	}
}
