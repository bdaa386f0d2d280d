package main_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/pkg/systest/expect"
	"github.com/hashtrend/hashtrend/pkg/topic"
	"github.com/hashtrend/hashtrend/services/counter/internal/delta"
	"github.com/hashtrend/hashtrend/services/counter/internal/state"
)

// binary is the counter built once for every test that runs it as a
// process.
var binary string

func TestMain(m *testing.M) { systest.MainWithBinary(m, ".", "counter", &binary) }

// pipeline is one test's own topics and groups.
type pipeline struct {
	brokers                          string
	run                              string // prefix of instance ids, unique to the test run
	tweets, dlq, deltas, counts, top string
	facets                           string
	tallyGroup, rankGroup            string
}

func newPipeline(t *testing.T, partitions int) pipeline {
	t.Helper()
	p := newPipelineOn(t, kafkatest.Brokers(t), partitions)
	kafkatest.DeleteAfter(t, p.tweets, p.dlq, p.deltas, p.counts, p.top, p.facets)
	// Runs before the topics are deleted (cleanups run last in, first out).
	t.Cleanup(func() {
		if t.Failed() {
			describeInput(t, p)
		}
	})
	return p
}

// describeInput logs, for a failed test, what the tweets and deltas topics
// hold: duplicated input records (a producer retry) and every committed
// delta with its offset and post count, to tell an input duplicate, a
// window counted twice by tally and a delta applied twice by rank apart.
func describeInput(t *testing.T, p pipeline) {
	t.Helper()
	tweets := kafkatest.ReadAllFrom(t, p.brokers, p.tweets, 60*time.Second)
	seen := map[string]int{}
	for _, m := range tweets {
		seen[string(m.Key)]++
	}
	dups := 0
	for k, n := range seen {
		if n > 1 {
			if dups++; dups <= 10 {
				t.Logf("tweets: key %s written %d times", k, n)
			}
		}
	}
	t.Logf("tweets: %d records, %d distinct keys, %d keys written more than once", len(tweets), len(seen), dups)
	var posts int64
	keys := map[string]int{}
	for _, m := range kafkatest.ReadAllFrom(t, p.brokers, p.deltas, 60*time.Second) {
		d, err := delta.Decode(m.Value)
		if err != nil {
			t.Logf("deltas@%d: %v", m.TopicPartition.Offset, err)
			continue
		}
		posts += d.Posts
		keys[string(m.Key)]++
		t.Logf("deltas@%d key %s posts %d", m.TopicPartition.Offset, m.Key, d.Posts)
	}
	for k, n := range keys {
		if n > 1 {
			t.Logf("deltas: key %s committed %d times", k, n)
		}
	}
	t.Logf("deltas: %d committed posts in all", posts)
}

// newPipelineOn names the topics and groups of a test on brokers and
// creates its tweets topic there.
func newPipelineOn(t *testing.T, brokers string, partitions int) pipeline {
	t.Helper()
	p := pipeline{
		brokers:    brokers,
		run:        kafkatest.Name(t, "counter"),
		tweets:     kafkatest.Name(t, "tweets"),
		dlq:        kafkatest.Name(t, "dlq"),
		deltas:     kafkatest.Name(t, "deltas"),
		counts:     kafkatest.Name(t, "counts"),
		top:        kafkatest.Name(t, "top"),
		facets:     kafkatest.Name(t, "facets"),
		tallyGroup: kafkatest.Name(t, "tally"),
		rankGroup:  kafkatest.Name(t, "rank"),
	}
	spec := topic.Spec{Name: p.tweets, Partitions: partitions, ReplicationFactor: 1, Configs: map[string]string{"max.message.bytes": "4194304"}}
	admin, err := kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// Ensure waits by itself for a new topic to be described.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := topic.Ensure(ctx, admin, spec); err != nil {
		t.Fatalf("create %s: %v", p.tweets, err)
	}
	return p
}

// counter is one counter process and the address of its ops server.
type counter struct {
	*systest.Process
	t   *testing.T
	ops string
}

// start runs a counter for p with test-sized windows and timeouts; env
// entries override the defaults.
func start(t *testing.T, p pipeline, instance string, env ...string) *counter {
	t.Helper()
	c := &counter{t: t, ops: systest.FreeAddr(t)}
	c.Process = systest.Start(t, instance, binary, append([]string{
		"KAFKA_BROKERS=" + p.brokers,
		"TOPIC_TWEETS=" + p.tweets, "TOPIC_DLQ=" + p.dlq, "TOPIC_DELTAS=" + p.deltas,
		"TOPIC_COUNTS=" + p.counts, "TOPIC_TOP=" + p.top, "TOPIC_FACETS=" + p.facets,
		"COUNTER_GROUP_TALLY=" + p.tallyGroup, "COUNTER_GROUP_RANK=" + p.rankGroup,
		"COUNTER_INSTANCE_ID=" + p.run + "-" + instance,
		"COUNTER_OPS_ADDR=" + c.ops,
		"COUNTER_WINDOW=500ms", "COUNTER_GRACE=150ms",
		"COUNTER_TRANSACTION_TIMEOUT=6s", "COUNTER_SESSION_TIMEOUT=6s",
		"COUNTER_STATS_INTERVAL=1s",
	}, env...)...)
	return c
}

