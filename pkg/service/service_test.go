package service_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/logging"
	"github.com/hashtrend/hashtrend/pkg/service"
)

type cfg struct {
	Log   logging.Config `envconfig:"LOG"`
	Count int            `envconfig:"DEMO_COUNT" default:"1" desc:"how many"`
	Ops   string         `envconfig:"DEMO_OPS_ADDR" default:"off" desc:"ops server"`
}

func (c *cfg) Logging() logging.Config { return c.Log }
func (c *cfg) OpsAddress() string      { return c.Ops }
func (c *cfg) Validate() error         { return c.Log.Validate("LOG") }

func TestRunExitCodes(t *testing.T) {
	ok := func(context.Context, *slog.Logger) error { return nil }
	for _, tc := range []struct {
		name     string
		env      map[string]string
		args     []string
		run      service.RunFunc
		code     int
		stderrHa string
		stdoutHa string
	}{
		{name: "a clean run exits 0", run: ok, code: 0},
		{name: "-h prints the variables and exits 0", args: []string{"-h"}, run: ok, code: 0, stdoutHa: "DEMO_COUNT"},
		{name: "a bad value exits 2 naming the variable", env: map[string]string{"DEMO_COUNT": "many"}, run: ok, code: 2, stderrHa: "demo: bad configuration: DEMO_COUNT: "},
		{name: "a failed validation exits 2 naming the variable", env: map[string]string{"LOG_FORMAT": "xml"}, run: ok, code: 2, stderrHa: "LOG_FORMAT: \"xml\" is not text or json"},
		{name: "a run error exits 1", run: func(context.Context, *slog.Logger) error { return errors.New("boom") }, code: 1, stderrHa: "boom"},
		{name: "a config error found while running exits 2", run: func(context.Context, *slog.Logger) error { return config.Invalid("DEMO_COUNT", "too big") }, code: 2, stderrHa: "DEMO_COUNT: too big"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var out, errb bytes.Buffer
			code := service.Run("demo", &cfg{}, tc.args, &out, &errb, tc.run)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, errb.String())
			}
			if !strings.Contains(errb.String(), tc.stderrHa) || !strings.Contains(out.String(), tc.stdoutHa) {
				t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
			}
			if tc.code == 2 && tc.env != nil && strings.Count(strings.TrimSpace(errb.String()), "\n") != 0 {
				t.Fatalf("config error is not one line: %q", errb.String())
			}
		})
	}
}

func TestHealthcheckAsksTheRunningService(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	}))
	t.Setenv("DEMO_OPS_ADDR", ":"+srv.URL[strings.LastIndex(srv.URL, ":")+1:])
	var out, errb bytes.Buffer
	never := func(context.Context, *slog.Logger) error { t.Fatal("healthcheck ran the service"); return nil }
	if code := service.Run("demo", &cfg{}, []string{"healthcheck"}, &out, &errb, never); code != 0 {
		t.Fatalf("healthcheck of a healthy service: exit %d: %s", code, errb.String())
	}
	srv.Close()
	if code := service.Run("demo", &cfg{}, []string{"healthcheck"}, &out, &errb, never); code != 1 {
		t.Fatalf("healthcheck of a stopped service: exit %d, want 1", code)
	}
	t.Setenv("DEMO_OPS_ADDR", "off")
	errb.Reset()
	if code := service.Run("demo", &cfg{}, []string{"healthcheck"}, &out, &errb, never); code != 1 || !strings.Contains(errb.String(), "the ops server is off") {
		t.Fatalf("healthcheck with the ops server off: exit %d, stderr %q; want 1 and a line saying so", code, errb.String())
	}
}
