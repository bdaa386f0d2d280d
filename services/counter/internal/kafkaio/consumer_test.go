package kafkaio_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/services/counter/internal/kafkaio"
	"github.com/hashtrend/hashtrend/services/counter/internal/metrics"
	"github.com/hashtrend/hashtrend/services/counter/internal/stage"
)

// member is a stage's consumer as the stages make it, subscribed with a
// rebalance callback that assigns at the committed offsets, as theirs do.
type member struct {
	*kafkaio.Consumer
	batched  bool
	assigned int // partitions
}

func join(t *testing.T, kc kafkaconn.Config, o kafkaio.ConsumerOptions, log *slog.Logger) *member {
	t.Helper()
	c, err := kafkaio.NewConsumer(kc, o, log)
	if err != nil {
		t.Fatal(err)
	}
	m := &member{Consumer: c, batched: o.Batched}
	err = c.Subscribe(kafkaio.Rebalance{
		Assigned: func(parts []int32) error {
			start, err := c.Committed(context.Background(), parts)
			if err == nil {
				err = c.Assign(start)
			}
			m.assigned += len(parts)
			return err
		},
		Revoked: func(parts []int32, lost bool) error {
			m.assigned -= len(parts)
			return c.Unassign(parts)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// turn serves the member's events once and reads the records at hand (a
// batched member through its queue): it returns the member's error, a
// fatal one among them.
func (m *member) turn(chunk *kafkaio.Chunk) error {
	if m.batched {
		if err := m.Events(); err != nil {
			return err
		}
		m.Read(chunk, 20*time.Millisecond)
		return nil
	}
	_, _, err := m.Poll(20 * time.Millisecond)
	return err
}

// held is what the process holds that a client could leave behind.
type held struct {
	librdkafka int // OS threads librdkafka named its own (rdk:main, rdk:broker1, ...)
	foreign    int // OS threads the Go runtime did not start
	goThreads  int // OS threads the Go runtime started
	goroutines int
}

func (h held) String() string {
	return fmt.Sprintf("%d librdkafka threads (%d threads not Go's), %d Go threads, %d goroutines", h.librdkafka, h.foreign, h.goThreads, h.goroutines)
}

// holding counts the process's threads (/proc/self/task) and goroutines.
// The Go runtime keeps a thread that served a blocking cgo call for the
// next one, so the number of its threads is the most such calls made at
// once so far, not a leak. They are told apart by the runtime's own count
// (the threadcreate profile: the threads it started and has not ended,
// and an M kept for calls from C threads, which has no thread of its
// own); what is left, the threads not the runtime's, is compared with the
// same count taken before.
func holding(t *testing.T) held {
	t.Helper()
	comms, err := filepath.Glob("/proc/self/task/*/comm")
	if err != nil || len(comms) == 0 {
		t.Fatalf("no threads listed in /proc/self/task: %v", err)
	}
	h := held{goThreads: pprof.Lookup("threadcreate").Count(), goroutines: runtime.NumGoroutine()}
	all := 0
	for _, comm := range comms {
		name, err := os.ReadFile(comm)
		if errors.Is(err, os.ErrNotExist) {
			continue // ended meanwhile
		}
		if err != nil {
			t.Fatal(err)
		}
		all++
		if strings.HasPrefix(string(name), "rdk:") {
			h.librdkafka++
		}
	}
	h.foreign = all - h.goThreads
	return h
}

// awaitNothingLeft waits until the process holds no more librdkafka
// threads, threads not the Go runtime's, and goroutines than it did
// before (the last goroutines of a client end just after it is closed).
func awaitNothingLeft(t *testing.T, before held) {
	t.Helper()
	var now held
	systest.Await(t, "the threads and goroutines held before", 30*time.Second, func() bool {
		now = holding(t)
		return now.librdkafka <= before.librdkafka && now.foreign <= before.foreign && now.goroutines <= before.goroutines
	}, func() string { return fmt.Sprintf("before: %v\nnow:    %v", before, now) })
	t.Logf("before: %v\nafter:  %v", before, now)
}

// setup is a topic of two partitions with records in both, the
// connection's settings and a logger into logs.
func setup(t *testing.T, logs *systest.Buffer) (topic string, kc kafkaconn.Config, log *slog.Logger) {
	t.Helper()
	brokers := kafkatest.Brokers(t)
	topic = kafkatest.Topic(t, "tweets", 2, nil)
	var recs []kafkatest.Record
	for i := range 200 {
		recs = append(recs, kafkatest.Record{Key: []byte(fmt.Sprint(i)), Value: []byte("post")})
	}
	kafkatest.Produce(t, topic, recs...)
	kc = kafkaconn.Config{Brokers: brokers, SecurityProtocol: "plaintext"}
	// The process's one goroutine that writes librdkafka's log lines
	// (pkg/kafkaconn) starts with the first client's settings: before the
	// count.
	kc.ConfigMap("", nil)
	return topic, kc, slog.New(slog.NewTextHandler(logs, nil))
}

// TestFatalConsumersLeaveNothingBehind fences a stage's consumer again
// and again, as librdkafka itself does after a broker restart: a second
// consumer joins the group under the same group.instance.id (a static
// member, classic group protocol), and the broker fences the first, whose
// next heartbeat gets FENCED_INSTANCE_ID, a fatal error. librdkafka
// refuses to close such a consumer and Close destroys it instead: once
// the last fencing consumer is closed too, the process holds the
// librdkafka threads, the threads not the Go runtime's and the goroutines
// it held before the first. Each round fences the survivor of the round
// before, batched (as tally reads) and not (as rank does) in turn.
func TestFatalConsumersLeaveNothingBehind(t *testing.T) {
	const rounds = 5
	var logs systest.Buffer
	topic, kc, log := setup(t, &logs)
	o := kafkaio.ConsumerOptions{Name: "tally", Group: kafkatest.Group(t), Instance: kafkatest.Name(t, "counter"),
		Topic: topic, SessionTimeout: 6 * time.Second}
	before := holding(t)

	chunk := kafkaio.NewChunk(1<<16, 256)
	cur := join(t, kc, o, log)
	for round := range rounds {
		deadline := time.Now().Add(time.Minute)
		for cur.assigned < 2 {
			if err := cur.turn(chunk); err != nil {
				t.Fatalf("round %d: before the fencing: %v", round, err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: never assigned both partitions", round)
			}
		}
		// A seek, as after an aborted transaction: the client caches a
		// handle of the topic, which its destroy must free.
		if err := cur.Seek([]kafkaio.Offset{{Partition: 0, Offset: 1}}); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		o.Batched = round%2 == 0
		next := join(t, kc, o, log)
		var failed error
		for failed == nil || next.assigned < 2 {
			if failed == nil {
				failed = cur.turn(chunk)
			}
			if err := next.turn(chunk); err != nil {
				t.Fatalf("round %d: the fencing consumer: %v", round, err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the fenced consumer's error: %v; the fencing one has %d partitions", round, failed, next.assigned)
			}
		}
		var cf *kafkaio.ConsumerFailed
		if !errors.As(failed, &cf) {
			t.Fatalf("round %d: the fenced consumer failed with %v, want a ConsumerFailed", round, failed)
		}
		if err := cur.Close(); err != nil {
			t.Fatalf("round %d: close the fenced consumer: %v", round, err)
		}
		// Destroyed: its client is closed, and a call errors instead of
		// reaching freed memory.
		if _, _, err := cur.Poll(time.Millisecond); err == nil {
			t.Fatalf("round %d: the destroyed consumer polled without an error", round)
		}
		if _, err := cur.Assignment(); err == nil {
			t.Fatalf("round %d: the destroyed consumer told its assignment", round)
		}
		t.Logf("round %d: %v; after its close: %v", round, cf, holding(t))
		cur = next
	}
	if err := cur.Close(); err != nil {
		t.Fatalf("close the last consumer: %v", err)
	}
	awaitNothingLeft(t, before)
	if out := logs.String(); strings.Contains(out, "left unclosed") || strings.Count(out, "consumer destroyed after its fatal error") != rounds {
		t.Errorf("want %d consumers destroyed and none left unclosed; the log:\n%s", rounds, out)
	}
}

// idle is a stage that reads its input in chunks and commits nothing.
type idle struct {
	r        *stage.Runner
	chunk    *kafkaio.Chunk
	assigned atomic.Int32 // partitions
}

func (s *idle) Assigned(parts []int32) ([]kafkaio.Offset, error) {
	start, err := s.r.Consumer().Committed(context.Background(), parts)
	s.assigned.Add(int32(len(parts)))
	return start, err
}

func (s *idle) Revoked(parts []int32, lost bool) error {
	s.assigned.Add(-int32(len(parts)))
	return nil
}

func (s *idle) Due(now time.Time) (time.Time, error)    { return now.Add(100 * time.Millisecond), nil }
func (s *idle) Aborted(error) ([]kafkaio.Offset, error) { return nil, nil }
func (s *idle) Stop() error                             { return nil }
func (s *idle) Read(read func(*kafkaio.Chunk) bool)     { read(s.chunk) }

// TestAFencedStageLeavesNothingBehind is the stage's side of it: a stage
// run is fenced as above, returns the ConsumerFailed that its supervisor
// answers with new clients, and its runner's deferred Close destroys the
// fenced consumer (and closes its producer). After a few such runs and the
// fencing consumers' close, the process holds what it held before.
func TestAFencedStageLeavesNothingBehind(t *testing.T) {
	const runs = 3
	var logs systest.Buffer
	topic, kc, log := setup(t, &logs)
	cfg := stage.Config{
		Name: "tally", Kafka: kc, Instance: kafkatest.Name(t, "counter"), Group: kafkatest.Group(t), Topic: topic,
		TxnTimeout: 10 * time.Second, SessionTimeout: 6 * time.Second, MaxRecordBytes: 1 << 20,
		MaxWait: 20 * time.Millisecond,
	}
	fencer := kafkaio.ConsumerOptions{Name: cfg.Name, Group: cfg.Group, Instance: cfg.Instance, Topic: topic, SessionTimeout: cfg.SessionTimeout}
	before := holding(t)

	chunk := kafkaio.NewChunk(1<<16, 256)
	for run := range runs {
		s := &idle{chunk: kafkaio.NewChunk(1<<16, 256)}
		s.r = stage.New(cfg, log, metrics.New(prometheus.NewRegistry()))
		done := make(chan error, 1)
		go func() { done <- s.r.Run(context.Background(), s) }()
		systest.Await(t, fmt.Sprintf("run %d assigned both partitions", run), time.Minute, func() bool { return s.assigned.Load() == 2 })

		f := join(t, kc, fencer, log)
		var failed error
		ended := false
		for deadline := time.Now().Add(time.Minute); !ended || f.assigned < 2; {
			select {
			case failed = <-done:
				ended = true
			default:
			}
			if err := f.turn(chunk); err != nil {
				t.Fatalf("run %d: the fencing consumer: %v", run, err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %d: ended %v (%v); the fencing consumer has %d partitions", run, ended, failed, f.assigned)
			}
		}
		var cf *kafkaio.ConsumerFailed
		if !errors.As(failed, &cf) {
			t.Fatalf("run %d ended with %v, want a ConsumerFailed", run, failed)
		}
		if err := f.Close(); err != nil {
			t.Fatalf("run %d: close the fencing consumer: %v", run, err)
		}
		t.Logf("run %d: %v; after the fencing consumer's close: %v", run, failed, holding(t))
	}
	awaitNothingLeft(t, before)
	if out := logs.String(); strings.Contains(out, "left unclosed") || strings.Count(out, "consumer destroyed after its fatal error") != runs {
		t.Errorf("want %d consumers destroyed and none left unclosed; the log:\n%s", runs, out)
	}
}
