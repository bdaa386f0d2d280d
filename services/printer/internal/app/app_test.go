package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/service"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/services/printer/internal/app"
)

// printer is a running printer service and what it wrote.
type printer struct {
	out, log *systest.Buffer
	reg      *prometheus.Registry
}

// validConfig is a printer's configuration as the defaults make it, on the
// test broker.
func validConfig() app.Config {
	cfg := app.Config{
		Base:        service.Base{Kafka: kafkaconn.Config{Brokers: "127.0.0.1:9092", SecurityProtocol: "plaintext", Replication: 1}},
		Topic:       "top-hashtags",
		FacetsTopic: "hashtag-facets",
		Facet:       "all",
		From:        "latest",
		Format:      "table",
		Truncate:    20,
		OpsAddr:     "off",
		HTTPAddr:    "off",
		HTTPWindows: 30,
	}
	cfg.Log.Format, cfg.Log.Level = "text", "info"
	return cfg
}

func start(t *testing.T, topic, from string) *printer {
	t.Helper()
	return startWith(t, topic, from, func(*app.Config) {})
}

func startWith(t *testing.T, topic, from string, set func(*app.Config)) *printer {
	t.Helper()
	cfg := validConfig()
	cfg.Kafka.Brokers, cfg.Topic, cfg.From = kafkatest.Brokers(t), topic, from
	set(&cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p := &printer{out: &systest.Buffer{}, log: &systest.Buffer{}, reg: prometheus.NewRegistry()}
	systest.RunUntilCleanup(t, "the printer", func(ctx context.Context) error {
		return app.Serve(ctx, cfg, slog.New(slog.NewTextHandler(p.log, &slog.HandlerOptions{Level: slog.LevelDebug})), p.out, p.reg)
	})
	return p
}

var batchLine = regexp.MustCompile(`(?m)^Batch: (\d+) `)

// batches lists the batch numbers printed so far, in order.
func (p *printer) batches() []int64 {
	var out []int64
	for _, m := range batchLine.FindAllStringSubmatch(p.out.String(), -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		out = append(out, n)
	}
	return out
}

func (p *printer) metric(name string) float64 {
	mfs, _ := p.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			m := mf.GetMetric()[0]
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return -1
}

func (p *printer) dump() string { return "stdout:\n" + p.out.String() + "\nlog:\n" + p.log.String() }

func (p *printer) waitBatches(t *testing.T, n int) {
	t.Helper()
	systest.Await(t, strconv.Itoa(n)+" batches", time.Minute, func() bool { return len(p.batches()) >= n }, p.dump)
}

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// snap is batch n of a made-up run: tag "tagN" with count 100+n on top.
func snap(t *testing.T, n int64) kafkatest.Record {
	t.Helper()
	s := snapshot.Snapshot{
		Batch: n, WindowStart: t0.Add(time.Duration(n) * 2 * time.Second), WindowEnd: t0.Add(time.Duration(n+1) * 2 * time.Second),
		Top:   []snapshot.Entry{{Rank: 1, Hashtag: "tag" + strconv.FormatInt(n, 10), Key: "tag" + strconv.FormatInt(n, 10), Count: 100 + n}},
		Posts: 10 * n, PostsWithTags: 5 * n, DistinctHashtags: n, ProducedAt: time.Now(),
	}
	b, err := snapshot.Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	return kafkatest.Record{Key: []byte("top"), Value: b}
}

func snaps(t *testing.T, from, to int64) []kafkatest.Record {
	var rs []kafkatest.Record
	for n := from; n <= to; n++ {
		rs = append(rs, snap(t, n))
	}
	return rs
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSnapshotsWrittenAfterStartArePrintedInOrder(t *testing.T) {
	topic := kafkatest.Topic(t, "top-hashtags", 1, nil)
	p := start(t, topic, "latest")
	systest.Await(t, "the printer to follow", time.Minute, func() bool { return strings.Contains(p.log.String(), "following") }, p.dump)
	kafkatest.Produce(t, topic, snaps(t, 1, 5)...)
	p.waitBatches(t, 5)
	if got := p.batches(); !equal(got, []int64{1, 2, 3, 4, 5}) {
		t.Fatalf("batches printed %v, want 1..5 in order", got)
	}
	for n := 1; n <= 5; n++ {
		row := "|" + strings.Repeat(" ", 7-len("#tag1")) + "#tag" + strconv.Itoa(n) + "|  10" + strconv.Itoa(n) + "|"
		if !strings.Contains(p.out.String(), row) {
			t.Errorf("no row %q in:\n%s", row, p.out.String())
		}
	}
	if got := p.metric("hashtrend_printer_snapshots_rendered_total"); got != 5 {
		t.Errorf("rendered metric %v, want 5", got)
	}
	if got := p.metric("hashtrend_printer_last_batch"); got != 5 {
		t.Errorf("last batch metric %v, want 5", got)
	}
}

// TestWhereAStartingPrinterBegins starts a printer on a topic that holds
// snapshots already, then writes one more: from the beginning it prints
// every snapshot; from the latest only the last one before the new one.
func TestWhereAStartingPrinterBegins(t *testing.T) {
	for _, tc := range []struct {
		name, from string
		before     int64   // snapshots in the topic before the start
		want       []int64 // batches printed, the new one last
	}{
		{"from the beginning it replays every snapshot", "beginning", 4, []int64{1, 2, 3, 4, 5}},
		{"starting late it shows the latest snapshot first", "latest", 7, []int64{7, 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := kafkatest.Topic(t, "top-hashtags", 1, nil)
			kafkatest.Produce(t, topic, snaps(t, 1, tc.before)...)
			p := start(t, topic, tc.from)
			p.waitBatches(t, len(tc.want)-1)
			systest.Await(t, "the printer to follow", time.Minute, func() bool { return strings.Contains(p.log.String(), "following") }, p.dump)
			kafkatest.Produce(t, topic, snap(t, tc.before+1))
			p.waitBatches(t, len(tc.want))
			if got := p.batches(); !equal(got, tc.want) {
				t.Fatalf("batches printed %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAnUndecodableRecordIsReportedAndSkipped(t *testing.T) {
	topic := kafkatest.Topic(t, "top-hashtags", 1, nil)
	kafkatest.Produce(t, topic, snap(t, 1), kafkatest.Record{Value: []byte(`{"v":1,"batch":"two"`)}, snap(t, 3))
	p := start(t, topic, "beginning")
	p.waitBatches(t, 2)
	if got := p.batches(); !equal(got, []int64{1, 3}) {
		t.Fatalf("batches printed %v, want 1 and 3", got)
	}
	logs := p.log.String()
	if n := strings.Count(logs, "skipping a record that is not a snapshot"); n != 1 || !strings.Contains(logs, "offset=1 ") {
		t.Fatalf("want one report naming offset 1, got %d in:\n%s", n, logs)
	}
	if got := p.metric("hashtrend_printer_snapshots_undecodable_total"); got != 1 {
		t.Errorf("undecodable metric %v, want 1", got)
	}
}

func TestWaitsForATopicCreatedAfterStart(t *testing.T) {
	topic := kafkatest.Name(t, "top-hashtags")
	kafkatest.DeleteAfter(t, topic)
	p := start(t, topic, "latest")
	const waiting = "topic does not exist yet"
	systest.Await(t, "the printer to say it waits", time.Minute, func() bool { return strings.Contains(p.log.String(), waiting) }, p.dump)
	// It looks again (and must not repeat itself) before the topic appears.
	systest.Await(t, "a second look", time.Minute, func() bool { return strings.Contains(p.log.String(), "attempt=2") }, p.dump)
	kafkatest.CreateTopic(t, topic, 1, nil)
	systest.Await(t, "the printer to follow", time.Minute, func() bool { return strings.Contains(p.log.String(), "following") }, p.dump)
	kafkatest.Produce(t, topic, snaps(t, 1, 2)...)
	p.waitBatches(t, 2)
	if got := p.batches(); !equal(got, []int64{1, 2}) {
		t.Fatalf("batches printed %v, want 1 and 2", got)
	}
	if n := strings.Count(p.log.String(), waiting); n != 1 {
		t.Fatalf("said %d times that it waits, want once:\n%s", n, p.log.String())
	}
}

func TestThePageServesTheSnapshotsThePrinterFollows(t *testing.T) {
	topic := kafkatest.Topic(t, "top-hashtags", 1, nil)
	kafkatest.Produce(t, topic, snaps(t, 1, 3)...)
	addr := systest.FreeAddr(t)
	p := startWith(t, topic, "latest", func(c *app.Config) { c.HTTPAddr = addr })
	p.waitBatches(t, 1)
	kafkatest.Produce(t, topic, snap(t, 4))
	p.waitBatches(t, 2)
	got := awaitPageSnapshot(t, addr, 4, p)
	if len(got.Top) != 1 || got.Top[0].Hashtag != "tag4" || got.Top[0].Count != 104 {
		t.Fatalf("/api/snapshot: %+v", got)
	}
	for _, path := range []string{"/", "/healthz", "/readyz"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %s", path, resp.Status)
		}
	}
}

func TestBadPageSettingsAreRejectedNamingTheVariable(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*app.Config)
		want string
	}{
		{"an address without a port", func(c *app.Config) { c.HTTPAddr = "localhost" }, "PRINTER_HTTP_ADDR"},
		{"the ops server's address", func(c *app.Config) { c.HTTPAddr, c.OpsAddr = ":9103", ":9103" }, "PRINTER_HTTP_ADDR"},
		{"a single window of history", func(c *app.Config) { c.HTTPWindows = 1 }, "PRINTER_HTTP_WINDOWS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig()
			tc.set(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want an error naming %s", err, tc.want)
			}
		})
	}
	cfg := validConfig()
	cfg.HTTPAddr = "127.0.0.1:8080"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("a good address: %v", err)
	}
}

// awaitPageSnapshot waits until the page at addr serves the snapshot of
// batch on /api/snapshot, and returns it.
func awaitPageSnapshot(t *testing.T, addr string, batch int64, p *printer) snapshot.Snapshot {
	t.Helper()
	var got snapshot.Snapshot
	systest.Await(t, fmt.Sprintf("batch %d on /api/snapshot", batch), time.Minute, func() bool {
		resp, err := http.Get("http://" + addr + "/api/snapshot")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got, err = snapshot.Decode(b)
		return err == nil && got.Batch == batch
	}, p.dump)
	return got
}
