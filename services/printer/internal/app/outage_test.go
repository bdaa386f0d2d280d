//go:build outage

package app_test

// The broker-outage trial starts a disposable broker, stops it under a
// running printer and starts it again. It takes a minute or more, so it is
// not part of `make test`: run it with `make printer-outage`
// (go test -tags outage ./internal/app/).

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/service"
	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/pkg/topic"
	"github.com/hashtrend/hashtrend/services/printer/internal/app"
)

func TestOutlastsTheBrokerGoingAway(t *testing.T) {
	b := kafkatest.Disposable(t)
	brokers := b.Addr

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
		Base:  service.Base{Kafka: kafkaconn.Config{Brokers: brokers, SecurityProtocol: "plaintext", Replication: 1}},
		Topic: name, From: "latest", Format: "table", Truncate: 20, OpsAddr: "off",
	}
	p := &printer{out: &systest.Buffer{}, log: &systest.Buffer{}, reg: prometheus.NewRegistry()}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Serve(runCtx, cfg, slog.New(slog.NewTextHandler(p.log, &slog.HandlerOptions{Level: slog.LevelDebug})), p.out, p.reg)
	}()
	t.Cleanup(func() { stop(); <-done })

	kafkatest.ProduceTo(t, brokers, name, snap(t, 1))
	p.waitBatches(t, 1)

	b.Stop()
	const gone, back = "broker unreachable; retrying", "broker reachable again"
	systest.Await(t, "the printer to notice", time.Minute, func() bool { return strings.Contains(p.log.String(), gone) }, p.dump)
	b.Start()
	systest.Await(t, "the printer to see the broker back", time.Minute, func() bool { return strings.Contains(p.log.String(), back) }, p.dump)
	kafkatest.ProduceTo(t, brokers, name, snap(t, 2), snap(t, 3))
	p.waitBatches(t, 3)
	if got := p.batches(); !equal(got, []int64{1, 2, 3}) {
		t.Fatalf("batches printed %v, want 1..3", got)
	}
	if n, m := strings.Count(p.log.String(), gone), strings.Count(p.log.String(), back); n != 1 || m != 1 {
		t.Fatalf("said %d times that the broker is gone and %d times that it is back, want once each:\n%s", n, m, p.log.String())
	}
}
