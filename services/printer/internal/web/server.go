package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/pkg/ops"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
)

//go:embed page
var page embed.FS

// Server serves the page, its event stream and the JSON endpoint.
type Server struct {
	Addr  string
	Hub   *Hub
	Ready ops.ReadyFunc // for /readyz and the page's status line
	Log   *slog.Logger
	// Heartbeat is how often an open page gets a status event (readiness
	// and the age of the latest snapshot) between snapshots; default 2 s.
	Heartbeat time.Duration
	// WriteTimeout is how long one write to a page may take before the
	// page is dropped (its browser reconnects); default 10 s.
	WriteTimeout time.Duration

	metrics metrics
}

type metrics struct {
	pages   prometheus.GaugeFunc
	dropped prometheus.Counter
}

// Register adds the server's metrics to reg. Call it once, before Run.
func (s *Server) Register(reg prometheus.Registerer) {
	s.metrics = metrics{
		pages: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hashtrend_printer_web_pages", Help: "Pages connected to the event stream."},
			func() float64 { return float64(s.Hub.Pages()) }),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hashtrend_printer_web_pages_dropped_total", Help: "Pages dropped because a write to them took longer than the write timeout."}),
	}
	reg.MustRegister(s.metrics.pages, s.metrics.dropped)
}

// Run listens on Addr and serves until ctx ends; "off" or empty disables
// it (Run then waits for ctx).
func (s *Server) Run(ctx context.Context) error {
	return ops.ListenAndServe(ctx, s.Addr, "web server", s.Handler(), s.Log)
}

// Serve serves on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return ops.Serve(ctx, ln, "web server", s.Handler(), s.Log)
}

// Handler returns the server's routes.
func (s *Server) Handler() http.Handler {
	assets, err := fs.Sub(page, "page")
	if err != nil {
		panic(err) // the embedded folder is part of the binary
	}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", static(assets, "index.html"))
	mux.Handle("GET /app.js", static(assets, "app.js"))
	mux.Handle("GET /style.css", static(assets, "style.css"))
	mux.HandleFunc("GET /events", s.events)
	mux.HandleFunc("GET /api/snapshot", s.snapshot)
	mux.HandleFunc("GET /api/facet", s.facet)
	mux.Handle("GET /healthz", ops.Healthz())
	mux.Handle("GET /readyz", ops.Readyz(s.Ready))
	return secure(mux)
}

// contentSecurity allows the page nothing but its own script, style and
// event stream: even a tag that slipped into the markup could not run.
const contentSecurity = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", contentSecurity)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

func static(assets fs.FS, name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, assets, name)
	})
}

// snapshot answers the latest snapshot in the topic's own schema.
func (s *Server) snapshot(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	v, ok := s.Hub.Latest()
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, `{"error":"no snapshot yet"}`)
		return
	}
	b, err := snapshot.Encode(v.Snapshot)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}

// facet answers the latest lists of the facet named by the name parameter
// in the facets topic's own schema: 400 for a name that is not a facet's
// (or all, whose lists are /api/snapshot's), 404 when the printer has seen
// no lists of it (yet, or any more).
func (s *Server) facet(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	name, err := facet.Parse(r.URL.Query().Get("name"))
	if err == nil && name.IsAll() {
		err = errors.New("all's lists are the snapshot's: /api/snapshot")
	}
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		writeError(w, err.Error())
		return
	}
	f, ok := s.Hub.Facet(name.String())
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		writeError(w, "no lists of "+name.String())
		return
	}
	b, err := snapshot.EncodeFacet(*f)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, msg string) {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	w.Write(append(b, '\n'))
}

// status is the event a page gets on connecting and every heartbeat.
type status struct {
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"` // what the printer waits for
	// AgeMS is the age of the latest snapshot, absent before the first.
	AgeMS *int64 `json:"age_ms,omitempty"`
}

// events streams server-sent events to one page: a status event at once
// and then every heartbeat, and a snapshot event with the latest view at
// once and after each Publish (or new lists of the facet it shows). The
// facet parameter names the facet whose lists the page shows (all when
// absent); a name that is not a facet's is a 400. It returns when the
// page goes away, the server stops, or a write fails or times out.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	shown := facet.All
	if q := r.URL.Query(); q.Has("facet") {
		name, err := facet.Parse(q.Get("facet"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		shown = name.String()
	}
	heartbeat, timeout := s.Heartbeat, s.WriteTimeout
	if heartbeat <= 0 {
		heartbeat = 2 * time.Second
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // a proxy in front must not buffer the stream

	pg := s.Hub.join(shown)
	defer s.Hub.leave(pg)
	rc := http.NewResponseController(w)
	send := func(frame []byte) bool {
		if err := rc.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
			return false
		}
		if _, err := w.Write(frame); err != nil {
			s.drop(r, err)
			return false
		}
		if err := rc.Flush(); err != nil {
			s.drop(r, err)
			return false
		}
		return true
	}
	sendStatus := func() bool { return send(frame("status", "", s.status())) }
	sendView := func() bool {
		v, ok := s.Hub.ViewOf(shown)
		if !ok {
			return true
		}
		return send(frame("snapshot", fmt.Sprint(v.Snapshot.Batch), v))
	}

	// retry: how long the browser waits before it reconnects.
	if !send([]byte("retry: 2000\n\n")) || !sendStatus() || !sendView() {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-pg:
			if !sendView() {
				return
			}
		case <-tick.C:
			if !sendStatus() {
				return
			}
		}
	}
}

// drop counts and reports a page that took longer than the write timeout;
// a page that went away is nothing to report.
func (s *Server) drop(r *http.Request, err error) {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return
	}
	if s.metrics.dropped != nil {
		s.metrics.dropped.Inc()
	}
	if s.Log != nil {
		s.Log.Info("dropping a page that does not keep up", "remote", r.RemoteAddr, "err", err)
	}
}

func (s *Server) status() status {
	var st status
	st.Ready = true
	if s.Ready != nil {
		if err := s.Ready(); err != nil {
			st.Ready, st.Reason = false, err.Error()
		}
	}
	if v, ok := s.Hub.Latest(); ok {
		st.AgeMS = &v.AgeMS
	}
	return st
}

// frame is one server-sent event. JSON has no raw line breaks, so the data
// is one line; encoding/json also escapes <, > and &, so a hashtag cannot
// close anything it is embedded in.
func frame(event, id string, data any) []byte {
	b, err := json.Marshal(data)
	if err != nil {
		b = []byte(`{}`)
	}
	out := make([]byte, 0, len(b)+64)
	out = append(out, "event: "+event+"\n"...)
	if id != "" {
		out = append(out, "id: "+id+"\n"...)
	}
	out = append(out, "data: "...)
	out = append(out, b...)
	return append(out, "\n\n"...)
}
