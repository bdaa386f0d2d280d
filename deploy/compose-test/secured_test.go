package composetest

// The secured overlay, for real: docker-compose.yml with
// docker-compose.secured.yml on top, after the plain run. Kafka takes
// clients only over TLS with SCRAM-SHA-512 and allows nothing that no ACL
// allows; each service is its own user with only its own rights.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/access"
	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/partition"
)

// securedServices are the overlay's long-running services started here
// (Prometheus is the plain run's), and oneShots its first steps, which
// must have run and succeeded.
var (
	securedServices = []string{"kafka", "ingest", "counter", "printer"}
	oneShots        = []string{"kafka-init", "grant"}
)

// securedRun is the state the secured steps share.
type securedRun struct {
	dir        string            // the test's files: the CA's certificate
	passwords  map[string]string // by user: admin and the services'
	kafka      kafkaconn.Config  // admin on the HOST listener, once up
	lackingOut string            // the output of the refused start
}

func TestComposeSecured(t *testing.T) {
	if os.Getenv("COMPOSE_TEST_LIVE") != "1" {
		t.Skip("runs under make compose-test, which provides the Docker engine and the images")
	}
	overlay := os.Getenv("COMPOSE_SECURED_FILE")
	if overlay == "" {
		t.Fatal("COMPOSE_SECURED_FILE is not set: compose-test.sh names docker-compose.secured.yml there")
	}
	t.Setenv("COMPOSE_FILE", os.Getenv("COMPOSE_FILE")+string(os.PathListSeparator)+overlay)
	t.Setenv("INGEST_SYNTHETIC_HISTORY", "0") // as the plain run, for the exact totals
	r := &securedRun{dir: t.TempDir(), passwords: map[string]string{}}
	for _, u := range []string{"admin", access.Ingest, access.Counter, access.Printer} {
		r.passwords[u] = randomPassword(t)
		t.Setenv("SECURED_"+strings.ToUpper(u)+"_PASSWORD", r.passwords[u])
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("docker compose ps -a:\n%s", composeOut(t, "ps", "-a"))
			logs := composeOut(t, "logs", "--no-color")
			t.Logf("docker compose logs (last lines):\n%s", composeOut(t, "logs", "--no-color", "--tail", "40"))
			t.Logf("docker compose logs (the first errors):\n%s", strings.Join(firstErrors(logs, 20), "\n"))
		}
		composeOut(t, "down", "-v", "--remove-orphans", "--timeout", "20")
	})
	steps := []struct {
		name string
		run  func(*testing.T)
	}{
		{"secured up", r.up},
		{"secured exact totals", r.exactTotals},
		{"a user lacking a right", r.lackingRight},
		{"no password in any log", r.noPasswordLogged},
		{"secured down", down},
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

func randomPassword(t *testing.T) string {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (r *securedRun) up(t *testing.T) {
	compose(t, append([]string{"up", "-d", "--wait", "--wait-timeout", "600"}, securedServices...)...)
	seen := map[string]int{}
	for _, c := range containers(t, "-a") {
		seen[c.Service]++
		switch {
		case slices.Contains(oneShots, c.Service):
			if c.State != "exited" || c.ExitCode != 0 {
				t.Errorf("%s is %s (exit code %d), want exited with 0: it runs once, before the others", c.Name, c.State, c.ExitCode)
			}
		case c.State != "running" || c.Health != "healthy":
			t.Errorf("%s is %s (health %q), want running and healthy", c.Name, c.State, c.Health)
		}
	}
	for _, s := range append(slices.Clone(securedServices), oneShots...) {
		if seen[s] != 1 {
			t.Errorf("%d containers of %s, want one", seen[s], s)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	awaitPrinterTable(t)

	// The test reads the topics as admin, on the listener published for
	// the host, trusting the CA that kafka-init made.
	ca := filepath.Join(r.dir, "ca.crt")
	compose(t, "cp", "kafka:/etc/kafka/secrets/ca.crt", ca)
	r.kafka = kafkaconn.Config{Brokers: kafkaBrokers(), SecurityProtocol: "sasl_ssl", SASLMechanism: access.Mechanism,
		SASLUsername: "admin", SASLPassword: config.Secret(r.passwords["admin"]), SSLCALocation: ca}

	// Nothing is taken without authentication: a plaintext client gets no
	// answer where the services connect.
	admin, err := kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": kafkaBrokers(), "log_level": 0})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.GetMetadata(nil, true, 5000); err == nil {
		t.Errorf("a plaintext client read the metadata of %s", kafkaBrokers())
	}
}

func kafkaBrokers() string {
	if b := os.Getenv("KAFKA_BROKERS"); b != "" {
		return b
	}
	return "localhost:29092"
}

// exactTotals is the plain run's exact totals, on the secured broker, read
// as admin.
func (r *securedRun) exactTotals(t *testing.T) { exactTotalsFrom(t, r.readAll) }

// readAll reads every committed record of a topic as admin.
func (r *securedRun) readAll(t testing.TB, topic string, timeout time.Duration) []*kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kafka.Message
	err := partition.ReadAll(ctx, partition.Config{Kafka: r.kafka, Client: "compose-test-" + topic, Topic: topic, Messages: true},
		kafka.IsolationLevelReadCommitted, func(rec partition.Record) error {
			out = append(out, rec.Message)
			return nil
		})
	if err != nil {
		t.Fatalf("read %s as admin: %v (%d records read)", topic, err, len(out))
	}
	return out
}

// levelLine is a log line of a service, in the text format of
// docker-compose.yml's LOG_FORMAT.
var levelLine = regexp.MustCompile(`(?m)^.*\blevel=(ERROR|WARN)\b.*$`)

// lackingRight starts the printer as ingest's user, which may write the
// posts but not read the snapshots: it stops at start, in one line that
// names the right.
func (r *securedRun) lackingRight(t *testing.T) {
	t.Setenv("KAFKA_SASL_PASSWORD", r.passwords[access.Ingest]) // -e without a value takes it from here, not from a command line
	args := []string{"compose", "run", "--rm", "--no-deps", "-T", "-e", "KAFKA_SASL_USERNAME=ingest", "-e", "KAFKA_SASL_PASSWORD",
		"-e", "PRINTER_OPS_ADDR=off", "-e", "PRINTER_HTTP_ADDR=off", "printer"}
	t.Logf("docker %s", strings.Join(args, " "))
	cmd := exec.Command(dockerBin(), args...)
	done := make(chan struct{})
	timer := time.AfterFunc(2*time.Minute, func() {
		select {
		case <-done:
		default:
			_ = cmd.Process.Kill()
		}
	})
	out, err := cmd.CombinedOutput()
	close(done)
	timer.Stop()
	r.lackingOut = string(out)
	if err == nil {
		t.Fatalf("the printer ran as ingest's user without the right to read the snapshots:\n%s", tail(string(out), 20))
	}
	want := "kafka: not authorized: User:ingest may not READ topic top-hashtags"
	lines := levelLine.FindAllString(string(out), -1)
	if len(lines) != 1 || !strings.Contains(lines[0], "level=ERROR") || !strings.Contains(lines[0], want) {
		t.Fatalf("want exactly one error or warning line, naming %q; got %d (%v):\n%s", want, len(lines), err, tail(string(out), 20))
	}
	t.Logf("the one line: %s", lines[0])
}

// noPasswordLogged looks for every password in every service's log, the
// one-shots' included, and in the output of the refused start.
func (r *securedRun) noPasswordLogged(t *testing.T) {
	logs := composeOut(t, "logs", "--no-color") + r.lackingOut
	if !strings.Contains(logs, "kafka-init") || !strings.Contains(logs, "grant") {
		t.Fatalf("the logs hold no line of kafka-init or grant:\n%s", tail(logs, 20))
	}
	for user, pw := range r.passwords {
		if strings.Contains(logs, pw) {
			t.Errorf("the password of %s is in the logs", user)
		}
	}
}

// firstErrors are the first n lines of logs that say ERROR or Exception:
// the broker's cause comes long before its shutdown's last lines.
func firstErrors(logs string, n int) []string {
	var out []string
	for line := range strings.Lines(logs) {
		if strings.Contains(line, "ERROR") || strings.Contains(line, "Exception") {
			out = append(out, strings.TrimRight(line, "\n"))
			if len(out) == n {
				break
			}
		}
	}
	return out
}
