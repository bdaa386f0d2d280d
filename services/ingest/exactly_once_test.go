package main

import (
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/systest"
)

// The fault tests below run short in every `go test`; with
// INGEST_TRIALS=1 (make ingest-trials) they run at full scale: a longer
// replay, more kills, a broker down for over a minute.
var trials = os.Getenv("INGEST_TRIALS") == "1"

// scale returns the short or the trial value.
func scale[T any](short, trial T) T {
	if trials {
		return trial
	}
	return short
}

// writeRecording writes n v1.1 posts with distinct ids as a recording in
// two files, the first half plain and the second gzip-compressed, with a
// keep-alive and a limit notice between posts now and then. It returns the
// glob of the files and the ids in order.
func writeRecording(t *testing.T, n int) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	var ids []string
	// Recent created_at, as a live recording has.
	start := time.Now().Add(-time.Hour).UTC()
	line := func(i int) string {
		id := fmt.Sprintf("%d", 7_000_000_000+i)
		ids = append(ids, id)
		tag := fmt.Sprintf("tag%d", i%97)
		created := start.Add(time.Duration(i) * 10 * time.Millisecond).Format(time.RubyDate)
		return fmt.Sprintf(`{"created_at":%q,"id":%s,"id_str":"%s","text":"post %d #%s","lang":"en","user":{"id":7,"id_str":"7","screen_name":"someone"},"entities":{"hashtags":[{"text":%q,"indices":[0,1]}],"urls":[],"user_mentions":[]}}`,
			created, id, id, i, tag, tag)
	}
	write := func(name string, from, to int) {
		fh, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		var w interface {
			Write([]byte) (int, error)
		} = fh
		var zw *gzip.Writer
		if strings.HasSuffix(name, ".gz") {
			zw = gzip.NewWriter(fh)
			w = zw
		}
		for i := from; i < to; i++ {
			fmt.Fprintln(w, line(i))
			if i%500 == 0 {
				fmt.Fprintln(w, "")
				fmt.Fprintln(w, `{"limit":{"track":12}}`)
			}
		}
		if zw != nil {
			zw.Close()
		}
		if err := fh.Close(); err != nil {
			t.Fatal(err)
		}
	}
	write("a.jsonl", 0, n/2)
	write("b.jsonl.gz", n/2, n)
	return filepath.Join(dir, "*"), ids
}

// checkExactlyOnce reads topic read_committed and fails unless it holds
// every id once and nothing else.
func checkExactlyOnce(t *testing.T, brokers, topic string, ids []string) {
	t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	seen := map[string]int{}
	for _, m := range kafkatest.ReadAllFrom(t, brokers, topic, 2*time.Minute) {
		seen[string(m.Key)]++
	}
	var twice, missing, foreign int
	for id, n := range seen {
		if n > 1 {
			twice++
		}
		if !want[id] {
			foreign++
		}
	}
	for id := range want {
		if seen[id] == 0 {
			missing++
		}
	}
	if twice+missing+foreign > 0 {
		t.Fatalf("%s: %d ids twice or more, %d of %d missing, %d not in the input", topic, twice, missing, len(ids), foreign)
	}
	t.Logf("%s holds each of the %d posts exactly once", topic, len(ids))
}

// awaitOutput waits until the process has logged want.
func awaitOutput(t *testing.T, p *systest.Process, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.Output(), want) {
		if !p.Running() {
			t.Fatalf("%s exited before logging %q:\n%s", p.Name, want, p.Output())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log %q within %s", p.Name, want, timeout)
		}
		time.Sleep(50 * time.Millisecond) // polling the captured output
	}
}

// replayEnv is the environment of an ingest replaying files into topic.
func replayEnv(brokers, topic, positions, files string, rate int) []string {
	return []string{"KAFKA_BROKERS=" + brokers, "TOPIC_TWEETS=" + topic, "TOPIC_POSITIONS=" + positions,
		"TOPIC_TWEETS_PARTITIONS=3", "INGEST_OPS_ADDR=off", "INGEST_SOURCE=file", "INGEST_FILE_PATHS=" + files,
		fmt.Sprintf("INGEST_FILE_RATE=%d", rate)}
}

func TestAReplaySIGKILLedAtRandomMomentsAndRestartedWritesEachPostOnce(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	n, kills := scale(12000, 60000), scale(3, 6)
	rate := scale(4000, 5000)
	files, ids := writeRecording(t, n)
	topic := kafkatest.Name(t, "tweets")
	positions := kafkatest.Name(t, "positions")
	kafkatest.DeleteAfter(t, topic, positions)
	env := replayEnv(brokers, topic, positions, files, rate)
	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	// The replay takes n/rate seconds; the kills fall at random moments
	// within it, each after the restarted process has resumed.
	for k := range kills {
		p := systest.Start(t, fmt.Sprintf("ingest#%d", k+1), binary, env...)
		awaitOutput(t, p, "msg=\"replaying file\"", 60*time.Second)
		d := time.Duration(rnd.Int64N(int64(time.Duration(n/rate) * time.Second / time.Duration(kills+1))))
		time.Sleep(d) // the random moment of the kill, not an event to wait for
		if !p.Running() {
			t.Fatalf("ingest ended before its kill:\n%s", p.Output())
		}
		p.Kill()
		t.Logf("kill %d after %s", k+1, d.Round(time.Millisecond))
	}
	last := systest.Start(t, "ingest#last", binary, env...)
	last.Wait(3 * time.Minute)
	if !strings.Contains(last.Output(), "resuming at the committed position") {
		t.Fatalf("the last run did not resume:\n%s", last.Output())
	}
	checkExactlyOnce(t, brokers, topic, ids)
}

