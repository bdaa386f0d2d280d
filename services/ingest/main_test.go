package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/systest"
)

var binary string

// TestMain builds the ingest binary once for the process tests.
func TestMain(m *testing.M) { systest.MainWithBinary(m, ".", "ingest", &binary) }

// metric returns the value of an unlabelled-or-single-series metric line.
func metric(body, name string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name) && !strings.HasPrefix(line, "#") {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			return v, err == nil
		}
	}
	return 0, false
}

func TestSIGTERMDuringARunFlushesEveryPostAndExitsZero(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	name := kafkatest.Topic(t, "tweets", 3, nil)
	ops := systest.FreeAddr(t)
	var stderr bytes.Buffer
	cmd := exec.Command(binary)
	cmd.Env = append(os.Environ(), "KAFKA_BROKERS="+brokers, "TOPIC_TWEETS="+name, "INGEST_OPS_ADDR="+ops,
		"INGEST_SOURCE=synthetic", "INGEST_SYNTHETIC_RATE=3000", "INGEST_SYNTHETIC_SEED=5",
		"INGEST_X_BEARER_TOKEN=never-shown-token", "KAFKA_SASL_PASSWORD=never-shown-password")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	// Wait until the broker has confirmed a good number of posts.
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + ops + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if v, ok := metric(string(b), "hashtrend_ingest_posts_produced_total"); ok && v >= 2000 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 2000 posts produced after 60 s\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond) // polling the metrics endpoint
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ingest after SIGTERM: %v\n%s", err, stderr.String())
	}
	logs := stderr.String()
	m := regexp.MustCompile(`msg="ingest finished".* read=(\d+) produced=(\d+) failed=(\d+) unconfirmed=(\d+)`).FindStringSubmatch(logs)
	if m == nil {
		t.Fatalf("no final count in the log:\n%s", logs)
	}
	read, _ := strconv.Atoi(m[1])
	produced, _ := strconv.Atoi(m[2])
	if read != produced || m[4] != "0" {
		t.Fatalf("read %d, produced %d, unconfirmed %s", read, produced, m[4])
	}
	got := kafkatest.ReadAll(t, name, 60*time.Second)
	if len(got) != produced {
		t.Fatalf("%d records in the topic, the process reported %d produced", len(got), produced)
	}
	for _, secret := range []string{"never-shown-token", "never-shown-password"} {
		if strings.Contains(logs, secret) {
			t.Fatalf("secret %q is in the log", secret)
		}
	}
}

func TestABadSettingStopsTheStartWithOneLineNamingIt(t *testing.T) {
	cmd := exec.Command(binary)
	cmd.Env = append(os.Environ(), "INGEST_SOURCE=twitter", "INGEST_TWITTER_CONSUMER_KEY=k")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("exit %v, want 2\n%s", err, out)
	}
	if !strings.Contains(string(out), "INGEST_TWITTER_") || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Fatalf("want one line naming the variable, got:\n%s", out)
	}
}

func TestHealthcheckAsksTheRunningIngest(t *testing.T) {
	name := kafkatest.Topic(t, "tweets", 1, nil)
	p := systest.Start(t, "ingest", binary, "KAFKA_BROKERS="+kafkatest.Brokers(t), "TOPIC_TWEETS="+name,
		"INGEST_OPS_ADDR="+systest.FreeAddr(t), "INGEST_SOURCE=synthetic", "INGEST_RATE=100")
	p.CheckHealthcheck(60 * time.Second)
}
