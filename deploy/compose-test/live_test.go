// Package composetest runs docker-compose.yml on a real Docker engine and
// checks what a person would see: every service healthy, the printer's
// tables, services stopped and started while the rest runs, the counter
// scaled to three, Prometheus scraping all of them and answering every
// dashboard query, and nothing left after `docker compose down -v`.
//
// It runs only under compose-test.sh (make compose-test), which provides the
// engine, the images and a network namespace to run in; elsewhere it skips.
package composetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/pkg/synthetic"
	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/pkg/systest/expect"
)

// services are those of the Compose file that run here: Grafana has no
// local stand-in, its dashboard's queries are checked against Prometheus.
var services = []string{"kafka", "ingest", "counter", "printer", "prometheus"}

const prometheus = "http://localhost:9090" // published inside the namespace

// The input of the exact count: the Compose file's ingest (its default
// seed) until it is stopped, then one run of a fixed seed and count.
const (
	defaultSeed = 1
	defaultRate = 200 // docker-compose.yml's INGEST_SYNTHETIC_RATE
	exactSeed   = 4242
	exactCount  = 3000
)

func TestComposeLive(t *testing.T) {
	if os.Getenv("COMPOSE_TEST_LIVE") != "1" {
		t.Skip("runs under make compose-test, which provides the Docker engine and the images")
	}
	// No generated history: the exact totals regenerate every post of the
	// topic, and 6 h 20 min of history at 200 posts/s are 4.6 million.
	t.Setenv("INGEST_SYNTHETIC_HISTORY", "0")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("docker compose ps -a:\n%s", composeOut(t, "ps", "-a"))
			t.Logf("docker compose logs (last lines):\n%s", composeOut(t, "logs", "--no-color", "--tail", "40"))
		}
		composeOut(t, "down", "-v", "--remove-orphans", "--timeout", "20")
	})
	steps := []struct {
		name string
		run  func(*testing.T)
	}{
		{"up", up},
		{"ingest stopped and started", ingestStopStart},
		{"counter stopped and started", counterStopStart},
		{"counter scaled to 3", scale},
		{"prometheus", prometheusTargetsAndDashboard},
		{"exact totals", exactTotals},
		{"down", down},
	}
	for _, s := range steps {
		start := time.Now()
		ok := t.Run(s.name, s.run)
		t.Logf("%s: %s", s.name, time.Since(start).Round(100*time.Millisecond))
		if !ok {
			return
		}
	}
}

// tableRow is a row of the printer's table with a hashtag and a count.
var tableRow = regexp.MustCompile(`(?m)^\|\s*#[^|]+\|\s*[0-9]+\|\r?$`)

func up(t *testing.T) {
	compose(t, append([]string{"up", "-d", "--wait", "--wait-timeout", "600"}, services...)...)
	for _, c := range containers(t) {
		if c.State != "running" || c.Health != "healthy" {
			t.Errorf("%s is %s (health %q), want running and healthy", c.Name, c.State, c.Health)
		}
	}
	if got := len(containers(t)); got != len(services) {
		t.Errorf("%d containers, want %d (one per service)", got, len(services))
	}
	awaitPrinterTable(t)
}

func ingestStopStart(t *testing.T) {
	compose(t, "stop", "ingest")
	// Snapshots go on: the windows after the last posts are empty.
	idle := waitSnapshots(t, "three empty windows in a row after ingest stopped", time.Minute, func(s []snapshot.Snapshot) bool {
		n := len(s)
		return n >= 3 && s[n-1].Posts == s[n-3].Posts && s[n-2].Posts == s[n-3].Posts &&
			len(s[n-1].WindowTop) == 0 && len(s[n-2].WindowTop) == 0
	})
	posts := idle[len(idle)-1].Posts
	compose(t, "start", "ingest")
	waitSnapshots(t, "posts again after ingest started", time.Minute, func(s []snapshot.Snapshot) bool {
		return s[len(s)-1].Posts > posts
	})
}

