package stage_test

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/services/counter/internal/kafkaio"
	"github.com/hashtrend/hashtrend/services/counter/internal/metrics"
	"github.com/hashtrend/hashtrend/services/counter/internal/stage"
)

// summer is a stage that sums the records it reads (each value is a
// number) and, every window of 200 ms and at its stop, commits the sum
// read since the last commit to out with the offsets read.
type summer struct {
	t        *testing.T
	r        *stage.Runner
	out      string
	due      time.Time
	next     map[int32]int64
	sum      int64
	read     atomic.Int64 // records read in the run, committed or not
	summed   atomic.Int64 // the sums committed
	assigned atomic.Bool
	started  []kafkaio.Offset
	aborted  int
	revokes  int
	stopped  bool
	failNext bool // abort the next commit once
}

func (s *summer) Assigned(parts []int32) ([]kafkaio.Offset, error) {
	start, err := s.r.Consumer().Committed(context.Background(), parts)
	s.started = append(s.started, start...)
	if len(parts) > 0 {
		s.assigned.Store(true)
	}
	return start, err
}

func (s *summer) Revoked(parts []int32, lost bool) error {
	s.revokes++
	if lost {
		s.next, s.sum = map[int32]int64{}, 0
		return nil
	}
	return s.commit()
}

func (s *summer) Due(now time.Time) (time.Time, error) {
	if s.due.IsZero() || !now.Before(s.due) {
		if err := s.commit(); err != nil {
			return time.Time{}, err
		}
		s.due = now.Add(200 * time.Millisecond)
	}
	return s.due, nil
}

func (s *summer) Aborted(error) ([]kafkaio.Offset, error) {
	s.aborted++
	s.next, s.sum = map[int32]int64{}, 0
	parts, err := s.r.Consumer().Assignment()
	if err != nil {
		return nil, err
	}
	return s.r.Consumer().Committed(context.Background(), parts)
}

func (s *summer) Stop() error {
	s.stopped = true
	return s.commit()
}

func (s *summer) add(r kafkaio.Record) {
	s.sum += int64(binary.BigEndian.Uint64(r.Value))
	s.next[r.Partition] = r.Offset + 1
	s.read.Add(1)
}

func (s *summer) commit() error {
	if len(s.next) == 0 {
		return nil
	}
	var offsets []kafkaio.Offset
	for p, o := range s.next {
		offsets = append(offsets, kafkaio.Offset{Partition: p, Offset: o})
	}
	sum := s.sum
	ok, err := s.r.Commit(offsets, func(p *kafkaio.Producer) error {
		if s.failNext {
			s.failNext = false
			// A record to a partition the topic does not have: the
			// transaction cannot commit and is aborted.
			return p.Produce(kafkaio.Message{Topic: s.out, Partition: 99, Value: []byte("x")})
		}
		return p.Produce(kafkaio.Message{Topic: s.out, Partition: 0, Value: binary.BigEndian.AppendUint64(nil, uint64(s.sum))})
	})
	if ok {
		s.summed.Add(sum)
	}
	s.next, s.sum = map[int32]int64{}, 0
	return err
}

// records reads them one by one.
type records struct{ *summer }

func (s records) Record(r kafkaio.Record) error {
	s.add(r)
	return nil
}

// chunks reads them through the batch queue.
type chunks struct {
	*summer
	c *kafkaio.Chunk
}

func (s chunks) Read(read func(*kafkaio.Chunk) bool) {
	if read(s.c) {
		s.c.Each(s.add, func(p int32, err string) { s.t.Errorf("partition %d: %s", p, err) })
	}
}

// TestARunCommitsWhatItReadAndTheNextStartsThere runs a stage over 300
// records in three partitions, one by one and in chunks: the sums it
// commits add up to the input's exactly, an abort on the way included,
// and a second run of the same group starts at the ends, the offsets the
// first committed, and reads nothing.
func TestARunCommitsWhatItReadAndTheNextStartsThere(t *testing.T) {
	for _, mode := range []string{"records", "chunks"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			brokers := kafkatest.Brokers(t)
			in := kafkatest.Topic(t, "in", 3, nil)
			out := kafkatest.Topic(t, "out", 1, nil)
			var recs []kafkatest.Record
			want := int64(0)
			for i := range 300 {
				recs = append(recs, kafkatest.Record{Key: []byte{byte(i)}, Value: binary.BigEndian.AppendUint64(nil, uint64(i))})
				want += int64(i)
			}
			kafkatest.Produce(t, in, recs...)
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			cfg := stage.Config{
				Name: "sum", Kafka: kafkaconn.Config{Brokers: brokers, SecurityProtocol: "plaintext"},
				Instance: kafkatest.Name(t, "sum"), Group: kafkatest.Group(t), Topic: in,
				TxnTimeout: 10 * time.Second, SessionTimeout: 6 * time.Second, MaxRecordBytes: 1 << 20,
				MaxWait: 20 * time.Millisecond,
			}
			// run runs the stage until it has partitions and has committed
			// sums adding up to upTo, then a second more.
			run := func(failFirst bool, upTo int64) *summer {
				m := metrics.New(prometheus.NewRegistry())
				s := &summer{t: t, out: out, next: map[int32]int64{}, failNext: failFirst}
				s.r = stage.New(cfg, log, m)
				var st stage.Stage = records{s}
				if mode == "chunks" {
					st = chunks{s, kafkaio.NewChunk(1<<10, 16)}
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- s.r.Run(ctx, st) }()
				for deadline := time.Now().Add(time.Minute); (!s.assigned.Load() || s.summed.Load() < upTo) && time.Now().Before(deadline); {
					time.Sleep(50 * time.Millisecond)
				}
				time.Sleep(time.Second) // a few windows more, with nothing to read
				cancel()
				if err := <-done; err != nil {
					t.Fatalf("run: %v", err)
				}
				if !s.stopped || s.revokes == 0 {
					t.Fatalf("stopped %v, revokes %d: Stop and the revoke of the close were not called", s.stopped, s.revokes)
				}
				return s
			}
			first := run(true, want)
			if first.aborted != 1 {
				t.Fatalf("%d aborts, want the 1 forced", first.aborted)
			}
			second := run(false, 0)
			if n := second.read.Load(); n != 0 {
				t.Fatalf("the second run read %d records, want none", n)
			}
			ends := int64(0)
			for _, o := range second.started {
				ends += o.Offset
			}
			if len(second.started) != 3 || ends != 300 {
				t.Fatalf("the second run started at %v, want the ends of the 3 partitions (300 records)", second.started)
			}
			got := int64(0)
			for _, m := range kafkatest.ReadAll(t, out, 30*time.Second) {
				got += int64(binary.BigEndian.Uint64(m.Value))
			}
			if got != want {
				t.Fatalf("committed sums add up to %d, want %d", got, want)
			}
		})
	}
}