// stop sends SIGTERM and expects a clean exit within a minute.
func (c *counter) stop() {
	c.t.Helper()
	c.Stop(60 * time.Second)
}

// waitLog waits until the log holds substr at least n times.
func (c *counter) waitLog(substr string, n int, timeout time.Duration) {
	c.t.Helper()
	c.WaitOutput(substr, n, timeout)
}

// metric returns the value of a series from /metrics: an unlabelled
// metric's name, or a name with its labels as /metrics writes them
// (sorted by name), such as hashtrend_counter_rank_phase{phase="active"}.
func (c *counter) metric(name string) (float64, error) {
	resp, err := http.Get("http://" + c.ops + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var v float64
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == name {
			_, err := fmt.Sscan(f[1], &v)
			return v, err
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

// waitMetric waits until the series name (as for metric) satisfies ok.
func (c *counter) waitMetric(name string, ok func(float64) bool, timeout time.Duration) {
	c.t.Helper()
	var v float64
	var err error
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if v, err = c.metric(name); err == nil && ok(v) {
			return
		}
	}
	c.t.Fatalf("%s did not reach the value waited for within %s: last %v (%v)\n%s", name, timeout, v, err, c.Output())
}

// committed is the series of a stage's committed transactions: a window
// closed with posts (tally), a snapshot published (rank).
func committed(stage string) string {
	return `hashtrend_counter_transactions_total{outcome="committed",stage="` + stage + `"}`
}

// waitCommitted waits until the stage has committed n transactions.
func (c *counter) waitCommitted(stage string, n int, timeout time.Duration) {
	c.t.Helper()
	c.waitMetric(committed(stage), func(v float64) bool { return v >= float64(n) }, timeout)
}

// waitMoreCommitted waits for n more transactions of the stage than it has
// committed so far.
func (c *counter) waitMoreCommitted(stage string, n int, timeout time.Duration) {
	c.t.Helper()
	before, _ := c.metric(committed(stage)) // 0 before the ops server answers
	c.waitCommitted(stage, int(before)+n, timeout)
}

// phase is the series of rank's phase p: 1 while rank is in it.
func phase(p string) string { return `hashtrend_counter_rank_phase{phase="` + p + `"}` }

// inPhase tells whether c's rank is in phase p now.
func (c *counter) inPhase(p string) bool {
	v, err := c.metric(phase(p))
	return err == nil && v == 1
}

// waitPhase waits until c's rank is in one of phases.
func (c *counter) waitPhase(timeout time.Duration, phases ...string) {
	c.t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, p := range phases {
			if c.inPhase(p) {
				return
			}
		}
	}
	c.t.Fatalf("rank was in none of the phases %v within %s\n%s", phases, timeout, c.Output())
}

// records pairs keys and values for kafkatest.
func records(keys, values [][]byte) []kafkatest.Record {
	rs := make([]kafkatest.Record, len(values))
	for i, v := range values {
		rs[i] = kafkatest.Record{Key: keys[i], Value: v}
	}
	return rs
}

// produce writes values to topic keyed by keys and waits for every
// delivery.
func produce(t *testing.T, brokers, topic string, keys, values [][]byte) {
	t.Helper()
	kafkatest.ProduceTo(t, brokers, topic, records(keys, values)...)
}

// feed produces values in batches of n, one batch every interval, in the
// background; the returned channel yields the outcome once all are written.
func feed(brokers, topic string, keys, values [][]byte, n int, every time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() {
		for i := 0; i < len(values); i += n {
			j := min(i+n, len(values))
			if err := kafkatest.ProduceE(brokers, topic, records(keys[i:j], values[i:j])...); err != nil {
				done <- err
				return
			}
			time.Sleep(every)
		}
		done <- nil
	}()
	return done
}

func wait(t *testing.T, fed <-chan error, timeout time.Duration) {
	t.Helper()
	select {
	case err := <-fed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(timeout):
		t.Fatalf("input not written within %s", timeout)
	}
}

// feeding follows p's snapshots and produces posts to p's tweets topic in
// the background, batch posts every 100 ms; the channel is feed's.
func feeding(t *testing.T, p pipeline, posts []post.Post, batch int) (*snapshots, <-chan error) {
	t.Helper()
	keys, values := encoded(t, posts)
	snaps := follow(t, p)
	return snaps, feed(p.brokers, p.tweets, keys, values, batch, 100*time.Millisecond)
}

// encoded returns the keys and JSON values of posts.
func encoded(t *testing.T, posts []post.Post) (keys, values [][]byte) {
	for _, p := range posts {
		b, err := post.Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, []byte(p.ID))
		values = append(values, b)
	}
	return keys, values
}

// snapshots follows the top topic from the beginning, read_committed.
type snapshots struct {
	mu   sync.Mutex
	all  []snapshot.Snapshot
	at   []time.Time // when each arrived here
	errs []error
}

