// Package ops is the small HTTP server every service runs beside its work:
// /metrics from the service's own Prometheus registry, /healthz (the process
// is alive and serving) and /readyz (the service says it is ready: connected,
// assigned, restored, whatever that means for it).
package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ReadyFunc reports readiness: nil when ready, otherwise why not.
type ReadyFunc func() error

// Server serves the operational endpoints.
type Server struct {
	Addr     string
	Gatherer prometheus.Gatherer
	Ready    ReadyFunc
	Log      *slog.Logger
}

// Handler returns the endpoints' handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Gatherer, promhttp.HandlerOpts{}))
	mux.Handle("GET /healthz", Healthz())
	mux.Handle("GET /readyz", Readyz(s.Ready))
	return mux
}

// Healthz answers "ok" while the process serves at all.
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
}

// Readyz answers "ready" while ready reports nil (or is nil), and 503 with
// the reason otherwise.
func Readyz(ready ReadyFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if ready != nil {
			if err := ready(); err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ready")
	})
}

// Run listens on Addr and serves until ctx ends. An empty Addr (or "off")
// disables the server: Run then waits for ctx and returns nil.
func (s *Server) Run(ctx context.Context) error {
	return ListenAndServe(ctx, s.Addr, "ops server", s.Handler(), s.Log)
}

// Serve serves on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return Serve(ctx, ln, "ops server", s.Handler(), s.Log)
}

// ListenAndServe listens on addr and serves h as Serve does. An empty addr
// (or "off") disables the server: it then waits for ctx and returns nil.
func ListenAndServe(ctx context.Context, addr, name string, h http.Handler, log *slog.Logger) error {
	if addr == "" || addr == "off" {
		<-ctx.Done()
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return Serve(ctx, ln, name, h, log)
}

// Serve serves h on ln until ctx ends, then shuts the server down. Every
// request's context ends with ctx, so long-lived responses (event streams)
// return and the shutdown does not wait for them. name starts its errors
// and its log line.
func Serve(ctx context.Context, ln net.Listener, name string, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	if log != nil {
		log.Info(name+" listening", "addr", ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("%s: %w", name, err)
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shut); err != nil {
			return fmt.Errorf("%s shutdown: %w", name, err)
		}
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
}

// NewRegistry returns a registry with the Go runtime and process collectors,
// the base every service adds its own metrics to.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}