func counterStopStart(t *testing.T) {
	compose(t, "stop", "counter")
	before := snapshots(t)
	last := before[len(before)-1]
	compose(t, "start", "counter")
	after := waitSnapshots(t, "a snapshot from the started counter", 2*time.Minute, func(s []snapshot.Snapshot) bool {
		return s[len(s)-1].Batch > last.Batch && s[len(s)-1].Posts > last.Posts
	})
	if err := expect.CheckSequence(after); err != nil {
		t.Fatalf("across the counter's restart: %v", err)
	}
}

func scale(t *testing.T) {
	compose(t, append([]string{"up", "-d", "--wait", "--wait-timeout", "300", "--scale", "counter=3"}, services...)...)
	var counters int
	for _, c := range containers(t) {
		if c.Service == "counter" {
			counters++
			if c.State != "running" || c.Health != "healthy" {
				t.Errorf("%s is %s (health %q), want running and healthy", c.Name, c.State, c.Health)
			}
		}
	}
	if counters != 3 {
		t.Fatalf("%d counter containers, want 3", counters)
	}
	last := snapshots(t)
	batch := last[len(last)-1].Batch
	snaps := waitSnapshots(t, "ten more batches with three counters", 2*time.Minute, func(s []snapshot.Snapshot) bool {
		return s[len(s)-1].Batch >= batch+10
	})
	// One rank publishes: a second would repeat or skip batch numbers.
	if err := expect.CheckSequence(snaps); err != nil {
		t.Fatalf("with three counters: %v", err)
	}
}

func prometheusTargetsAndDashboard(t *testing.T) {
	// Every replica is a target of its own (DNS service discovery).
	want := map[string]int{"ingest": 1, "counter": 3, "printer": 1}
	var last string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		up, all, desc := targets(t)
		if all == 5 && up["ingest"] == want["ingest"] && up["counter"] == want["counter"] && up["printer"] == want["printer"] {
			break
		}
		last = desc
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus targets within 2 min: %s; want every one up: ingest 1, counter 3, printer 1", last)
		}
		time.Sleep(2 * time.Second) // the next scrape
	}

	// Exactly one counter's batch number moves: one rank publishes.
	waitQuery(t, "count(changes(hashtrend_counter_batch[20s]) > 0)", func(v []sample) bool {
		return len(v) == 1 && v[0].Value[1] == "1"
	})

	for _, q := range dashboardQueries(t) {
		if why, ok := emptyWhileYoung[q]; ok {
			t.Logf("not waited for: %s (%s)", q, why)
			continue
		}
		waitQuery(t, q, func(v []sample) bool { return len(v) > 0 })
	}
}

// emptyWhileYoung are the dashboard's queries that have no data, by design,
// in a stack younger than this test can wait for.
var emptyWhileYoung = map[string]string{
	"max by (rank, hashtag) (hashtrend_counter_trending_score)": "the trending list stays empty until one whole baseline window exists, 20 min after the first post (docs/counter.md)",
}

func exactTotals(t *testing.T) { exactTotalsFrom(t, kafkatest.ReadAll) }

