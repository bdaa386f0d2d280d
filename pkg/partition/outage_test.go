//go:build outage

package partition_test

// The outage trial stops and starts a disposable broker under a follower.
// It takes a minute or more, so it is not part of `make test`: run it with
// go test -tags outage -run TestFollowOutlastsTheBrokerGoingAway.

import (
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/partition"
	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/pkg/topic"
)

// TestFollowOutlastsTheBrokerGoingAway: a follower at the end of its
// partition is told the broker away once it stops, back once it answers
// again, and reads what is written after that.
func TestFollowOutlastsTheBrokerGoingAway(t *testing.T) {
	b := kafkatest.Disposable(t)
	const name = "watched"
	a, err := kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": b.Addr})
	if err != nil {
		t.Fatal(err)
	}
	err = topic.Ensure(t.Context(), a, topic.Spec{Name: name, Partitions: 1, ReplicationFactor: 1})
	a.Close()
	if err != nil {
		t.Fatal(err)
	}
	kafkatest.ProduceTo(t, b.Addr, name, kafkatest.Record{Value: []byte("1")})
	var w watcher
	r, err := partition.Open(partition.Config{Kafka: kafkaconn.Config{Brokers: b.Addr, SecurityProtocol: "plaintext"},
		Client: "outage-test", Topic: name, Watch: w.watch()}, map[int32]int64{0: partition.Beginning})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	n := follow(t, r)
	systest.Await(t, "the first record", time.Minute, func() bool { return n.Load() == 1 })
	b.Stop()
	systest.Await(t, "the broker told away", time.Minute, func() bool { return w.away.Load() > 0 })
	b.Start()
	systest.Await(t, "the broker told back", 2*time.Minute, func() bool { return w.back.Load() > 0 })
	kafkatest.ProduceTo(t, b.Addr, name, kafkatest.Record{Value: []byte("2")})
	systest.Await(t, "the record written after", time.Minute, func() bool { return n.Load() == 2 })
	if w.away.Load() != 1 || w.back.Load() != 1 {
		t.Fatalf("told away %d and back %d times, want once each", w.away.Load(), w.back.Load())
	}
}
