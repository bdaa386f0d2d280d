//go:build outage

package app_test

// The broker-outage trial starts a disposable broker, stops it under a
// running printer and starts it again. It takes a minute or more, so it is
// not part of `make test`: run it with `make printer-outage`
// (go test -tags outage ./internal/app/).

import (
	"context"
	"log/slog"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/topic"
	"github.com/hashtrend/hashtrend/services/printer/internal/app"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// broker runs deploy/kafka/kafka.sh for a broker of its own.
type broker struct {
	t           *testing.T
	port, cport int
	dir         string
}

func (b *broker) sh(cmd string) {
	b.t.Helper()
	c := exec.Command("../../../../deploy/kafka/kafka.sh", cmd)
	c.Env = append(c.Environ(), "KAFKA_PORT="+strconv.Itoa(b.port), "KAFKA_CONTROLLER_PORT="+strconv.Itoa(b.cport), "KAFKA_DATA_DIR="+b.dir)
	if out, err := c.CombinedOutput(); err != nil {
		b.t.Fatalf("kafka.sh %s: %v\n%s", cmd, err, out)
	}
}

func produce(t *testing.T, brokers, name string, values ...[]byte) {
	t.Helper()
	p, err := kafka.NewProducer(&kafka.ConfigMap{"bootstrap.servers": brokers, "enable.idempotence": true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	done := make(chan kafka.Event, len(values))
	for _, v := range values {
		if err := p.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &name, Partition: 0}, Value: v}, done); err != nil {
			t.Fatal(err)
		}
	}
	for range values {
		if m := (<-done).(*kafka.Message); m.TopicPartition.Error != nil {
			t.Fatal(m.TopicPartition.Error)
		}
	}
}

func TestOutlastsTheBrokerGoingAway(t *testing.T) {
	b := &broker{t: t, port: freePort(t), cport: freePort(t), dir: filepath.Join(t.TempDir(), "kafka")}
	b.sh("up")
	t.Cleanup(func() { b.sh("down") })
	brokers := "127.0.0.1:" + strconv.Itoa(b.port)

	const name = "top-hashtags"
	a, err := kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": brokers})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	err = topic.Ensure(ctx, a, topic.Spec{Name: name, Partitions: 1, ReplicationFactor: 1})
	cancel()
	a.Close()
	if err != nil {
		t.Fatal(err)
	}

	cfg := app.Config{
		Kafka: kafkaconn.Config{Brokers: brokers, SecurityProtocol: "plaintext", Replication: 1},
		Topic: name, From: "latest", Format: "table", Truncate: 20, OpsAddr: "off",
	}
	p := &printer{out: &buffer{}, log: &buffer{}, reg: prometheus.NewRegistry()}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Serve(runCtx, cfg, slog.New(slog.NewTextHandler(p.log, &slog.HandlerOptions{Level: slog.LevelDebug})), p.out, p.reg)
	}()
	t.Cleanup(func() { stop(); <-done })

	produce(t, brokers, name, snap(t, 1).Value)
	p.waitBatches(t, 1)

	b.sh("down")
	const gone, back = "broker unreachable; retrying", "broker reachable again"
	waitFor(t, "the printer to notice", func() bool { return strings.Contains(p.log.String(), gone) }, p.dump)
	b.sh("up")
	waitFor(t, "the printer to see the broker back", func() bool { return strings.Contains(p.log.String(), back) }, p.dump)
	produce(t, brokers, name, snap(t, 2).Value, snap(t, 3).Value)
	p.waitBatches(t, 3)
	if got := p.batches(); !equal(got, []int64{1, 2, 3}) {
		t.Fatalf("batches printed %v, want 1..3", got)
	}
	if n, m := strings.Count(p.log.String(), gone), strings.Count(p.log.String(), back); n != 1 || m != 1 {
		t.Fatalf("said %d times that the broker is gone and %d times that it is back, want once each:\n%s", n, m, p.log.String())
	}
}
