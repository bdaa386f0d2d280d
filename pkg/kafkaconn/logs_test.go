package kafkaconn

import (
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/systest"
)

func TestLogLevelFollowsSyslogSeverity(t *testing.T) {
	for sev, want := range map[int]slog.Level{0: slog.LevelError, 3: slog.LevelError, 4: slog.LevelWarn,
		5: slog.LevelInfo, 6: slog.LevelInfo, 7: slog.LevelDebug} {
		if got := LogLevel(sev); got != want {
			t.Errorf("severity %d: %v, want %v", sev, got, want)
		}
	}
}

func TestFailuresTheClientAlsoReportsAreLoggedAtDebug(t *testing.T) {
	for _, tc := range []struct {
		tag   string
		level int
		want  string
	}{
		{"FAIL", 3, "level=DEBUG"},
		{"FATAL", 0, "level=DEBUG"},
		{"TXNERR", 3, "level=DEBUG"},
		{"CONFWARN", 4, "level=WARN"},
		{"ERROR", 3, "level=ERROR"},
	} {
		var out systest.Buffer
		LogEvent(slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})),
			kafka.LogEvent{Name: "c#producer-1", Tag: tc.tag, Level: tc.level, Message: "m"})
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("facility %s, severity %d: %q, want %s", tc.tag, tc.level, out.String(), tc.want)
		}
	}
}

// A client built from ConfigMap, pointed at a port where nothing listens,
// logs its failed connections through slog's default logger, once each, at
// debug (its error event says it to whoever reads the client's events),
// and in the service's format rather than librdkafka's own.
func TestClientLogLinesGoThroughTheServiceLogger(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now

	var out systest.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(prev) })

	// A producer, and an admin client, which confluent-kafka-go would
	// otherwise leave logging to stderr.
	kc := Config{Brokers: addr, SecurityProtocol: "plaintext"}
	p, err := kafka.NewProducer(kc.ConfigMap("logs-test", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	a, err := kc.NewAdmin("logs-test-admin", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "kafka_client=logs-test#") || !strings.Contains(out.String(), "kafka_client=logs-test-admin#") {
		if time.Now().After(deadline) {
			t.Fatalf("no log line of both clients' refused connections within 30 s; logged:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond) // polling the log the forwarder writes
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !strings.Contains(line, "Connection refused") {
			continue
		}
		for _, want := range []string{"level=DEBUG", "facility=FAIL", "kafka_client=logs-test"} {
			if !strings.Contains(line, want) {
				t.Errorf("line %q lacks %q", line, want)
			}
		}
		if strings.Contains(line, "%3|") {
			t.Errorf("line %q is in librdkafka's own format", line)
		}
	}
}
