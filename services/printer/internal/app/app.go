// Package app wires the printer service: its configuration, metrics, the
// follower reading top-hashtags, the renderer writing each snapshot to
// standard output and, when PRINTER_HTTP_ADDR is set, the web page showing
// the same snapshots, run until the context ends. With PRINTER_FACET set
// to a facet other than all, the console (or JSON) shows that facet's
// lists instead, followed on the facets topic. The page follows the whole
// facets topic for its picker, whatever PRINTER_FACET says.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/hashtrend/hashtrend/pkg/access"
	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/ops"
	"github.com/hashtrend/hashtrend/pkg/service"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/pkg/topic"
	"github.com/hashtrend/hashtrend/services/printer/internal/follow"
	"github.com/hashtrend/hashtrend/services/printer/internal/render"
	"github.com/hashtrend/hashtrend/services/printer/internal/web"
)

// Config is every setting of the printer service.
type Config struct {
	service.Base
	Topic       string `envconfig:"TOPIC_TOP" default:"top-hashtags" desc:"the snapshots topic to follow"`
	FacetsTopic string `envconfig:"TOPIC_FACETS" default:"hashtag-facets" desc:"the facets' lists topic, followed with PRINTER_FACET"`
	Facet       string `envconfig:"PRINTER_FACET" default:"all" desc:"the facet whose lists the console or JSON shows: all, source:<network>, lang:<language> or source:<network>/lang:<language>, e.g. lang:de, source:bluesky/lang:ja (the page has a picker of its own)"`
	From        string `envconfig:"PRINTER_FROM" default:"latest" desc:"latest: start with the newest snapshot in the topic; beginning: replay them all"`
	Format      string `envconfig:"PRINTER_FORMAT" default:"table" desc:"table (Spark console style) or json (one line per snapshot)"`
	Truncate    int    `envconfig:"PRINTER_TRUNCATE" default:"20" desc:"cut tags wider than this many columns with ... (0: never)"`
	WindowTop   bool   `envconfig:"PRINTER_WINDOW_TOP" default:"false" desc:"also print the window's own top-N table"`
	Trending    bool   `envconfig:"PRINTER_TRENDING" default:"true" desc:"table: print what a snapshot says about trending: the \"trending now\" table when its list has entries, one line while the counter's baseline is still building"`
	OpsAddr     string `envconfig:"PRINTER_OPS_ADDR" default:":9103" desc:"listen address of /metrics, /healthz and /readyz (off to disable)"`
	HTTPAddr    string `envconfig:"PRINTER_HTTP_ADDR" default:"off" desc:"listen address of the live page, its event stream and /api/snapshot, e.g. :8080 (off to disable)"`
	HTTPWindows int    `envconfig:"PRINTER_HTTP_WINDOWS" default:"30" desc:"windows of history in the page's sparklines"`
}

// OpsAddress is where the ops server listens (for the healthcheck).
func (c *Config) OpsAddress() string { return c.OpsAddr }

// Validate checks every setting once, at start.
func (c *Config) Validate() error {
	if err := c.Base.Validate(); err != nil {
		return err
	}
	if c.Topic == "" {
		return config.Invalid("TOPIC_TOP", "must not be empty")
	}
	if _, err := follow.ParseFrom(c.From); err != nil {
		return config.Invalid("PRINTER_FROM", "%v", err)
	}
	if _, err := facet.Parse(c.Facet); err != nil {
		return config.Invalid("PRINTER_FACET", "%v", err)
	}
	if c.FacetsTopic == "" {
		return config.Invalid("TOPIC_FACETS", "must not be empty")
	}
	if c.Format != "table" && c.Format != "json" {
		return config.Invalid("PRINTER_FORMAT", "%q is not table or json", c.Format)
	}
	if err := config.NotNegative("PRINTER_TRUNCATE", c.Truncate); err != nil {
		return err
	}
	if pageOn(c.HTTPAddr) {
		if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
			return config.Invalid("PRINTER_HTTP_ADDR", "%q is not host:port or off", c.HTTPAddr)
		}
		if c.HTTPAddr == c.OpsAddr {
			return config.Invalid("PRINTER_HTTP_ADDR", "%q is PRINTER_OPS_ADDR too; give the page an address of its own", c.HTTPAddr)
		}
	}
	if c.HTTPWindows < 2 || c.HTTPWindows > 1000 {
		return config.Invalid("PRINTER_HTTP_WINDOWS", "must be 2 to 1000, got %d", c.HTTPWindows)
	}
	return nil
}

// pageOn tells whether a PRINTER_HTTP_ADDR asks for the page.
func pageOn(addr string) bool { return addr != "" && addr != "off" }

// Run runs the service until ctx ends, printing to standard output.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	return Serve(ctx, cfg, log, os.Stdout, ops.NewRegistry())
}

