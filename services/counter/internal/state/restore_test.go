package state_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/services/counter/internal/state"
)

// TestRestoreAppliesEveryRecordInOffsetOrder writes more records than
// several decode batches hold, the same keys again and again, with
// tombstones and meta records among them: the records arrive decoded and
// in the order they were written, so the last value of each key wins.
func TestRestoreAppliesEveryRecordInOffsetOrder(t *testing.T) {
	// Not compacted, so that every record written is there to be read.
	name := kafkatest.Topic(t, "counts", 1, nil)
	var recs []kafkatest.Record
	want := map[string]int64{}
	for i := range 20_000 {
		k := fmt.Sprintf("tag%d", i%700)
		switch {
		case i%997 == 0:
			recs = append(recs, kafkatest.Record{Key: []byte(k)})
			delete(want, k)
		case i%1009 == 0:
			m, _ := state.EncodeMeta(state.Meta{Batch: int64(i)})
			recs = append(recs, kafkatest.Record{Key: []byte(state.MetaKey), Value: m})
		default:
			v, _ := state.EncodeTotal(state.Total{Count: int64(i + 1), Spelling: k})
			recs = append(recs, kafkatest.Record{Key: []byte(k), Value: v})
			want[k] = int64(i + 1)
		}
	}
	kafkatest.Produce(t, name, recs...)
	got := map[string]int64{}
	var batch int64
	n, err := state.Restore(context.Background(), kafkaconn.Config{Brokers: kafkatest.Brokers(t), SecurityProtocol: "plaintext"}, name, 0, slog.Default(), func(r state.Record) error {
		switch {
		case r.Meta != nil:
			batch = r.Meta.Batch
		case r.Deleted:
			delete(got, string(r.Key))
		default:
			got[string(r.Key)] = r.Total.Count
		}
		return nil
	})
	if err != nil || n != int64(len(recs)) {
		t.Fatalf("Restore = %d records, %v; want %d", n, err, len(recs))
	}
	if len(got) != len(want) || batch != 19171 {
		t.Fatalf("restored %d keys and batch %d, want %d keys and batch 19171", len(got), batch, len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s = %d, want the last value written, %d", k, got[k], v)
		}
	}
}

func TestRestoreStopsAtARecordThatDoesNotDecode(t *testing.T) {
	name := kafkatest.Topic(t, "counts", 1, nil)
	var recs []kafkatest.Record
	for i := range 10_000 {
		v, _ := state.EncodeTotal(state.Total{Count: 1, Spelling: "a"})
		if i == 6_000 {
			v = []byte(`{"v":1,"count":1}`)
		}
		recs = append(recs, kafkatest.Record{Key: fmt.Appendf(nil, "k%d", i), Value: v})
	}
	kafkatest.Produce(t, name, recs...)
	applied := 0
	_, err := state.Restore(context.Background(), kafkaconn.Config{Brokers: kafkatest.Brokers(t), SecurityProtocol: "plaintext"}, name, 0, slog.Default(), func(r state.Record) error {
		applied++
		return nil
	})
	if !errors.Is(err, state.ErrInvalid) || !strings.Contains(err.Error(), "@6000") || applied != 6_000 {
		t.Fatalf("Restore: %v after %d records; want ErrInvalid at offset 6000 after 6000", err, applied)
	}
}

