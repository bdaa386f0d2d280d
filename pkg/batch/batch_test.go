package batch_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/batch"
	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/systest"
)

// consumer is a group member whose rebalance callback routes each
// assigned partition to q before it assigns it, as tally does. polled
// counts records Poll returned, which must be none.
type consumer struct {
	c        *kafka.Consumer
	q        *batch.Queue
	polled   int
	assigned map[int32]bool
	revoked  int // partitions revoked so far
}

func newConsumer(t *testing.T, topic, group string) *consumer {
	t.Helper()
	c, err := kafka.NewConsumer(&kafka.ConfigMap{
		"bootstrap.servers": kafkatest.Brokers(t), "group.id": group,
		"auto.offset.reset": "earliest", "enable.auto.commit": false,
		"partition.assignment.strategy": "cooperative-sticky",
	})
	if err != nil {
		t.Fatal(err)
	}
	q, err := batch.New(c, topic)
	if err != nil {
		t.Fatal(err)
	}
	cs := &consumer{c: c, q: q, assigned: map[int32]bool{}}
	t.Cleanup(cs.close)
	err = c.SubscribeTopics([]string{topic}, func(c *kafka.Consumer, ev kafka.Event) error {
		switch e := ev.(type) {
		case kafka.AssignedPartitions:
			if err := q.Route(e.Partitions); err != nil {
				return err
			}
			for _, tp := range e.Partitions {
				cs.assigned[tp.Partition] = true
			}
			return c.IncrementalAssign(e.Partitions)
		case kafka.RevokedPartitions:
			for _, tp := range e.Partitions {
				delete(cs.assigned, tp.Partition)
				cs.revoked++
			}
			return c.IncrementalUnassign(e.Partitions)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// ends is the high watermark of each of the topic's first n partitions.
func (cs *consumer) ends(t *testing.T, topic string, n int32) map[int32]int64 {
	t.Helper()
	ends := map[int32]int64{}
	for p := range n {
		_, hi, err := cs.c.QueryWatermarkOffsets(topic, p, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		ends[p] = hi
	}
	return ends
}

// close closes the queue and then the consumer, once.
func (cs *consumer) close() {
	if cs.q != nil {
		cs.q.Close()
		cs.q = nil
		_ = cs.c.Close()
	}
}

// step serves the events at hand and reads one chunk, waiting up to 10 ms
// for it, calling fn for every record.
func (cs *consumer) step(t *testing.T, c *batch.Chunk, fn func(batch.Record)) {
	t.Helper()
	for ev := cs.c.Poll(0); ev != nil; ev = cs.c.Poll(0) {
		switch e := ev.(type) {
		case *kafka.Message:
			cs.polled++
		case kafka.Error:
			t.Fatalf("consumer error: %v", e)
		}
	}
	if cs.q.Read(c, 10) {
		c.Each(fn)
	}
}

// read serves events and reads chunks until done says stop, calling fn
// for every record and then, when not nil, after for every chunk.
func (cs *consumer) read(t *testing.T, c *batch.Chunk, within time.Duration, fn func(batch.Record), after func(), done func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("not done within %v", within)
		}
		cs.step(t, c, fn)
		if after != nil {
			after()
		}
	}
}

// TestQueueReadsWhatIsRouted produces records to a topic of three
// partitions, among them a null key, a null value and one larger than a
// chunk's buffer, and reads them through a queue: every record arrives,
// with its partition, offset, key and value, offsets in order per
// partition, and none through Poll. Part of the way through one
// partition it seeks that partition back to its beginning, between two
// chunks as tally does, while records fetched before the seek wait in the
// queue: the next records of that partition read are its records again
// from offset 0.
func TestQueueReadsWhatIsRouted(t *testing.T) {
	topic := kafkatest.Topic(t, "batch", 3, nil)
	var records []kafkatest.Record
	for i := range 6000 {
		records = append(records, kafkatest.Record{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i))})
	}
	big := strings.Repeat("x", 3<<10)
	records = append(records, kafkatest.Record{Key: []byte("big"), Value: []byte(big)}, kafkatest.Record{Value: []byte("keyless")}, kafkatest.Record{Key: []byte("valueless")})
	kafkatest.Produce(t, topic, records...)
	cs := newConsumer(t, topic, kafkatest.Group(t))
	ends := cs.ends(t, topic, 3)
	c := batch.NewChunk(1<<10, 64) // the big record needs more than the buffer holds
	got := map[string]bool{}
	next := map[int32]int64{}
	sought, seek, seekNow := int32(-1), int64(0), false
	cs.read(t, c, time.Minute, func(r batch.Record) {
		if r.Err != 0 {
			t.Fatalf("error record: %s", r.Value)
		}
		if r.Offset != next[r.Partition] {
			t.Fatalf("partition %d: offset %d where %d was next (sought: partition %d at %d)", r.Partition, r.Offset, next[r.Partition], sought, seek)
		}
		next[r.Partition]++
		got[fmt.Sprintf("%q=%q nilkey=%v nilvalue=%v", r.Key, r.Value, r.Key == nil, r.Value == nil)] = true
		if sought < 0 && r.Offset >= 200 {
			sought, seek, seekNow = r.Partition, r.Offset, true
		}
	}, func() {
		if !seekNow {
			return
		}
		seekNow = false
		if err := cs.c.Seek(kafka.TopicPartition{Topic: &topic, Partition: sought, Offset: 0}, 0); err != nil {
			t.Fatal(err)
		}
		next[sought] = 0
	}, func() bool {
		for p, end := range ends {
			if next[p] < end {
				return false
			}
		}
		return true
	})
	for _, rec := range records {
		if id := fmt.Sprintf("%q=%q nilkey=%v nilvalue=%v", rec.Key, rec.Value, rec.Key == nil, rec.Value == nil); !got[id] {
			t.Fatalf("%s never read; read %d records", id, len(got))
		}
	}
	if len(got) != len(records) {
		t.Fatalf("read %d distinct records, produced %d", len(got), len(records))
	}
	if sought < 0 {
		t.Fatal("no partition reached offset 200: nothing was sought")
	}
	if cs.polled > 0 {
		t.Fatalf("%d records came through Poll", cs.polled)
	}
}

// TestRouteAgainAfterARevoke: a second member joins the group and takes a
// partition from the first, then leaves; the partition, assigned to the
// first member again and routed again, is read through its queue once more
// from its beginning (nothing is committed), and no record of either
// member comes through Poll.
func TestRouteAgainAfterARevoke(t *testing.T) {
	topic := kafkatest.Topic(t, "batch", 2, nil)
	var records []kafkatest.Record
	for i := range 2000 {
		records = append(records, kafkatest.Record{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i))})
	}
	kafkatest.Produce(t, topic, records...)
	group := kafkatest.Group(t)
	a := newConsumer(t, topic, group)
	ends := a.ends(t, topic, 2)
	c := batch.NewChunk(4<<10, 64)
	next := map[int32]int64{} // a's next offset per partition
	read := func(r batch.Record) {
		if r.Offset != next[r.Partition] {
			t.Fatalf("partition %d: offset %d where %d was next", r.Partition, r.Offset, next[r.Partition])
		}
		next[r.Partition]++
	}
	deadline := time.Now().Add(2 * time.Minute)
	wait := func(what string, done func() bool, step func()) {
		t.Helper()
		for !done() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 2 minutes (a assigned %v, read to %v of %v)", what, a.assigned, next, ends)
			}
			step()
		}
	}
	wait("a reads both partitions to their ends", func() bool { return next[0] == ends[0] && next[1] == ends[1] },
		func() { a.step(t, c, read) })

	b := newConsumer(t, topic, group)
	cb := batch.NewChunk(4<<10, 64)
	wait("b takes a partition from a", func() bool { return a.revoked > 0 && len(b.assigned) > 0 && len(a.assigned) > 0 }, func() {
		a.step(t, c, read)
		b.step(t, cb, func(batch.Record) {})
	})
	var moved int32
	for p := range b.assigned {
		moved = p
	}
	b.close()
	next[moved] = 0 // nothing was committed: a starts it from its beginning
	wait("a gets the partition back and reads it again", func() bool { return a.assigned[moved] && next[moved] == ends[moved] },
		func() { a.step(t, c, read) })
	if a.polled > 0 || b.polled > 0 {
		t.Fatalf("records through Poll: %d to a, %d to b", a.polled, b.polled)
	}
}

