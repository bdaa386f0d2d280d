package progress_test

import (
	"context"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/bench/internal/progress"
	"github.com/hashtrend/hashtrend/pkg/kafkatest"
)

func TestLagIsWhatTheGroupHasNotCommittedAndZeroOnceItHas(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topic(t, "lag", 2, nil)
	group := kafkatest.Group(t)
	var recs []kafkatest.Record
	for i := range 10 {
		recs = append(recs, kafkatest.Record{Key: []byte{byte('a' + i)}, Value: []byte("v")})
	}
	kafkatest.Produce(t, topic, recs...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pc, err := progress.NewChecker(brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	target := progress.Target{Group: group, Topics: map[string]int64{topic: 0}}

	if lag, err := pc.Lag(ctx, target); err != nil || lag != 10 {
		t.Fatalf("lag before any commit = %d, %v; want 10", lag, err)
	}

	end, err := pc.EndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kafka.NewConsumer(&kafka.ConfigMap{"bootstrap.servers": brokers, "group.id": group})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	commit := func(minus int64) {
		var tps []kafka.TopicPartition
		for p, o := range end {
			tps = append(tps, kafka.TopicPartition{Topic: &topic, Partition: p, Offset: kafka.Offset(max(o-minus, 0))})
		}
		if _, err := c.CommitOffsets(tps); err != nil {
			t.Fatal(err)
		}
	}
	commit(1)
	lag, err := pc.Lag(ctx, target)
	if err != nil || lag == 0 || lag > 2 {
		t.Fatalf("lag one short of the end = %d, %v; want 1 per non-empty partition", lag, err)
	}
	if lag, _ := pc.Lag(ctx, progress.Target{Group: group, Topics: map[string]int64{topic: 1}}); lag != 0 {
		t.Errorf("lag with slack 1 = %d, want 0", lag)
	}
	commit(0)
	if _, err := pc.WaitCaughtUp(ctx, 50*time.Millisecond, target); err != nil {
		t.Fatalf("never caught up after committing the end: %v", err)
	}
}
