package kafkaio

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
)

func TestStartOffsets(t *testing.T) {
	topic := "tweets"
	tp := func(offset kafka.Offset, err error) kafka.TopicPartition {
		return kafka.TopicPartition{Topic: &topic, Partition: 4, Offset: offset, Error: err}
	}
	tests := []struct {
		name    string
		in      kafka.TopicPartition
		want    kafka.Offset
		wantErr error // nil: no error
	}{
		{"a committed offset is where to start", tp(883, nil), 883, nil},
		{"nothing committed starts at the beginning", tp(kafka.OffsetInvalid, nil), kafka.OffsetBeginning, nil},
		// An unstable answer carries offset -1001 too: taking it for
		// "nothing committed" read the partition again from offset 0.
		{"an unstable offset is asked again, never taken for nothing committed",
			tp(kafka.OffsetInvalid, kafka.NewError(kafka.ErrUnstableOffsetCommit, "unstable", false)), 0, ErrUnstable},
		{"another error is an error",
			tp(kafka.OffsetInvalid, kafka.NewError(kafka.ErrGroupAuthorizationFailed, "denied", false)), 0, errors.New("any")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := startOffsets([]kafka.TopicPartition{tt.in})
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("StartOffsets: %v", err)
			case tt.wantErr == ErrUnstable && !errors.Is(err, ErrUnstable):
				t.Fatalf("StartOffsets: %v, want ErrUnstable", err)
			case tt.wantErr != nil && err == nil:
				t.Fatalf("StartOffsets = %v, want an error", got)
			case tt.wantErr == nil && (len(got) != 1 || got[0].Offset != tt.want || got[0].Error != nil):
				t.Fatalf("StartOffsets = %v, want offset %v", got, tt.want)
			}
		})
	}
}

// TestAssignWaitsForTheDeadOwnersTransaction is the scale test's double
// count in small: a member died inside the transaction that commits its
// offsets (here: a transaction left open), a new member is assigned the
// partition, and its assignment changes again before that transaction is
// resolved. librdkafka's own lookup of the committed offset (IncrementalAssign
// without offsets) then starts the partition at auto.offset.reset, offset 0,
// and everything before the committed offset is counted twice.
// Consumer.Committed waits for the stable offset and Assign starts there.
func TestAssignWaitsForTheDeadOwnersTransaction(t *testing.T) {
	for _, outcome := range []string{"aborted", "committed"} {
		t.Run("the transaction is "+outcome, func(t *testing.T) {
			t.Parallel()
			brokers := kafkatest.Brokers(t)
			topic := kafkatest.Topic(t, "tweets", 2, nil)
			var recs []kafkatest.Record
			for i := range 100 {
				recs = append(recs, kafkatest.Record{Key: []byte{byte(i)}, Value: []byte("post")})
			}
			kafkatest.Produce(t, topic, recs...)
			group := kafkatest.Group(t)
			md, err := kafka.NewTestConsumerGroupMetadata(group)
			if err != nil {
				t.Fatal(err)
			}
			p, err := kafka.NewProducer(&kafka.ConfigMap{"bootstrap.servers": brokers,
				"transactional.id": kafkatest.Name(t, "tally"), "transaction.timeout.ms": 60000})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			offsets := func(p0 kafka.Offset) []kafka.TopicPartition {
				return []kafka.TopicPartition{{Topic: &topic, Partition: 0, Offset: p0}, {Topic: &topic, Partition: 1, Offset: 10}}
			}
			// Committed: both partitions at 10. Then the dead owner's
			// transaction: partition 0 at 20, left open.
			if err := p.InitTransactions(ctx); err != nil {
				t.Fatal(err)
			}
			if err := (&Producer{p: p}).Commit(nil, nil, time.Minute, func() error { return p.SendOffsetsToTransaction(ctx, offsets(10), md) }); err != nil {
				t.Fatal(err)
			}
			if err := p.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			if err := p.SendOffsetsToTransaction(ctx, offsets(20)[:1], md); err != nil {
				t.Fatal(err)
			}
			// The coordinator resolves it a while later (in production: at
			// the transaction timeout).
			resolved := make(chan error, 1)
			go func() {
				time.Sleep(1500 * time.Millisecond)
				if outcome == "aborted" {
					resolved <- p.AbortTransaction(ctx)
				} else {
					resolved <- p.CommitTransaction(ctx)
				}
			}()

			c, err := kafka.NewConsumer(&kafka.ConfigMap{"bootstrap.servers": brokers, "group.id": group,
				"isolation.level": "read_committed", "auto.offset.reset": "earliest", "enable.auto.commit": false})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			cons := &Consumer{c: c, name: "tally", topic: topic, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			assign := func(p int32) {
				start, err := cons.Committed(ctx, []int32{p})
				if err != nil {
					t.Fatal(err)
				}
				if err := cons.Assign(start); err != nil {
					t.Fatal(err)
				}
			}
			assign(0)
			// The assignment changes: another partition comes.
			time.Sleep(500 * time.Millisecond)
			assign(1)
			if err := <-resolved; err != nil {
				t.Fatal(err)
			}
			want := map[int32]kafka.Offset{0: 10, 1: 10}
			if outcome == "committed" {
				want[0] = 20
			}
			first := map[int32]kafka.Offset{}
			for deadline := time.Now().Add(30 * time.Second); len(first) < 2 && time.Now().Before(deadline); {
				if m, ok := c.Poll(100).(*kafka.Message); ok {
					if _, seen := first[m.TopicPartition.Partition]; !seen {
						first[m.TopicPartition.Partition] = m.TopicPartition.Offset
					}
				}
			}
			if first[0] != want[0] || first[1] != want[1] {
				t.Fatalf("first offsets read: %v, want %v", first, want)
			}
		})
	}
}

// TestCommitsGoOnWhileNobodyReadsTheProducersEvents: the stages never read
// their producer's Events channel, so its records' delivery reports must
// not wait there, or the commit that flushes them fails once the channel
// is full (after 1,000,000 records by default; 10 here).
func TestCommitsGoOnWhileNobodyReadsTheProducersEvents(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topic(t, "deltas", 1, nil)
	cm := ProducerConfig(kafkatest.Name(t, "tally"), 10*time.Second, 1<<20)
	cm["bootstrap.servers"] = brokers
	cm["go.events.channel.size"] = 10
	kp, err := kafka.NewProducer(&cm)
	if err != nil {
		t.Fatal(err)
	}
	p := &Producer{p: kp}
	defer p.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Init(ctx, log); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		err := p.Commit(nil, nil, time.Minute, func() error {
			for range 20 {
				if err := p.Produce(Message{Topic: topic, Partition: 0, Value: []byte("delta")}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("commit %d: %v", round, err)
		}
	}
	if got := len(kafkatest.ReadAll(t, topic, 30*time.Second)); got != 60 {
		t.Fatalf("read %d records, want 60", got)
	}
}