func follow(t *testing.T, p pipeline) *snapshots {
	t.Helper()
	s := &snapshots{}
	c, err := kafka.NewConsumer(&kafka.ConfigMap{
		"bootstrap.servers": p.brokers, "group.id": kafkatest.Group(t),
		"isolation.level": "read_committed", "enable.auto.commit": false,
		"topic.metadata.refresh.interval.ms": 1000,
		// After a broker restart it reconnects within a tenth of a
		// second (librdkafka's back-off grows to 10 s), so that the
		// failover gaps measure the counter, not this follower.
		"reconnect.backoff.ms":     50,
		"reconnect.backoff.max.ms": 100,
		// A restarted broker knows no fetch session of before: the
		// fetch fails once, and is retried at once, not after 500 ms.
		"fetch.error.backoff.ms": 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	topic := p.top
	if err := c.Assign([]kafka.TopicPartition{{Topic: &topic, Partition: 0, Offset: kafka.OffsetBeginning}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if m, ok := c.Poll(100).(*kafka.Message); ok {
				snap, err := snapshot.Decode(m.Value)
				s.mu.Lock()
				if err != nil {
					s.errs = append(s.errs, err)
				} else {
					s.all = append(s.all, snap)
					s.at = append(s.at, time.Now())
				}
				s.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done; c.Close() })
	return s
}

func (s *snapshots) list() []snapshot.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.all)
}

func (s *snapshots) last() (snapshot.Snapshot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.all) == 0 {
		return snapshot.Snapshot{}, false
	}
	return s.all[len(s.all)-1], true
}

// waitBatch waits for a snapshot of batch or a later one, and fails when
// one of cs exits first.
func (s *snapshots) waitBatch(t *testing.T, batch int64, timeout time.Duration, cs ...*counter) snapshot.Snapshot {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		last, ok := s.last()
		if ok && last.Batch >= batch {
			return last
		}
		for _, c := range cs {
			if !c.Running() {
				t.Fatalf("counter %s exited: %v", c.Name, c.Err())
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot of batch %d within %s (last: batch %d)", batch, timeout, last.Batch)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitPosts waits until a snapshot reports posts posts, and then for two
// more snapshots so that the counter is idle.
func (s *snapshots) waitPosts(t *testing.T, posts int64, timeout time.Duration, cs ...*counter) snapshot.Snapshot {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var reached int64 = -1
	for {
		last, ok := s.last()
		if ok && last.Posts == posts && reached < 0 {
			reached = last.Batch
		}
		if ok && reached >= 0 && last.Batch >= reached+2 {
			return last
		}
		if ok && last.Posts > posts {
			for _, sn := range s.list() {
				t.Logf("batch %d: posts %d", sn.Batch, sn.Posts)
			}
			t.Fatalf("batch %d reports %d posts, more than the %d produced", last.Batch, last.Posts, posts)
		}
		for _, c := range cs {
			if !c.Running() {
				t.Fatalf("counter %s exited: %v", c.Name, c.Err())
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot with %d posts within %s (last: batch %d, %d posts)", posts, timeout, last.Batch, last.Posts)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// verify checks the latest snapshot, the snapshot sequence and the whole
// state topic against the expected report.
func verify(t *testing.T, p pipeline, s *snapshots, e expect.Report) {
	t.Helper()
	for _, err := range s.errs {
		t.Errorf("undecodable snapshot: %v", err)
	}
	all := s.list()
	if len(all) == 0 {
		t.Fatal("no snapshots")
	}
	// Batches count up from 1 by one; totals never go down.
	if all[0].Batch != 1 {
		t.Fatalf("the first snapshot has batch %d, want 1", all[0].Batch)
	}
	if err := expect.CheckSequence(all); err != nil {
		t.Fatal(err)
	}
	last := all[len(all)-1]
	if err := e.Compare(last, 10); err != nil {
		t.Fatal(err)
	}
	// The state topic holds every total, exactly.
	got := map[string]state.Total{}
	var meta state.Meta
	for _, m := range kafkatest.ReadAllFrom(t, p.brokers, p.counts, 60*time.Second) {
		if string(m.Key) == state.MetaKey {
			var err error
			if meta, err = state.DecodeMeta(m.Value); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if state.Reserved(m.Key) { // a facet's trending lifecycle
			if _, err := state.DecodeRecord(m.Key, m.Value); err != nil {
				t.Fatal(err)
			}
			continue
		}
		v, err := state.DecodeTotal(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		got[string(m.Key)] = v
	}
	if len(got) != len(e.Counts) {
		t.Errorf("state topic holds %d hashtags, want %d", len(got), len(e.Counts))
	}
	bad := 0
	for k, n := range e.Counts {
		if g := got[k]; g.Count != n || g.Spelling != e.Spelling(k) {
			if bad++; bad <= 10 {
				t.Errorf("state of %q: count %d spelling %q, want %d %q", k, g.Count, g.Spelling, n, e.Spelling(k))
			}
		}
	}
	if meta.Batch < last.Batch || meta.Posts != e.Posts || meta.PostsWithHashtags != e.WithTags {
		t.Errorf("meta record %+v, want batch at least %d, posts %d, with hashtags %d", meta, last.Batch, e.Posts, e.WithTags)
	}
}
