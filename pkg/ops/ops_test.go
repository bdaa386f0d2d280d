package ops_test

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashtrend/hashtrend/pkg/ops"
	"github.com/hashtrend/hashtrend/pkg/systest"
)

func TestServerServesMetricsHealthAndReadiness(t *testing.T) {
	reg := ops.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "hashtrend_test_things_total", Help: "things"})
	reg.MustRegister(c)
	c.Add(3)
	var ready atomic.Bool
	srv := &ops.Server{Gatherer: reg, Ready: func() error {
		if !ready.Load() {
			return errors.New("not restored yet")
		}
		return nil
	}}
	addr, stop := systest.Serve(t, "Serve", srv.Serve)
	base := "http://" + addr

	if resp, body := systest.Get(t, base+"/metrics"); resp.StatusCode != 200 || !strings.Contains(body, "hashtrend_test_things_total 3") || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics: %d\n%s", resp.StatusCode, body)
	}
	if resp, _ := systest.Get(t, base+"/healthz"); resp.StatusCode != 200 {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
	if resp, body := systest.Get(t, base+"/readyz"); resp.StatusCode != 503 || !strings.Contains(body, "not restored yet") {
		t.Fatalf("/readyz before ready: %d %q", resp.StatusCode, body)
	}
	ready.Store(true)
	if resp, _ := systest.Get(t, base+"/readyz"); resp.StatusCode != 200 {
		t.Fatalf("/readyz after ready: %d", resp.StatusCode)
	}
	stop()
}