// TestRestoreReadsCommittedTransactionsOnly: records of aborted
// transactions are never restored, a transaction's trailing marker (the
// last offset before the end) does not hold the restore back, and a record
// larger than a read's buffer comes whole.
func TestRestoreReadsCommittedTransactionsOnly(t *testing.T) {
	name := kafkatest.Topic(t, "counts", 1, nil)
	p := kafkatest.TransactionalProducer(t)
	many := map[string]int64{}
	for i := range 30_000 {
		many[fmt.Sprintf("SpellingNumber%d", i)] = 1
	}
	txn := func(commit bool, totals map[string]state.Total) {
		t.Helper()
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for k, v := range totals {
			b, err := state.EncodeTotal(v)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &name, Partition: 0}, Key: []byte(k), Value: b}, nil); err != nil {
				t.Fatal(err)
			}
		}
		var err error
		if commit {
			err = p.CommitTransaction(t.Context())
		} else {
			err = p.AbortTransaction(t.Context())
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	txn(true, map[string]state.Total{"a": {Count: 1, Spelling: "A"}, "b": {Count: 2, Spelling: "B"}})
	txn(false, map[string]state.Total{"a": {Count: 100, Spelling: "A"}, "c": {Count: 5, Spelling: "C"}})
	txn(true, map[string]state.Total{"b": {Count: 40_000, Spelling: "B", Others: many}})
	txn(false, map[string]state.Total{"d": {Count: 1, Spelling: "D"}})

	got := map[string]state.Total{}
	n, err := state.Restore(t.Context(), kafkaconn.Config{Brokers: kafkatest.Brokers(t), SecurityProtocol: "plaintext"}, name, 0, slog.Default(), func(r state.Record) error {
		got[string(r.Key)] = r.Total
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("Restore = %d records, %v; want the 3 committed", n, err)
	}
	if len(got) != 2 || got["a"].Count != 1 || got["b"].Count != 40_000 || len(got["b"].Others) != len(many) {
		t.Fatalf("restored a=%+v, %d keys; want a=1 and b=40000 with %d other spellings", got["a"], len(got), len(many))
	}
}

// TestRestoreWaitsForAnOpenTransactionOfOneRecord: a restore reads to the
// high watermark, so a transaction still open there (a predecessor's last
// snapshot, here a single meta record) holds it back until it ends, and
// its committed record is restored. The read's end-of-partition comes at
// the last stable offset, one below; the client's position after it, one
// too far (librdkafka#4844), is not taken for the end.
func TestRestoreWaitsForAnOpenTransactionOfOneRecord(t *testing.T) {
	name := kafkatest.Topic(t, "counts", 1, nil)
	p := kafkatest.TransactionalProducer(t)
	// produce writes one record and waits until the broker has it.
	produce := func(key string, value []byte) {
		t.Helper()
		delivered := make(chan kafka.Event, 1)
		if err := p.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &name, Partition: 0}, Key: []byte(key), Value: value}, delivered); err != nil {
			t.Fatal(err)
		}
		if m := (<-delivered).(*kafka.Message); m.TopicPartition.Error != nil {
			t.Fatal(m.TopicPartition.Error)
		}
	}
	total, _ := state.EncodeTotal(state.Total{Count: 1, Spelling: "a"})
	meta, _ := state.EncodeMeta(state.Meta{Batch: 7})
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce("a", total)
	if err := p.CommitTransaction(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(state.MetaKey, meta)

	applied := make(chan state.Record, 2)
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := state.Restore(t.Context(), kafkaconn.Config{Brokers: kafkatest.Brokers(t), SecurityProtocol: "plaintext"}, name, 0, slog.Default(), func(r state.Record) error {
			applied <- r
			return nil
		})
		done <- result{n, err}
	}()
	select {
	case r := <-applied:
		if string(r.Key) != "a" {
			t.Fatalf("first record restored: %q, want the committed a", r.Key)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the committed record was not restored within 2 minutes")
	}
	// Absent an event, only a bound can tell: a restore that took the
	// position for the end returned within a few hundred milliseconds.
	select {
	case r := <-done:
		t.Fatalf("Restore returned (%d records, %v) while a transaction was open below its end", r.n, r.err)
	case <-time.After(2 * time.Second):
	}
	if err := p.CommitTransaction(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || r.n != 2 {
			t.Fatalf("Restore = %d records, %v; want 2", r.n, r.err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("Restore did not end within 2 minutes of the commit")
	}
	if r := <-applied; r.Meta == nil || r.Meta.Batch != 7 {
		t.Fatalf("second record restored: %+v, want the meta record of batch 7", r)
	}
}
