package deploy_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/systest"
)

// dashboardMetrics returns every metric name the provisioned dashboard's
// queries use.
func dashboardMetrics(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(rootDir(), "deploy", "grafana", "dashboards", "hashtrend.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard has no uid or no panels")
	}
	name := regexp.MustCompile(`\bhashtrend_[a-z0-9_]+`)
	var names []string
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			found := name.FindAllString(q.Expr, -1)
			if len(found) == 0 {
				t.Errorf("panel %q: query %q names no hashtrend metric", p.Title, q.Expr)
			}
			names = append(names, found...)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// exported returns the sample names a service's /metrics shows now.
func exported(addr string) map[string]bool {
	names := map[string]bool{}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return names
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

// TestGrafanaDashboardQueriesMetricsTheServicesExport runs the three
// services on the synthetic workload, on topics of the test's own, and
// checks that every metric the dashboard queries is one that they export.
func TestGrafanaDashboardQueriesMetricsTheServicesExport(t *testing.T) {
	want := dashboardMetrics(t)
	brokers := kafkatest.Brokers(t)
	topics := []string{
		"TOPIC_TWEETS=" + kafkatest.Name(t, "tweets"), "TOPIC_DLQ=" + kafkatest.Name(t, "dlq"),
		"TOPIC_DELTAS=" + kafkatest.Name(t, "deltas"), "TOPIC_COUNTS=" + kafkatest.Name(t, "counts"),
		"TOPIC_TOP=" + kafkatest.Name(t, "top"),
	}
	var names []string
	for _, kv := range topics {
		names = append(names, kv[strings.IndexByte(kv, '=')+1:])
	}
	kafkatest.DeleteAfter(t, names...)
	env := map[string][]string{
		"ingest": {"INGEST_SOURCE=synthetic", "INGEST_SYNTHETIC_RATE=100", "TOPIC_TWEETS_PARTITIONS=2"},
		"counter": {"COUNTER_INSTANCE_ID=" + kafkatest.Name(t, "instance"), "COUNTER_GROUP_TALLY=" + kafkatest.Name(t, "tally"), "COUNTER_GROUP_RANK=" + kafkatest.Name(t, "rank"), "COUNTER_STATS_INTERVAL=1s",
			// Second-long trending buckets, no floor: something trends within
			// seconds, so the trending panel's series exist.
			"COUNTER_TRENDING_BUCKET=1s", "COUNTER_TRENDING_RECENT=2s", "COUNTER_TRENDING_BASELINE=4s",
			"COUNTER_TRENDING_LATENESS=0s", "COUNTER_TRENDING_MIN=1", "COUNTER_TRENDING_MIN_SCORE=0"},
		"printer": {"PRINTER_FROM=beginning"},
	}
	addrs := map[string]string{}
	for _, svc := range []string{"counter", "ingest", "printer"} {
		addrs[svc] = systest.FreeAddr(t)
		cmd := exec.Command(bins[svc])
		cmd.Env = append(append(append(os.Environ(), "KAFKA_BROKERS="+brokers, strings.ToUpper(svc)+"_OPS_ADDR="+addrs[svc]), topics...), env[svc]...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	}

	deadline := time.Now().Add(2 * time.Minute)
	for {
		seen := map[string]bool{}
		for _, addr := range addrs {
			for n := range exported(addr) {
				seen[n] = true
			}
		}
		var missing []string
		for _, n := range want {
			if !seen[n] {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard queries metrics no running service exports: %v", missing)
		}
		time.Sleep(time.Second) // the next scrape, as Prometheus would
	}
}
