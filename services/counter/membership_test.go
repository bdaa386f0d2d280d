package main_test

import (
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/systest/expect"
)

// TestFencedStaticMemberRecovers joins each stage's group under the
// stage's own group.instance.id, as librdkafka itself does when a broker
// restart times its session out: the broker fences the counter's member
// for good. The stage must take that as a failure and run again with new
// clients, which take the partitions back; snapshots go on and the totals
// are exact.
func TestFencedStaticMemberRecovers(t *testing.T) {
	p := newPipeline(t, 3)
	posts := syntheticPosts(51, 20_000)
	keys, values := encoded(t, posts)
	snaps := follow(t, p)
	fed := feed(p.brokers, p.tweets, keys, values, 200, 100*time.Millisecond)
	c := start(t, p, "fenced")
	c.waitLog(`msg="snapshot committed"`, 3, 2*time.Minute)

	for i, st := range []struct{ stage, group, topic string }{
		{"rank", p.rankGroup, p.deltas},
		{"tally", p.tallyGroup, p.tweets},
	} {
		impersonate(t, p.brokers, st.group, p.run+"-fenced-"+st.stage, st.topic)
		c.waitLog(`msg="stage failed; starting it again with new clients"`, i+1, 2*time.Minute)
		if !strings.Contains(c.Output(), "stage="+st.stage+" err=") {
			t.Fatalf("the %s stage was not the one restarted:\n%s", st.stage, c.Output())
		}
		last, _ := snaps.last()
		deadline := time.Now().Add(2 * time.Minute)
		for now, _ := snaps.last(); now.Batch < last.Batch+3; now, _ = snaps.last() {
			if time.Now().After(deadline) {
				t.Fatalf("no snapshots after %s was fenced (last batch %d)", st.stage, last.Batch)
			}
			if !c.Running() {
				t.Fatalf("the counter exited: %v", c.Err())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	wait(t, fed, 3*time.Minute)
	snaps.waitPosts(t, int64(len(posts)), 3*time.Minute, c)
	verify(t, p, snaps, expect.Of(posts))
	c.stop()
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