// exactTotalsFrom stops ingest, runs it once with a fixed seed and count,
// and checks every post of the tweets topic and the last snapshot against
// what pkg/synthetic makes again from the two seeds, reading the topics
// with readAll (the plain broker's reader, or the secured one's as admin).
func exactTotalsFrom(t *testing.T, readAll func(testing.TB, string, time.Duration) []*kafka.Message) {
	compose(t, "stop", "ingest")
	compose(t, "run", "--rm", "--no-deps", "-T",
		"-e", fmt.Sprintf("INGEST_SYNTHETIC_SEED=%d", exactSeed),
		"-e", fmt.Sprintf("INGEST_SYNTHETIC_COUNT=%d", exactCount),
		"-e", "INGEST_SYNTHETIC_RATE=0", "-e", "INGEST_OPS_ADDR=off", "ingest")

	// The topic holds, each once, the fixed run's posts and the first posts
	// of the long-running ingest (seed 1; its restart resumed where it had
	// stopped): both are made here again from their seeds.
	topic := map[string]post.Post{}
	for _, m := range readAll(t, "tweets", 2*time.Minute) {
		p, err := post.Decode(m.Value)
		if err != nil {
			t.Fatalf("tweets offset %v: %v", m.TopicPartition.Offset, err)
		}
		if _, dup := topic[p.ID]; dup {
			t.Errorf("post %s is in the tweets topic twice", p.ID)
		}
		topic[p.ID] = p
	}
	fixed := generate(exactSeed, 0, exactCount)
	live := generate(defaultSeed, defaultRate, len(topic)-exactCount)
	posts := append(fixed, live...)
	for _, g := range posts {
		p, ok := topic[g.ID]
		if !ok {
			t.Fatalf("post %s of the synthetic input is not in the tweets topic (%d posts there)", g.ID, len(topic))
		}
		if p.Text != g.Text || !slices.Equal(p.Hashtags, g.Hashtags) {
			t.Fatalf("post %s in the topic is not the generator's: %+v, want %+v", p.ID, p, g)
		}
	}

	want := expect.Of(posts)
	var snaps []snapshot.Snapshot
	systest.Await(t, fmt.Sprintf("all %d posts counted", want.Posts), 2*time.Minute, func() bool {
		snaps = snaps[:0]
		for _, m := range readAll(t, "top-hashtags", time.Minute) {
			s, err := snapshot.Decode(m.Value)
			if err != nil {
				t.Fatalf("top-hashtags offset %v: %v", m.TopicPartition.Offset, err)
			}
			snaps = append(snaps, s)
		}
		return len(snaps) > 0 && want.AllCounted(snaps)
	}, func() string {
		if len(snaps) == 0 {
			return "no snapshot so far"
		}
		return fmt.Sprintf("last snapshot so far: %+v", snaps[len(snaps)-1])
	})
	if err := want.CompareLast(snaps, 10); err != nil {
		t.Fatal(err)
	}
	t.Logf("batch %d: %d posts, %d with hashtags, %d distinct, as computed from the seeds",
		snaps[len(snaps)-1].Batch, want.Posts, want.WithTags, len(want.Counts))
}

// generate makes the first n posts of seed as ingest's synthetic source
// does with its default settings at rate posts per second (0: as fast as
// Kafka takes them): at a rate, its step of post time, which the rises are
// scheduled in, is one post at the rate.
func generate(seed int64, rate float64, n int) []post.Post {
	if n <= 0 {
		return nil
	}
	cfg := synthetic.Config{Seed: seed, WallClock: true, Rising: -1,
		Networks: []string{"bluesky", "mastodon", "x"}, AuthorSkew: 1.2,
		RiseEvery: 10 * time.Minute, RiseFor: 40 * time.Minute, Flooders: 3}
	if rate > 0 {
		cfg.Interval = time.Duration(float64(time.Second) / rate)
	}
	return synthetic.New(cfg).Take(n)
}

func down(t *testing.T) {
	compose(t, "down", "-v", "--timeout", "20")
	if out := docker(t, "ps", "-aq"); out != "" {
		t.Errorf("containers left after down -v: %s", out)
	}
	if out := docker(t, "volume", "ls", "-q"); out != "" {
		t.Errorf("volumes left after down -v: %s", out)
	}
	for _, n := range strings.Fields(docker(t, "network", "ls", "--format", "{{.Name}}")) {
		if n != "bridge" && n != "host" && n != "none" {
			t.Errorf("network %s left after down -v", n)
		}
	}
}

// --- docker and compose ----------------------------------------------------