// TestRouteOnAClosedQueueFails: the rebalance callback may run while a
// stage closes; a route then fails instead of touching freed memory.
func TestRouteOnAClosedQueueFails(t *testing.T) {
	var q *batch.Queue
	if err := q.Route([]kafka.TopicPartition{{Partition: 0}}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("route on a closed queue: %v", err)
	}
}

// librdkafkaThreads counts the process's OS threads that librdkafka named
// its own (rdk:main, rdk:broker1 and so on).
func librdkafkaThreads(t *testing.T) int {
	t.Helper()
	comms, err := filepath.Glob("/proc/self/task/*/comm")
	if err != nil || len(comms) == 0 {
		t.Fatalf("no threads listed in /proc/self/task: %v", err)
	}
	n := 0
	for _, comm := range comms {
		if name, err := os.ReadFile(comm); err == nil && strings.HasPrefix(string(name), "rdk:") {
			n++
		}
	}
	return n
}

// closes says whether ch is closed within d, once what it holds is read.
func closes[T any](ch <-chan T, d time.Duration) bool {
	timeout := time.After(d)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return true
			}
		case <-timeout:
			return false
		}
	}
}

// TestDestroyEndsWhatCloseWould destroys a consumer that has every part
// confluent-kafka-go's Close ends: a goroutine reading events into the
// Events channel, a log channel of its own, a topic handle cached by a
// seek, a partition fetching with records buffered, and a batch queue.
// Both channels are closed, the client says it is closed and refuses
// later calls (a second Destroy and Close among them, which return at
// once), and its librdkafka threads have ended.
func TestDestroyEndsWhatCloseWould(t *testing.T) {
	topic := kafkatest.Topic(t, "batch", 1, nil)
	var records []kafkatest.Record
	for i := range 100 {
		records = append(records, kafkatest.Record{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte("v")})
	}
	kafkatest.Produce(t, topic, records...)
	before := librdkafkaThreads(t)
	c, err := kafka.NewConsumer(&kafka.ConfigMap{
		"bootstrap.servers": kafkatest.Brokers(t), "group.id": kafkatest.Group(t),
		"go.events.channel.enable": true, "go.logs.channel.enable": true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if librdkafkaThreads(t) <= before {
		t.Fatal("the consumer started no librdkafka thread that the test could see end")
	}
	q, err := batch.New(c, topic)
	if err != nil {
		t.Fatal(err)
	}
	at := []kafka.TopicPartition{{Topic: &topic, Partition: 0, Offset: kafka.OffsetBeginning}}
	if err := c.Assign(at); err != nil {
		t.Fatal(err)
	}
	//lint:ignore SA1019 Destroy ends the events reader as Close does: the test has one to see it end
	events := c.Events()
	systest.Await(t, "a record on the events channel", time.Minute, func() bool {
		select {
		case ev := <-events:
			_, ok := ev.(*kafka.Message)
			return ok
		default:
			return false
		}
	})
	if err := c.Seek(kafka.TopicPartition{Topic: &topic, Partition: 0, Offset: 1}, 0); err != nil {
		t.Fatal(err)
	}
	q.Close()
	if err := batch.Destroy(c); err != nil {
		t.Fatal(err)
	}
	if !closes(events, 10*time.Second) || !closes(c.Logs(), 10*time.Second) {
		t.Fatal("the events or the logs channel is still open")
	}
	if !c.IsClosed() {
		t.Fatal("the destroyed consumer does not say it is closed")
	}
	if _, err := c.Assignment(); err == nil {
		t.Fatal("the destroyed consumer told its assignment")
	}
	if err := batch.Destroy(c); err == nil {
		t.Fatal("a second Destroy did not fail")
	}
	if err := c.Close(); err == nil {
		t.Fatal("Close of the destroyed consumer did not fail")
	}
	if after := librdkafkaThreads(t); after != before {
		t.Fatalf("%d librdkafka threads after the destroy, %d before the consumer", after, before)
	}
}
