package partition_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/partition"
	"github.com/hashtrend/hashtrend/pkg/systest"
)

// config is a reader of name on the test broker.
func config(t *testing.T, name string, messages bool) partition.Config {
	return partition.Config{Kafka: kafkaconn.Config{Brokers: kafkatest.Brokers(t), SecurityProtocol: "plaintext"},
		Client: kafkatest.Group(t), Topic: name, Messages: messages}
}

// open is a reader of name from the offsets in from, closed when the test
// ends.
func open(t *testing.T, name string, messages bool, from map[int32]int64) *partition.Reader {
	t.Helper()
	r, err := partition.Open(config(t, name, messages), from)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// both runs test through the batch queue and through Poll: one loop and
// one end rule read both.
func both(t *testing.T, test func(t *testing.T, messages bool)) {
	t.Run("batch", func(t *testing.T) { test(t, false) })
	t.Run("poll", func(t *testing.T) { test(t, true) })
}

// produce writes one record to partition p in p's open transaction and
// waits until the broker has it.
func produce(t *testing.T, p *kafka.Producer, name string, partition int32, key string, value []byte) {
	t.Helper()
	delivered := make(chan kafka.Event, 1)
	if err := p.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &name, Partition: partition}, Key: []byte(key), Value: value}, delivered); err != nil {
		t.Fatal(err)
	}
	if m := (<-delivered).(*kafka.Message); m.TopicPartition.Error != nil {
		t.Fatal(m.TopicPartition.Error)
	}
}