func dockerBin() string {
	if d := os.Getenv("DOCKER"); d != "" {
		return d
	}
	return "docker"
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(dockerBin(), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// compose runs docker compose and ends the test when it fails.
func compose(t *testing.T, args ...string) {
	t.Helper()
	t.Logf("docker compose %s", strings.Join(args, " "))
	docker(t, append([]string{"compose"}, args...)...)
}

// composeOut runs docker compose and returns its output, errors included.
func composeOut(t *testing.T, args ...string) string {
	out, _ := exec.Command(dockerBin(), append([]string{"compose"}, args...)...).CombinedOutput()
	return string(out)
}

// awaitPrinterTable waits up to 30 s for a table with hashtags in the
// printer's log.
func awaitPrinterTable(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := composeOut(t, "logs", "--no-log-prefix", "--no-color", "printer")
		if strings.Contains(out, "Batch: ") && tableRow.MatchString(out) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the printer's log shows no table with hashtags within 30 s of up:\n%s", tail(out, 30))
		}
		time.Sleep(time.Second) // the printer's next lines
	}
}

// container is one as docker compose ps --format json shows it.
type container struct {
	Name, Service, State, Health string
	ExitCode                     int
}

// containers lists the project's containers: the running ones, or with
// "-a" the exited ones too.
func containers(t *testing.T, flags ...string) []container {
	t.Helper()
	var out []container
	args := append([]string{"compose", "ps", "--format", "json"}, flags...)
	for _, line := range strings.Split(docker(t, args...), "\n") {
		if line == "" {
			continue
		}
		var c container
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("docker compose ps: %v in %q", err, line)
		}
		out = append(out, c)
	}
	return out
}

// --- snapshots ------------------------------------------------------------------

func snapshots(t *testing.T) []snapshot.Snapshot {
	t.Helper()
	return kafkatest.Snapshots(t, kafkatest.Brokers(t), "top-hashtags")
}

// waitSnapshots waits until ok holds for the snapshots so far.
func waitSnapshots(t *testing.T, what string, timeout time.Duration, ok func([]snapshot.Snapshot) bool) []snapshot.Snapshot {
	t.Helper()
	return kafkatest.AwaitSnapshots(t, kafkatest.Brokers(t), "top-hashtags", what, timeout, ok)
}

// --- prometheus -------------------------------------------------------------------

// targets counts the active targets that are up, by job, and describes all.
func targets(t *testing.T) (up map[string]int, all int, desc string) {
	t.Helper()
	var r struct {
		Data struct {
			ActiveTargets []struct {
				Labels    map[string]string `json:"labels"`
				Health    string            `json:"health"`
				LastError string            `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	getJSON(t, prometheus+"/api/v1/targets?state=active", &r)
	up = map[string]int{}
	var parts []string
	for _, a := range r.Data.ActiveTargets {
		if a.Health == "up" {
			up[a.Labels["job"]]++
		}
		parts = append(parts, fmt.Sprintf("%s %s %s %s", a.Labels["job"], a.Labels["instance"], a.Health, a.LastError))
	}
	return up, len(r.Data.ActiveTargets), strings.Join(parts, "; ")
}

type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func query(t *testing.T, q string) []sample {
	t.Helper()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []sample `json:"result"`
		} `json:"data"`
	}
	getJSON(t, prometheus+"/api/v1/query?query="+url.QueryEscape(q), &r)
	if r.Status != "success" {
		t.Fatalf("query %s: %s", q, r.Error)
	}
	return r.Data.Result
}

// waitQuery waits until ok holds for the result of q.
func waitQuery(t *testing.T, q string, ok func([]sample) bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		v := query(t, q)
		if ok(v) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("query %s within 2 min: %v", q, v)
		}
		time.Sleep(2 * time.Second) // the next scrape
	}
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", u, err)
	}
}

// dashboardQueries returns every query of the Grafana dashboard.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../grafana/dashboards/hashtrend.json")
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var qs []string
	var walk func(raw []byte)
	walk = func(raw []byte) {
		var p panel
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatalf("dashboard: %v", err)
		}
		for _, tg := range p.Targets {
			if tg.Expr != "" {
				qs = append(qs, tg.Expr)
			}
		}
		for _, c := range p.Panels {
			walk(c)
		}
	}
	walk(b)
	if len(qs) == 0 {
		t.Fatal("no queries in the dashboard")
	}
	return qs
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
