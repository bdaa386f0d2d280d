//go:build bench

package main_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/partition"
	"github.com/hashtrend/hashtrend/pkg/synthetic"
	"github.com/hashtrend/hashtrend/services/counter/internal/state"
)

// envCount is the positive whole number in the environment variable name,
// or def when it is unset or not one.
func envCount(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// benchPosts is the size of the pre-filled topic (BENCH_POSTS overrides).
func benchPosts() int { return envCount("BENCH_POSTS", 1_000_000) }

// logf prints a figure on a line of its own, prefixed "bench".
func logf(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Logf("bench "+format, args...)
}

// endOffsets returns the high watermarks of every partition of topic.
func endOffsets(t *testing.T, brokers, topic string, parts int) []kafka.TopicPartition {
	c, err := kafka.NewConsumer(&kafka.ConfigMap{"bootstrap.servers": brokers, "group.id": "unused"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out []kafka.TopicPartition
	for i := range parts {
		_, hi, err := c.QueryWatermarkOffsets(topic, int32(i), 10000)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, kafka.TopicPartition{Topic: &topic, Partition: int32(i), Offset: kafka.Offset(hi)})
	}
	return out
}

// drain reads every partition to the end offsets with a plain
// read_committed reader and returns the time it took and the records
// read. It reads as tally does, the best this client reads: in batches
// (pkg/partition through pkg/batch), fetching as tally does.
func drain(t *testing.T, brokers string, ends []kafka.TopicPartition) (time.Duration, int) {
	start := time.Now()
	end := map[int32]int64{}
	from := map[int32]int64{}
	for _, e := range ends {
		end[e.Partition] = int64(e.Offset)
		from[e.Partition] = partition.Beginning
	}
	r, err := partition.Open(partition.Config{Kafka: kafkaconn.Config{Brokers: brokers, SecurityProtocol: "plaintext"},
		Client: kafkatest.Group(t), Topic: *ends[0].Topic,
		Override: kafka.ConfigMap{"fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 1048576, "fetch.wait.max.ms": 500}}, from)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n := 0
	if err := r.ReadTo(context.Background(), end, func(partition.Record) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return time.Since(start), n
}

// caughtUp waits until group has committed the end offsets of every
// partition and returns when that was first seen.
func caughtUp(t *testing.T, brokers, group string, ends []kafka.TopicPartition, c *counter) time.Time {
	cons, err := kafka.NewConsumer(&kafka.ConfigMap{"bootstrap.servers": brokers, "group.id": group})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	deadline := time.Now().Add(30 * time.Minute)
	for time.Now().Before(deadline) {
		got, err := cons.Committed(ends, 10000)
		if err == nil {
			done := true
			for i, g := range got {
				if g.Offset < ends[i].Offset {
					done = false
				}
			}
			if done {
				return time.Now()
			}
		}
		if !c.Running() {
			t.Fatalf("counter exited: %v", c.Err())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("tally did not catch up within 30 minutes")
	return time.Time{}
}

// rss returns the resident and peak resident set of pid in MiB.
func rss(pid int) (now, peak float64) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			kb, _ := strconv.ParseFloat(f[1], 64)
			switch f[0] {
			case "VmRSS:":
				now = kb / 1024
			case "VmHWM:":
				peak = kb / 1024
			}
		}
	}
	return now, peak
}

// samplePeakRSS watches pid's peak resident set every 100 ms until the
// returned function is called, which returns it in MiB.
func samplePeakRSS(pid int) func() float64 {
	stop, done := make(chan struct{}), make(chan float64)
	go func() {
		peak := 0.0
		for {
			select {
			case <-stop:
				done <- peak
				return
			case <-time.After(100 * time.Millisecond):
				if _, hwm := rss(pid); hwm > peak {
					peak = hwm
				}
			}
		}
	}()
	return func() float64 { close(stop); return <-done }
}

// TestBenchTallyThroughput: tally over a pre-filled topic against a raw
// read_committed consumer reading the same topic on the same broker, raw
// runs before and after the counter's.
func TestBenchTallyThroughput(t *testing.T) {
	const parts = 6
	p := newPipeline(t, parts)
	n := benchPosts()
	fillStart := time.Now()
	gen := synthetic.New(synthetic.Config{Seed: 1})
	for i := 0; i < n; i += 100_000 {
		posts := gen.Take(min(100_000, n-i))
		keys, values := encoded(t, posts)
		produce(t, p.brokers, p.tweets, keys, values)
	}
	ends := endOffsets(t, p.brokers, p.tweets, parts)
	logf(t, "prefilled %d posts in %s", n, time.Since(fillStart).Round(time.Second))

	raw1, got := drain(t, p.brokers, ends)
	if got != n {
		t.Fatalf("raw consumer read %d of %d", got, n)
	}
	snaps := follow(t, p)
	started := time.Now()
	c := start(t, p, "bench", "COUNTER_WINDOW=2s", "COUNTER_GRACE=500ms", "COUNTER_TRANSACTION_TIMEOUT=10s")
	peakRSS := samplePeakRSS(c.Pid())
	done := caughtUp(t, p.brokers, p.tallyGroup, ends, c)
	tally := done.Sub(started)
	snaps.waitPosts(t, int64(n), 10*time.Minute, c)
	toSnapshot := snaps.reached(int64(n)).Sub(started)
	peak := peakRSS()
	cpu := cpuSeconds(c.Pid())
	raw2, _ := drain(t, p.brokers, ends)
	c.stop()

	rate := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
	rawMean := (raw1 + raw2) / 2
	logf(t, "raw read_committed consumer: %s then %s (%.0f and %.0f posts/s)", raw1.Round(time.Millisecond), raw2.Round(time.Millisecond), rate(raw1), rate(raw2))
	logf(t, "tally: caught up in %s from process start (%.0f posts/s); first snapshot counting every post after %s", tally.Round(time.Millisecond), rate(tally), toSnapshot.Round(time.Millisecond))
	logf(t, "ratio tally / raw consumer (mean of both raw runs): %.2f", rate(tally)/rate(rawMean))
	logf(t, "counter peak RSS during the run: %.0f MiB", peak)
	logf(t, "counter CPU by the snapshot counting every post: %.1f s (%.1f µs per post)", cpu, cpu/float64(n)*1e6)
}

// restoreSizes are the distinct hashtags TestBenchRestore restores:
// 1,000,000, and 10,000,000 as well with BENCH_TAGS_10M=1.
func restoreSizes() []int {
	sizes := []int{1_000_000}
	if os.Getenv("BENCH_TAGS_10M") == "1" {
		sizes = append(sizes, 10_000_000)
	}
	return sizes
}

// cpuSeconds is the user and system time pid has used.
func cpuSeconds(pid int) float64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	// The fields after the command (which may hold spaces) in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

// TestBenchRestore: rank's restore of n distinct hashtags from the state
// topic, against a plain read_committed consumer (drain: in batches, the
// counter's fetch settings, reading and nothing else) reading the same
// topic before and after; and the counter's
// resident memory and Go heap holding them, against an idle counter's.
func TestBenchRestore(t *testing.T) {
	var idleRSS, idleHeap float64
	t.Run("idle", func(t *testing.T) {
		p := newPipeline(t, 1)
		c := start(t, p, "idle", "COUNTER_WINDOW=2s", "COUNTER_GRACE=500ms", "COUNTER_TRANSACTION_TIMEOUT=10s")
		c.waitPhase(5*time.Minute, "active")
		idleRSS, _ = rss(c.Pid())
		heap, _ := c.metric("go_memstats_heap_alloc_bytes")
		idleHeap = heap / (1 << 20)
		logf(t, "idle counter, nothing restored: RSS %.0f MiB, Go heap %.0f MiB", idleRSS, idleHeap)
		c.stop()
	})
	for _, n := range restoreSizes() {
		t.Run(fmt.Sprintf("tags=%d", n), func(t *testing.T) { benchRestore(t, n, idleRSS, idleHeap) })
	}
}

func benchRestore(t *testing.T, n int, idleRSS, idleHeap float64) {
	p := newPipeline(t, 1)
	kafkatest.CreateTopic(t, p.counts, 1, map[string]string{"cleanup.policy": "compact"})
	for i := 0; i < n; i += 1_000_000 {
		var keys, values [][]byte
		for j := i; j < min(n, i+1_000_000); j++ {
			k := fmt.Sprintf("tag%08d", j)
			v, err := state.EncodeTotal(state.Total{Count: int64(1 + j%1000), Spelling: "Tag" + k[3:]})
			if err != nil {
				t.Fatal(err)
			}
			keys, values = append(keys, []byte(k)), append(values, v)
		}
		produce(t, p.brokers, p.counts, keys, values)
	}
	m, _ := state.EncodeMeta(state.Meta{Batch: 41, Posts: int64(n), PostsWithHashtags: int64(n)})
	produce(t, p.brokers, p.counts, [][]byte{[]byte(state.MetaKey)}, [][]byte{m})
	ends := endOffsets(t, p.brokers, p.counts, 1)
	raw1, got := drain(t, p.brokers, ends)
	if got != n+1 {
		t.Fatalf("raw consumer read %d of %d", got, n+1)
	}

	started := time.Now()
	c := start(t, p, "restore", "COUNTER_WINDOW=2s", "COUNTER_GRACE=500ms", "COUNTER_TRANSACTION_TIMEOUT=10s")
	c.waitLog("totals restored", 1, 30*time.Minute)
	wall := time.Since(started)
	cpu := cpuSeconds(c.Pid())
	line := c.Output()[strings.Index(c.Output(), "totals restored"):]
	line = line[:strings.IndexByte(line, '\n')]
	if !strings.Contains(line, fmt.Sprintf("hashtags=%d ", n)) || !strings.Contains(line, "batch=41") {
		t.Fatalf("restore did not load every hashtag: %s", line)
	}
	now, peak := rss(c.Pid())
	heap, _ := c.metric("go_memstats_heap_alloc_bytes")
	gcs, _ := c.metric("go_gc_duration_seconds_count")
	took, err := time.ParseDuration(strings.Fields(line[strings.Index(line, "took=")+5:])[0])
	if err != nil {
		t.Fatalf("no duration in %s", line)
	}
	// The next snapshot continues the batch numbers.
	snaps := follow(t, p)
	for {
		if s, ok := snaps.last(); ok {
			if s.Batch != 42 || s.DistinctHashtags != int64(n) {
				t.Fatalf("first snapshot after the restore: batch %d, %d hashtags", s.Batch, s.DistinctHashtags)
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.stop()
	raw2, _ := drain(t, p.brokers, ends)

	rawMean := (raw1 + raw2) / 2
	perTag := func(mib, idle float64) float64 { return (mib - idle) * (1 << 20) / float64(n) }
	logf(t, "restore of %d hashtags: %s as logged (%.0f records/s), %s from process start, %.1f CPU s by then", n, took, float64(n)/took.Seconds(), wall.Round(time.Millisecond), cpu)
	logf(t, "plain read_committed consumer (batches) reading the same topic: %s then %s", raw1.Round(time.Millisecond), raw2.Round(time.Millisecond))
	logf(t, "ratio restore / plain consumer read (mean of both): %.2f", took.Seconds()/rawMean.Seconds())
	logf(t, "counter RSS after the restore: %.0f MiB (peak %.0f MiB), %.0f bytes per hashtag over the idle counter's", now, peak, perTag(now, idleRSS))
	logf(t, "counter Go heap after the restore: %.0f MiB, %.0f bytes per hashtag over the idle counter's; %.0f collections by then", heap/(1<<20), perTag(heap/(1<<20), idleHeap), gcs)
}

// TestBenchLatency: produce-to-snapshot latency at a fixed input rate. Posts
// go out in small batches; a batch's latency runs from the acknowledgement
// of its last post to the arrival of the first snapshot counting it.
func TestBenchLatency(t *testing.T) {
	const rate, seconds, every = 2000, 40, 50 * time.Millisecond
	p := newPipeline(t, 6)
	snaps := follow(t, p)
	c := start(t, p, "latency", "COUNTER_WINDOW=2s", "COUNTER_GRACE=500ms", "COUNTER_TRANSACTION_TIMEOUT=10s")
	c.waitPhase(2*time.Minute, "active")
	c.waitLog("msg=\"partitions assigned\"", 1, 2*time.Minute)

	prod, err := kafka.NewProducer(&kafka.ConfigMap{"bootstrap.servers": p.brokers, "enable.idempotence": true, "linger.ms": 5})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	gen := synthetic.New(synthetic.Config{Seed: 3})
	perBatch := int(rate * every / time.Second)
	type sent struct {
		total int64
		at    time.Time
	}
	var batches []sent
	var total int64
	tick := time.NewTicker(every)
	defer tick.Stop()
	for range seconds * time.Second / every {
		<-tick.C
		posts := gen.Take(perBatch)
		keys, values := encoded(t, posts)
		done := make(chan kafka.Event, len(values))
		for i := range values {
			if err := prod.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &p.tweets, Partition: kafka.PartitionAny}, Key: keys[i], Value: values[i]}, done); err != nil {
				t.Fatal(err)
			}
		}
		for range values {
			if m := (<-done).(*kafka.Message); m.TopicPartition.Error != nil {
				t.Fatal(m.TopicPartition.Error)
			}
		}
		total += int64(len(values))
		batches = append(batches, sent{total, time.Now()})
	}
	snaps.waitPosts(t, total, 2*time.Minute, c)
	arrivals := snaps.arrivals()
	var lat []time.Duration
	for _, b := range batches {
		for _, a := range arrivals {
			if a.posts >= b.total {
				lat = append(lat, a.at.Sub(b.at))
				break
			}
		}
	}
	slices.Sort(lat)
	q := func(f float64) time.Duration { return lat[int(f*float64(len(lat)-1))].Round(time.Millisecond) }
	logf(t, "produce-to-snapshot latency at %d posts/s, 2 s windows, 500 ms grace, %d batches: p50 %s, p99 %s, max %s", rate, len(lat), q(0.5), q(0.99), q(1))
	c.stop()
}

type arrival struct {
	posts int64
	at    time.Time
}

// arrivals returns when each snapshot arrived and the posts it counted.
func (s *snapshots) arrivals() []arrival {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]arrival, len(s.all))
	for i, snap := range s.all {
		out[i] = arrival{snap.Posts, s.at[i]}
	}
	return out
}

// TestBenchDedupe: tally's throughput with the dedupe by post id on (the
// default horizon) and off, alternating on one pre-filled topic, each run
// a new counter on its own groups and output topics; then a restart of
// the last run's counter, which reads the horizon back.
func TestBenchDedupe(t *testing.T) {
	const parts = 6
	p := newPipeline(t, parts)
	n := benchPosts()
	gen := synthetic.New(synthetic.Config{Seed: 5})
	for i := 0; i < n; i += 100_000 {
		keys, values := encoded(t, gen.Take(min(100_000, n-i)))
		produce(t, p.brokers, p.tweets, keys, values)
	}
	ends := endOffsets(t, p.brokers, p.tweets, parts)

	// run counts the topic from the beginning with a new counter on
	// groups and output topics of its own, timed from its assignment (the
	// process start and group join are the same either way).
	run := func(name string, env ...string) (pipeline, *counter, time.Duration, float64) {
		q := p
		q.deltas, q.counts, q.top, q.dlq = kafkatest.Name(t, "deltas"), kafkatest.Name(t, "counts"), kafkatest.Name(t, "top"), kafkatest.Name(t, "dlq")
		q.facets = kafkatest.Name(t, "facets")
		q.tallyGroup, q.rankGroup = kafkatest.Name(t, "tally"), kafkatest.Name(t, "rank")
		kafkatest.DeleteAfter(t, q.deltas, q.counts, q.top, q.dlq, q.facets)
		c := start(t, q, name, append([]string{"COUNTER_WINDOW=2s", "COUNTER_GRACE=500ms", "COUNTER_TRANSACTION_TIMEOUT=10s"}, env...)...)
		c.waitLog("msg=\"partitions assigned\"", 1, 2*time.Minute)
		assigned := time.Now()
		took := caughtUp(t, q.brokers, q.tallyGroup, ends, c).Sub(assigned)
		_, peak := rss(c.Pid())
		return q, c, took, peak
	}
	rate := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
	var on, off []time.Duration
	var q pipeline
	var last *counter
	const pairs = 3
	for i := range 2 * pairs {
		if i%2 == 0 {
			_, c, took, peak := run(fmt.Sprintf("off%d", i), "COUNTER_DEDUPE_RECORDS=0")
			c.stop()
			off = append(off, took)
			logf(t, "dedupe off: caught up in %s (%.0f posts/s), peak RSS %.0f MiB", took.Round(time.Millisecond), rate(took), peak)
			continue
		}
		var took time.Duration
		var peak float64
		q, last, took, peak = run(fmt.Sprintf("on%d", i))
		if dups := metricNow(t, last, "hashtrend_counter_duplicates_total"); dups != 0 {
			t.Fatalf("%d duplicates in an input without any", dups)
		}
		ids := metricNow(t, last, "hashtrend_counter_dedupe_ids")
		if i < 2*pairs-1 {
			last.stop()
		}
		on = append(on, took)
		logf(t, "dedupe on: caught up in %s (%.0f posts/s), peak RSS %.0f MiB, %d ids held", took.Round(time.Millisecond), rate(took), peak, ids)
	}
	var sumOn, sumOff time.Duration
	ratios := make([]string, pairs)
	for i := range pairs {
		sumOn, sumOff = sumOn+on[i], sumOff+off[i]
		ratios[i] = fmt.Sprintf("%.2f", rate(on[i])/rate(off[i]))
	}
	logf(t, "ratio dedupe on / off: %.2f over all runs; pair by pair %s", rate(sumOn)/rate(sumOff), strings.Join(ratios, ", "))

	// The restart reads the default horizon back on every partition.
	last.stop()
	started := time.Now()
	c := start(t, q, fmt.Sprintf("on%d", 2*pairs-1), "COUNTER_WINDOW=2s", "COUNTER_GRACE=500ms", "COUNTER_TRANSACTION_TIMEOUT=10s")
	c.waitLog("dedupe horizon restored", parts, 5*time.Minute)
	wall := time.Since(started)
	read := metricNow(t, c, "hashtrend_counter_dedupe_restored_records_total")
	_, peak := rss(c.Pid())
	// Each partition's restore, as logged: from its assignment to its
	// committed offset.
	var slowest time.Duration
	for _, line := range strings.Split(c.Output(), "\n") {
		if i := strings.Index(line, "took="); i >= 0 && strings.Contains(line, "dedupe horizon restored") {
			d, err := time.ParseDuration(strings.Fields(line[i+5:])[0])
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			slowest = max(slowest, d)
		}
	}
	logf(t, "restart: %d records read back on %d partitions in %s (the slowest partition's restore, as logged; %.0f records/s), every horizon restored %s after the process start; peak RSS %.0f MiB",
		read, parts, slowest, float64(read)/slowest.Seconds(), wall.Round(time.Millisecond), peak)
	c.stop()
}

// reached is when the first snapshot counting posts posts arrived (zero
// when none has).
func (s *snapshots) reached(posts int64) time.Time {
	for _, a := range s.arrivals() {
		if a.posts == posts {
			return a.at
		}
	}
	return time.Time{}
}