// transaction writes values to partition 0 in one transaction and commits
// or aborts it.
func transaction(t *testing.T, p *kafka.Producer, name string, commit bool, values ...string) {
	t.Helper()
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		produce(t, p, name, 0, "k", []byte(v))
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

// TestReadToTheHighWatermarkWaitsForAnOpenTransaction: a read to the high
// watermark with a transaction open below it on one partition ends once
// the transaction commits, with its record, past its marker, and without
// the records written after the ends were taken.
func TestReadToTheHighWatermarkWaitsForAnOpenTransaction(t *testing.T) {
	both(t, func(t *testing.T, messages bool) {
		name := kafkatest.Topic(t, "read", 2, nil)
		kafkatest.Produce(t, name, kafkatest.Record{Key: []byte("a"), Value: []byte("plain-a")}, kafkatest.Record{Key: []byte("b"), Value: []byte("plain-b")})
		p := kafkatest.TransactionalProducer(t)
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		produce(t, p, name, 1, "", []byte("in-txn"))

		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		r := open(t, name, messages, map[int32]int64{0: partition.Beginning, 1: partition.Beginning})
		high, err := r.Ends(ctx, kafka.IsolationLevelReadUncommitted)
		if err != nil {
			t.Fatal(err)
		}
		stable, err := r.Ends(ctx, kafka.IsolationLevelReadCommitted)
		if err != nil {
			t.Fatal(err)
		}
		if len(high) != 2 || stable[1] >= high[1] {
			t.Fatalf("end offsets with a transaction open on partition 1: high %v, stable %v; want the stable one below", high, stable)
		}
		done := make(chan []string, 1)
		go func() {
			var got []string
			err := r.ReadTo(ctx, high, func(rec partition.Record) error {
				got = append(got, string(rec.Value))
				return nil
			})
			if err != nil {
				got = append(got, err.Error())
			}
			done <- got
		}()
		select {
		case got := <-done:
			t.Fatalf("read %v and returned while a transaction was open below the end", got)
		case <-time.After(2 * time.Second):
		}
		if err := p.CommitTransaction(ctx); err != nil {
			t.Fatal(err)
		}
		// Written after the ends were taken: not part of the read.
		kafkatest.Produce(t, name, kafkatest.Record{Key: []byte("a"), Value: []byte("late")}, kafkatest.Record{Key: []byte("b"), Value: []byte("late")})
		select {
		case got := <-done:
			if strings.Join(sorted(got), ",") != "in-txn,plain-a,plain-b" {
				t.Fatalf("read %v, want exactly in-txn, plain-a and plain-b", got)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("ReadTo did not return within 60s of the transaction's commit")
		}
	})
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestReadToSkipsAbortedRecordsAndEndsOnATrailingMarker: of committed and
// aborted transactions, only the committed records are read; the last
// offsets below the end are an aborted transaction's records and its
// marker, which hold nothing back; a record larger than a chunk's buffer
// comes whole.
func TestReadToSkipsAbortedRecordsAndEndsOnATrailingMarker(t *testing.T) {
	both(t, func(t *testing.T, messages bool) {
		name := kafkatest.Topic(t, "read", 1, nil)
		p := kafkatest.TransactionalProducer(t)
		big := strings.Repeat("x", 600<<10) // more than a chunk's buffer
		transaction(t, p, name, true, "c1", "c2")
		transaction(t, p, name, false, "a1", "a2")
		transaction(t, p, name, true, big)
		transaction(t, p, name, false, "a3")
		r := open(t, name, messages, map[int32]int64{0: partition.Beginning})
		ends, err := r.Ends(t.Context(), kafka.IsolationLevelReadUncommitted)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		err = r.ReadTo(t.Context(), ends, func(rec partition.Record) error {
			got = append(got, string(rec.Value))
			return nil
		})
		if err != nil || len(got) != 3 || got[0] != "c1" || got[1] != "c2" || got[2] != big {
			t.Fatalf("read %d records (%.10q), %v; want c1, c2 and the big one", len(got), got, err)
		}
		if next := r.Next(0); next != 7 {
			t.Fatalf("next offset %d after the big record at 6", next)
		}
	})
}

// TestReadToFromAnOffset reads the last three records of a partition; a
// partition assigned at its end is not waited for.
func TestReadToFromAnOffset(t *testing.T) {
	both(t, func(t *testing.T, messages bool) {
		name := kafkatest.Topic(t, "read", 2, nil)
		var recs []kafkatest.Record
		for i := range 10 {
			recs = append(recs, kafkatest.Record{Key: []byte("k"), Value: []byte{byte('0' + i)}})
		}
		kafkatest.Produce(t, name, recs...) // one key: every record on one partition
		r := open(t, name, messages, nil)
		high, err := r.Ends(t.Context(), kafka.IsolationLevelReadUncommitted)
		if err != nil {
			t.Fatal(err)
		}
		from := map[int32]int64{}
		for p, end := range high {
			from[p] = max(end-3, 0) // the empty partition: at its end
		}
		if err := r.Assign(from); err != nil {
			t.Fatal(err)
		}
		got := ""
		err = r.ReadTo(t.Context(), high, func(rec partition.Record) error {
			got += string(rec.Value)
			return nil
		})
		if err != nil || got != "789" {
			t.Fatalf("read %q, %v; want the last three records, 789", got, err)
		}
	})
}

// TestReadToWaitsForAnOpenTransactionOfOneRecord: a transaction of one
// record still open at the end holds the read back (a read that took the
// client's position for its end, one past the real one after an
// end-of-partition, returned at once), and its record comes once it
// commits.
func TestReadToWaitsForAnOpenTransactionOfOneRecord(t *testing.T) {
	name := kafkatest.Topic(t, "read", 1, nil)
	p := kafkatest.TransactionalProducer(t)
	transaction(t, p, name, true, "a")
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(t, p, name, 0, "b", []byte("b"))
	r := open(t, name, false, map[int32]int64{0: partition.Beginning})
	end, err := r.HighWatermark(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan string, 2)
	done := make(chan error, 1)
	go func() {
		done <- r.ReadTo(t.Context(), map[int32]int64{0: end}, func(rec partition.Record) error {
			read <- string(rec.Value)
			return nil
		})
	}()
	select {
	case v := <-read:
		if v != "a" {
			t.Fatalf("first record read: %q, want the committed a", v)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the committed record was not read within 2 minutes")
	}
	select {
	case err := <-done:
		t.Fatalf("ReadTo returned (%v) while a transaction was open below its end", err)
	case <-time.After(2 * time.Second):
	}
	if err := p.CommitTransaction(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if v := <-read; err != nil || v != "b" {
			t.Fatalf("ReadTo = %v, second record %q; want b", err, v)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("ReadTo did not end within 2 minutes of the commit")
	}
}

// TestDecodeAppliesEveryRecordInOffsetOrder writes more records than
// several chunks hold, with null values among them: they arrive decoded,
// in the order they were written.
func TestDecodeAppliesEveryRecordInOffsetOrder(t *testing.T) {
	name := kafkatest.Topic(t, "read", 1, nil)
	var recs []kafkatest.Record
	for i := range 20_000 {
		rec := kafkatest.Record{Key: fmt.Appendf(nil, "k%d", i%700)}
		if i%997 != 0 {
			rec.Value = strconv.AppendInt(nil, int64(i), 10)
		}
		recs = append(recs, rec)
	}
	kafkatest.Produce(t, name, recs...)
	r := open(t, name, false, map[int32]int64{0: partition.Beginning})
	want := int64(0)
	n, err := partition.Decode(t.Context(), r, map[int32]int64{0: int64(len(recs))}, func(rec partition.Record) (int64, error) {
		if rec.Value == nil {
			return -rec.Offset, nil
		}
		return strconv.ParseInt(string(rec.Value), 10, 64)
	}, func(v int64) error {
		if v != want && v != -want {
			return fmt.Errorf("applied %d where %d was next", v, want)
		}
		want++
		return nil
	})
	if err != nil || n != int64(len(recs)) || r.Next(0) != int64(len(recs)) {
		t.Fatalf("Decode = %d records, %v, next %d; want %d", n, err, r.Next(0), len(recs))
	}
}

// TestDecodeStopsAtARecordThatDoesNotDecode, saying its offset, having
// applied every record before it; the next read starts again there.
func TestDecodeStopsAtARecordThatDoesNotDecode(t *testing.T) {
	name := kafkatest.Topic(t, "read", 1, nil)
	var recs []kafkatest.Record
	for i := range 10_000 {
		v := []byte("ok")
		if i == 6_000 {
			v = []byte("bad")
		}
		recs = append(recs, kafkatest.Record{Value: v})
	}
	kafkatest.Produce(t, name, recs...)
	r := open(t, name, false, map[int32]int64{0: partition.Beginning})
	errBad := errors.New("bad record")
	decode := func(rec partition.Record) ([]byte, error) {
		if string(rec.Value) == "bad" {
			return nil, errBad
		}
		return rec.Value, nil
	}
	applied := 0
	_, err := partition.Decode(t.Context(), r, map[int32]int64{0: 10_000}, decode, func([]byte) error { applied++; return nil })
	if !errors.Is(err, errBad) || !strings.Contains(err.Error(), "@6000") || applied != 6_000 {
		t.Fatalf("Decode: %v after %d records; want the bad record at offset 6000 after 6000", err, applied)
	}
	first := ""
	err = r.ReadTo(t.Context(), map[int32]int64{0: 10_000}, func(rec partition.Record) error {
		if first == "" {
			first = fmt.Sprintf("%s@%d", rec.Value, rec.Offset)
		}
		return nil
	})
	if err != nil || first != "bad@6000" {
		t.Fatalf("the read after it began at %s, %v; want bad@6000", first, err)
	}
}

// TestFollowThenReadToGoesOnWhereFollowStopped: a follower stopped in the
// middle of what it took (its handler ends with the context) and then read
// to the end of records written since hands every record exactly once.
func TestFollowThenReadToGoesOnWhereFollowStopped(t *testing.T) {
	both(t, func(t *testing.T, messages bool) {
		name := kafkatest.Topic(t, "read", 1, nil)
		values := func(from, to int) []kafkatest.Record {
			var recs []kafkatest.Record
			for i := from; i < to; i++ {
				recs = append(recs, kafkatest.Record{Value: strconv.AppendInt(nil, int64(i), 10)})
			}
			return recs
		}
		kafkatest.Produce(t, name, values(0, 3000)...)
		r := open(t, name, messages, map[int32]int64{0: partition.Beginning})
		n := 0
		take := func(rec partition.Record) error {
			if want := strconv.Itoa(n); string(rec.Value) != want {
				return fmt.Errorf("read %s where %s was next", rec.Value, want)
			}
			n++
			return nil
		}
		ctx, stop := context.WithCancel(t.Context())
		err := r.Follow(ctx, func(rec partition.Record) error {
			if n == 1500 {
				stop()
				return ctx.Err() // the rest of what was taken is not handed over
			}
			return take(rec)
		})
		if err != nil || n != 1500 {
			t.Fatalf("Follow = %v after %d records; want nil after 1500", err, n)
		}
		kafkatest.Produce(t, name, values(3000, 3700)...)
		if err := r.ReadTo(t.Context(), map[int32]int64{0: 3700}, take); err != nil || n != 3700 {
			t.Fatalf("ReadTo = %v with %d records in all; want the 3700 written", err, n)
		}
	})
}

// TestReadToAfterFollowEndsOnTheEndOfPartitionFollowSaw: librdkafka
// reports an end-of-partition once per offset, so a read to the end that
// a follow already reached (past a transaction's marker, which no record
// shows) ends on the one the follow saw.
func TestReadToAfterFollowEndsOnTheEndOfPartitionFollowSaw(t *testing.T) {
	name := kafkatest.Topic(t, "read", 1, nil)
	transaction(t, kafkatest.TransactionalProducer(t), name, true, "a", "b", "c")
	r := open(t, name, false, map[int32]int64{0: partition.Beginning})
	end, err := r.HighWatermark(t.Context(), 0)
	if err != nil || end != 4 {
		t.Fatalf("end %d, %v; want 4, past the marker at 3", end, err)
	}
	ctx, stop := context.WithCancel(t.Context())
	var n atomic.Int64
	go func() {
		for deadline := time.Now().Add(time.Minute); n.Load() < 3 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Second) // the fetch at the end answers after FetchWait
		stop()
	}()
	err = r.Follow(ctx, func(partition.Record) error { n.Add(1); return nil })
	if err != nil || n.Load() != 3 {
		t.Fatalf("Follow = %v after %d records; want nil after 3", err, n.Load())
	}
	rctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := r.ReadTo(rctx, map[int32]int64{0: end}, func(partition.Record) error { return nil }); err != nil {
		t.Fatalf("ReadTo after the follow reached the end: %v", err)
	}
}

// TestAReadHeldBackByAnOpenTransactionStallsAndGoesOnOnceItEnds: a read to
// the high watermark with a transaction left open below it, neither
// committed nor aborted, stops once it has made no progress for the
// reader's Stall, saying where it stands (the open transaction's offset)
// and the end it reads to; the same reader reads on to that end once the
// transaction is aborted, without the aborted record.
func TestAReadHeldBackByAnOpenTransactionStallsAndGoesOnOnceItEnds(t *testing.T) {
	both(t, func(t *testing.T, messages bool) {
		name := kafkatest.Topic(t, "read", 1, nil)
		before := []string{"a", "b", "c"}
		for _, v := range before {
			kafkatest.Produce(t, name, kafkatest.Record{Key: []byte(v), Value: []byte(v)})
		}
		// Open far longer than the test: only the test ends it.
		p, err := kafka.NewProducer(&kafka.ConfigMap{"bootstrap.servers": kafkatest.Brokers(t),
			"transactional.id": kafkatest.Name(t, "txn"), "transaction.timeout.ms": 600000})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if err := p.InitTransactions(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		produce(t, p, name, 0, "held", []byte("held"))
		kafkatest.Produce(t, name, kafkatest.Record{Key: []byte("d"), Value: []byte("d")})

		const stall = time.Second
		var log systest.Buffer
		cfg := config(t, name, messages)
		cfg.Stall = stall
		cfg.Log = slog.New(slog.NewTextHandler(&log, nil))
		r, err := partition.Open(cfg, map[int32]int64{0: partition.Beginning})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		end, err := r.HighWatermark(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		held := int64(len(before)) // the open transaction's offset
		if end != held+2 {
			t.Fatalf("high watermark %d, want %d: the records before, the open one and one after", end, held+2)
		}
		var got []string
		read := func(rec partition.Record) error {
			got = append(got, string(rec.Value))
			return nil
		}
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		began := time.Now()
		err = r.ReadTo(ctx, map[int32]int64{0: end}, read)
		took := time.Since(began)
		var stalled *partition.StalledError
		if !errors.As(err, &stalled) {
			t.Fatalf("ReadTo = %v after %s, want a stall", err, took)
		}
		if stalled.Partition != 0 || stalled.At != held || stalled.End != end || stalled.Records != int64(len(before)) || stalled.Still < stall || took < stall {
			t.Fatalf("stalled %+v after %s; want partition 0 at %d, end %d, %d records, no progress for at least %s",
				stalled, took, held, end, len(before), stall)
		}
		if strings.Join(got, ",") != strings.Join(before, ",") {
			t.Fatalf("read %v before the stall, want %v", got, before)
		}
		lines := strings.Split(strings.TrimSpace(log.String()), "\n")
		var said []string
		for _, l := range lines {
			if strings.Contains(l, "level=ERROR") {
				said = append(said, l)
			}
		}
		want := fmt.Sprintf("partition=0 read_to=%d end=%d", held, end)
		if len(said) != 1 || !strings.Contains(said[0], want) || !strings.Contains(said[0], "no_progress=") {
			t.Fatalf("logged %q; want one error line saying %s and how long nothing moved", said, want)
		}

		if err := p.AbortTransaction(t.Context()); err != nil {
			t.Fatal(err)
		}
		got = nil
		if err := r.ReadTo(ctx, map[int32]int64{0: end}, read); err != nil {
			t.Fatalf("ReadTo after the abort: %v", err)
		}
		if strings.Join(got, ",") != "d" {
			t.Fatalf("read %v after the abort, want only d", got)
		}
	})
}
