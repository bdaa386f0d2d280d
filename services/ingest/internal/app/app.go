// Package app wires the ingest service: its configuration, metrics and the
// components it runs until the context ends.
package app

import (
	"context"
	"log/slog"

	"golang.org/x/sync/errgroup"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/logging"
	"github.com/hashtrend/hashtrend/pkg/ops"
)

// Config is every setting of the ingest service.
type Config struct {
	Kafka   kafkaconn.Config `envconfig:"KAFKA"`
	Log     logging.Config   `envconfig:"LOG"`
	OpsAddr string           `envconfig:"INGEST_OPS_ADDR" default:":9101" desc:"listen address of /metrics, /healthz and /readyz (off to disable)"`
}

// Logging returns the log settings.
func (c *Config) Logging() logging.Config { return c.Log }

// Validate checks every setting once, at start.
func (c *Config) Validate() error {
	if err := c.Kafka.Validate(); err != nil {
		return err
	}
	return c.Log.Validate("LOG")
}

// Run runs the service until ctx ends.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	reg := ops.NewRegistry()
	g, ctx := errgroup.WithContext(ctx)
	srv := &ops.Server{Addr: cfg.OpsAddr, Gatherer: reg, Log: log}
	g.Go(func() error { return srv.Run(ctx) })
	return g.Wait()
}