// Serve runs the printer until ctx ends: it follows the topic and renders
// every snapshot to out (or, with a facet, every record of the facet's
// lists), with its metrics in reg. cfg must be valid.
func Serve(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer, reg *prometheus.Registry) error {
	from, _ := follow.ParseFrom(cfg.From)
	name, _ := facet.Parse(cfg.Facet)
	var r interface {
		render.Renderer
		render.FacetRenderer
	} = render.Table{Truncate: cfg.Truncate, WindowTop: cfg.WindowTop, Trending: cfg.Trending}
	if cfg.Format == "json" {
		r = render.JSON{}
	}
	if err := checkAccess(ctx, cfg, log); err != nil {
		return err
	}
	m := newMetrics(reg)
	g, ctx := errgroup.WithContext(ctx)
	var hub *web.Hub
	if pageOn(cfg.HTTPAddr) {
		hub = web.NewHub(cfg.HTTPWindows)
	}
	// The snapshots: the console's with the facet all, and the page's.
	var snaps *follow.Follower
	if name.IsAll() || hub != nil {
		snaps = follow.New(follow.Config{Kafka: cfg.Kafka, Topic: cfg.Topic, From: from}, log)
		console := name.IsAll()
		g.Go(func() error {
			return snaps.Run(ctx, func(rec follow.Record) error {
				s, err := snapshot.Decode(rec.Value)
				if err != nil {
					m.undecodable.Inc()
					log.Warn("skipping a record that is not a snapshot", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "err", err)
					return nil
				}
				// The page first, so that whatever the console shows the
				// page already serves.
				if hub != nil {
					hub.Publish(s)
				}
				if !console {
					return nil
				}
				if err := r.Render(out, s); err != nil {
					return err
				}
				m.rendered.Inc()
				m.batch.Set(float64(s.Batch))
				if !s.ProducedAt.IsZero() {
					m.lag.Set(time.Since(s.ProducedAt).Seconds())
				}
				return nil
			})
		})
	}
	// Every facet's lists, for the page's picker: the compacted topic from
	// its beginning holds each facet's latest, whatever PRINTER_FROM says.
	// The page is ready without them (a counter with facets off writes
	// none).
	if hub != nil {
		all := follow.New(follow.Config{Kafka: cfg.Kafka, Topic: cfg.FacetsTopic, From: follow.Beginning}, log.With("for", "page"))
		g.Go(func() error {
			return all.Run(ctx, func(rec follow.Record) error {
				f, ok, err := snapshot.DecodeFacet(rec.Key, rec.Value)
				switch {
				case err != nil:
					if name.IsAll() || string(rec.Key) != name.String() { // else the console's follower counts it
						m.undecodable.Inc()
					}
					log.Warn("the page skips a record that is not a facet's lists", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "err", err)
				case ok:
					hub.PublishFacet(f)
				default:
					hub.RemoveFacet(string(rec.Key))
				}
				return nil
			})
		})
	}
	// The facet's lists, one entry of the compacted facets topic.
	var lists *follow.Follower
	if !name.IsAll() {
		key := name.String()
		lists = follow.New(follow.Config{Kafka: cfg.Kafka, Topic: cfg.FacetsTopic, From: from, Key: []byte(key)}, log.With("facet", key))
		g.Go(func() error {
			return lists.Run(ctx, func(rec follow.Record) error {
				f, ok, err := snapshot.DecodeFacet(rec.Key, rec.Value)
				if err != nil {
					m.undecodable.Inc()
					log.Warn("skipping a record that is not a facet's lists", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "err", err)
					return nil
				}
				if !ok {
					log.Info("the facet has no lists now", "facet", key, "offset", rec.Offset)
					return r.RenderGone(out, key)
				}
				if err := r.RenderFacet(out, f); err != nil {
					return err
				}
				m.rendered.Inc()
				m.batch.Set(float64(f.Batch))
				return nil
			})
		})
	}
	ready := func() error {
		for _, f := range []*follow.Follower{snaps, lists} {
			if f == nil {
				continue
			}
			if err := f.Ready(); err != nil {
				return err
			}
		}
		return nil
	}
	srv := &ops.Server{Addr: cfg.OpsAddr, Gatherer: reg, Ready: ready, Log: log}
	g.Go(func() error { return srv.Run(ctx) })
	if hub != nil {
		page := &web.Server{Addr: cfg.HTTPAddr, Hub: hub, Ready: snaps.Ready, Log: log}
		page.Register(reg)
		g.Go(func() error { return page.Run(ctx) })
	}
	return g.Wait()
}

// checkAccess asks, before the printer follows its topic, whether the
// brokers accept it and whether it may read the topic (access.Rights): a
// wrong credential or CA, or a missing right, stops it here in one line,
// where its follower would otherwise wait for brokers that never answer
// or a topic it cannot see. When no broker answers, the follower's own
// waiting takes over.
func checkAccess(ctx context.Context, cfg Config, log *slog.Logger) error {
	admin, err := cfg.Kafka.NewAdmin("printer-admin", nil)
	if err != nil {
		return fmt.Errorf("kafka admin client: %w", err)
	}
	defer admin.Close()
	err = admin.Check(ctx)
	switch {
	case kafkaconn.Denied(err):
		return err
	case err != nil:
		log.Debug("rights not checked: no broker answers", "err", err)
		return nil
	}
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	names := access.Names{Topics: topic.Names{Top: cfg.Topic, Facets: cfg.FacetsTopic}}
	err = access.Verify(vctx, admin.AdminClient, cfg.Kafka, access.Of(access.Printer, access.Rights(names)))
	if kafkaconn.Denied(err) {
		return err
	}
	if err != nil && ctx.Err() == nil {
		log.Warn("could not check the printer's right to read its topic", "topic", cfg.Topic, "err", err)
	}
	return nil
}

type metrics struct {
	rendered, undecodable prometheus.Counter
	batch, lag            prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) metrics {
	m := metrics{
		rendered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hashtrend_printer_snapshots_rendered_total", Help: "Snapshots (or, with PRINTER_FACET, records of the facet's lists) rendered to the output."}),
		undecodable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hashtrend_printer_snapshots_undecodable_total", Help: "Records of the snapshots (or facets) topic that could not be decoded and were skipped."}),
		batch: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hashtrend_printer_last_batch", Help: "Batch number of the last snapshot rendered (with PRINTER_FACET, of the snapshot the facet's lists were written with)."}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hashtrend_printer_lag_seconds", Help: "Time from the last rendered snapshot's produced_at to its rendering."}),
	}
	reg.MustRegister(m.rendered, m.undecodable, m.batch, m.lag)
	return m
}