// outageReplay starts a replay against its own broker and SIGKILLs the
// broker while the replay is ending: shortly before the source reads its
// last post. It returns the broker, the ingest process and what to check.
func outageReplay(t *testing.T) (*kafkatest.Broker, *systest.Process, func(), []string) {
	broker := kafkatest.Disposable(t)
	n, rate := scale(4000, 20000), 2000
	files, ids := writeRecording(t, n)
	topic, positions := kafkatest.Name(t, "tweets"), kafkatest.Name(t, "positions")
	env := replayEnv(broker.Addr, topic, positions, files, rate)
	p := systest.Start(t, "ingest", binary, append(env, "INGEST_FLUSH_TIMEOUT=5s")...)
	// The second file starts at post n/2: the kill falls about a second
	// before the end of the input.
	awaitOutput(t, p, "b.jsonl.gz\n", 2*time.Minute)                        // its "replaying file" line
	time.Sleep(time.Duration(n/2-rate) * time.Second / time.Duration(rate)) // pacing: the source reads rate posts/s
	broker.Kill()
	t.Log("broker killed")
	check := func() { checkExactlyOnce(t, broker.Addr, topic, ids) }
	return broker, p, check, env
}

func TestABrokerKilledAsAReplayEndsIsWaitedForAndNothingIsLost(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a broker")
	}
	broker, p, check, _ := outageReplay(t)
	down := scale(15*time.Second, 70*time.Second)
	awaitOutput(t, p, "waiting for the brokers to commit", time.Minute)
	time.Sleep(down) // the outage itself
	if !p.Running() {
		t.Fatalf("ingest ended while the broker was down:\n%s", p.Output())
	}
	restart := time.Now()
	broker.Start()
	back := time.Now()
	t.Logf("broker back after %s down (its start took %s)", time.Since(restart.Add(-down)).Round(time.Second), back.Sub(restart).Round(time.Second))
	p.Wait(3 * time.Minute)
	t.Logf("ingest exited 0, %s after the broker was back", time.Since(back).Round(time.Millisecond))
	check()
}

// TestSIGTERMDuringAnOutageStopsPromptlyAndTheNextStartResumes stops
// ingest while the broker is down, mid-commit, and starts it again once
// the broker is back. A broker restarted after a SIGKILL mid-commit may
// complete the transaction without writing its markers to partitions that
// have no leader yet (KAFKA-20734, Kafka 4.4.0): the transaction then
// hangs and holds every read_committed reader, the next start's read of
// its positions included, back for good, whatever the client does. When
// the broker's log says so and the next start is held back by it, the
// trial is run again on a new broker, up to three times in all, each
// logged; every other outcome is the test's.
func TestSIGTERMDuringAnOutageStopsPromptlyAndTheNextStartResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a broker")
	}
	for trial := 1; ; trial++ {
		if sigtermDuringAnOutage(t, trial == 3) {
			return
		}
		t.Logf("trial %d: the broker left a hanging transaction behind (KAFKA-20734), which held the next start back; again on a new broker", trial)
	}
}

// sigtermDuringAnOutage runs one trial; false when the broker left a
// hanging transaction that held the next start back, unless last.
func sigtermDuringAnOutage(t *testing.T, last bool) bool {
	broker, p, check, env := outageReplay(t)
	awaitOutput(t, p, "waiting for the brokers to commit", time.Minute)
	time.Sleep(scale(2*time.Second, 20*time.Second)) // well into the outage
	began := time.Now()
	p.Stop(scale(30*time.Second, 30*time.Second))
	t.Logf("ingest stopped %s after SIGTERM", time.Since(began).Round(time.Millisecond))
	if !strings.Contains(p.Output(), "the next start reads them again") {
		t.Fatalf("the stop did not say the posts are read again:\n%s", p.Output())
	}
	restart := time.Now()
	broker.Start()
	t.Logf("broker restarted (its start took %s)", time.Since(restart).Round(time.Second))
	again := systest.Start(t, "ingest#2", binary, env...)
	for deadline := time.Now().Add(3 * time.Minute); !last && again.Running() && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if strings.Contains(again.Output(), "reading to the end: still below it") && len(broker.SkippedMarkers()) > 0 {
			again.Kill()
			return false
		}
	}
	again.Wait(3 * time.Minute)
	check()
	return true
}
