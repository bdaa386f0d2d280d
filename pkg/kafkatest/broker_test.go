package kafkatest_test

// These tests pin the broker behaviours hashtrend's exactly-once design rests
// on, on the broker the tests run against.

import (
	"fmt"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
)

func TestAbortedTransactionIsInvisibleToReadCommitted(t *testing.T) {
	name := kafkatest.Topic(t, "txn", 1, nil)
	p := kafkatest.TransactionalProducer(t)
	ctx := t.Context()
	send := func(value string, commit bool) {
		t.Helper()
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			err := p.Produce(&kafka.Message{
				TopicPartition: kafka.TopicPartition{Topic: &name, Partition: 0},
				Value:          []byte(fmt.Sprintf("%s-%d", value, i)),
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
		}
		if commit {
			if err := p.CommitTransaction(ctx); err != nil {
				t.Fatal(err)
			}
		} else if err := p.AbortTransaction(ctx); err != nil {
			t.Fatal(err)
		}
	}
	send("aborted", false)
	send("committed", true)
	send("aborted-again", false)

	got := kafkatest.ReadAll(t, name, 30*time.Second)
	var values []string
	for _, m := range got {
		values = append(values, string(m.Value))
	}
	want := []string{"committed-0", "committed-1", "committed-2"}
	if fmt.Sprint(values) != fmt.Sprint(want) {
		t.Fatalf("read_committed saw %v, want %v", values, want)
	}
}

func TestCompactedTopicKeepsTheLatestValuePerKey(t *testing.T) {
	name := kafkatest.Topic(t, "compact", 1, map[string]string{
		"cleanup.policy":            "compact",
		"segment.ms":                "100",
		"min.cleanable.dirty.ratio": "0.001",
		"min.compaction.lag.ms":     "0",
		"delete.retention.ms":       "100",
	})
	rec := func(k, v string) kafkatest.Record { return kafkatest.Record{Key: []byte(k), Value: []byte(v)} }
	kafkatest.Produce(t, name, rec("a", "1"), rec("b", "1"), rec("a", "2"), rec("b", "2"), rec("a", "3"))
	want := map[string]string{"a": "3", "b": "2", "c": "1"}

	// The cleaner never touches the active segment: keep appending (each
	// append after segment.ms rolls a new one) until the closed segments
	// have been compacted, which the broker does every log.cleaner.backoff.ms.
	deadline := time.Now().Add(90 * time.Second)
	for {
		kafkatest.Produce(t, name, rec("c", "1"))
		got := kafkatest.ReadAll(t, name, 30*time.Second)
		latest := map[string]string{}
		perKey := map[string]int{}
		for _, m := range got {
			latest[string(m.Key)] = string(m.Value)
			perKey[string(m.Key)]++
		}
		if fmt.Sprint(latest) != fmt.Sprint(want) {
			t.Fatalf("latest values %v, want %v", latest, want)
		}
		if perKey["a"] == 1 && perKey["b"] == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not compacted after 90 s: %d records for a, %d for b", perKey["a"], perKey["b"])
		}
		time.Sleep(250 * time.Millisecond) // pace the appends that roll segments
	}
}
