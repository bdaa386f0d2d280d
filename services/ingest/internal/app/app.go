// Package app wires the ingest service: its configuration, metrics and the
// components it runs until the context ends.
//
// The stop order is the point: on SIGINT/SIGTERM the source stops reading
// first; posts already read keep their chance to reach the producer queue
// and everything queued is flushed within INGEST_FLUSH_TIMEOUT; only then
// does the ops server stop, so that /metrics can be scraped to the end. A
// flush that times out makes the process exit non-zero with the number of
// posts that were not confirmed.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"golang.org/x/sync/errgroup"

	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/ops"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/retry"
	"github.com/hashtrend/hashtrend/pkg/service"
	"github.com/hashtrend/hashtrend/pkg/topic"
	"github.com/hashtrend/hashtrend/services/ingest/internal/publish"
	"github.com/hashtrend/hashtrend/services/ingest/internal/source"
)

// Config is every setting of the ingest service. The source's own settings
// are not here: each kind of source has its own struct, with its own
// INGEST_<SOURCE>_* variables (package source), loaded with this one as
// one of its parts.
type Config struct {
	service.Base
	Topics  topic.Names `envconfig:"TOPIC"`
	OpsAddr string      `envconfig:"INGEST_OPS_ADDR" default:":9101" desc:"listen address of /metrics, /healthz and /readyz (off to disable)"`

	Source string `envconfig:"INGEST_SOURCE" default:"synthetic" desc:"where posts come from; the INGEST_<SOURCE>_* variables below are each source's own"`

	FlushTimeout    time.Duration `envconfig:"INGEST_FLUSH_TIMEOUT" default:"30s" desc:"on shutdown, how long to wait for queued posts to be confirmed"`
	Compression     string        `envconfig:"INGEST_COMPRESSION" default:"lz4" desc:"producer compression: none, gzip, snappy, lz4 or zstd"`
	Linger          time.Duration `envconfig:"INGEST_LINGER" default:"5ms" desc:"producer linger: how long to wait to fill a batch"`
	QueueMessages   int           `envconfig:"INGEST_QUEUE_MESSAGES" default:"100000" desc:"producer queue size; a full queue pauses the source"`
	DeliveryTimeout time.Duration `envconfig:"INGEST_DELIVERY_TIMEOUT" default:"0s" desc:"how long the producer retries one post (0: forever, so an outage loses nothing)"`

	// sources holds every kind's settings, by name, in source.Kinds order.
	sources []namedSettings
}

type namedSettings struct {
	name     string
	settings source.Settings
}

// Parts returns every kind of source's settings, for config.Load and -h.
func (c *Config) Parts() []any {
	if c.sources == nil {
		for _, k := range source.Kinds() {
			c.sources = append(c.sources, namedSettings{k.Name, k.Settings()})
		}
	}
	parts := make([]any, len(c.sources))
	for i, s := range c.sources {
		parts[i] = s.settings
	}
	return parts
}

// SourceSettings returns the settings of the source INGEST_SOURCE names,
// nil when it names none.
func (c *Config) SourceSettings() source.Settings {
	c.Parts()
	for _, s := range c.sources {
		if s.name == c.Source {
			return s.settings
		}
	}
	return nil
}

// OpsAddress is where the ops server listens (for the healthcheck).
func (c *Config) OpsAddress() string { return c.OpsAddr }

// Validate checks every setting once, at start: the service's own and
// those of the chosen source.
func (c *Config) Validate() error {
	if err := c.Base.Validate(); err != nil {
		return err
	}
	if err := c.Topics.Validate(); err != nil {
		return err
	}
	switch c.Compression {
	case "none", "gzip", "snappy", "lz4", "zstd":
	default:
		return config.Invalid("INGEST_COMPRESSION", "%q is not none, gzip, snappy, lz4 or zstd", c.Compression)
	}
	if c.FlushTimeout <= 0 {
		return config.Invalid("INGEST_FLUSH_TIMEOUT", "must be positive, got %s", c.FlushTimeout)
	}
	if c.QueueMessages < 1 {
		return config.Invalid("INGEST_QUEUE_MESSAGES", "must be at least 1, got %d", c.QueueMessages)
	}
	if c.Linger < 0 || c.DeliveryTimeout < 0 {
		return config.Invalid("INGEST_LINGER", "durations must not be negative")
	}
	s := c.SourceSettings()
	if s == nil {
		return config.Invalid("INGEST_SOURCE", "%q is not %s", c.Source, source.Names())
	}
	return s.Validate()
}

// Run runs the service until ctx ends or the source does.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	settings := cfg.SourceSettings()
	if settings == nil {
		return config.Invalid("INGEST_SOURCE", "%q is not %s", cfg.Source, source.Names())
	}
	for _, d := range config.Deprecated(settings) {
		log.Warn(d + "; the old name is read for one more release")
	}
	reg := ops.NewRegistry()
	metrics := source.NewMetrics(reg, cfg.Source)
	state := &source.State{}
	pub, err := publish.New(cfg.Kafka, publish.Config{
		Topic: cfg.Topics.Tweets, Compression: cfg.Compression, Linger: cfg.Linger,
		QueueMessages: cfg.QueueMessages, DeliveryTimeout: cfg.DeliveryTimeout, ClientID: "ingest",
	}, reg, log)
	if err != nil {
		return err
	}
	src, err := settings.New(source.Env{Metrics: metrics, State: state, Log: log.With("source", cfg.Source)})
	if err != nil {
		return err
	}
	srv := &ops.Server{Addr: cfg.OpsAddr, Gatherer: reg, Log: log, Ready: func() error {
		if !state.Connected() {
			return errors.New("source not connected")
		}
		return pub.Ready(2 * time.Second)
	}}

	// The ops server outlives the source and the flush.
	opsCtx, stopOps := context.WithCancel(context.WithoutCancel(ctx))
	var g errgroup.Group
	g.Go(func() error { return srv.Run(opsCtx) })
	defer func() { stopOps(); _ = g.Wait() }()

	// read counts the posts the source handed on, for the exit accounting
	// (atomic: a stdin read abandoned at the stop may still be emitting).
	var nRead atomic.Int64
	srcErr := func() error {
		if cfg.Kafka.CreateTopics {
			if err := ensureTopic(ctx, cfg, log); err != nil {
				return err
			}
		}
		// A post already read when the stop comes still gets into the
		// queue: emit outlives ctx by the flush timeout.
		emitCtx, cancelEmit := context.WithCancel(context.WithoutCancel(ctx))
		defer cancelEmit()
		stopEmit := context.AfterFunc(ctx, func() {
			time.AfterFunc(cfg.FlushTimeout, cancelEmit)
		})
		defer stopEmit()
		return src.Run(ctx, func(_ context.Context, p post.Post, _ source.Position) error {
			nRead.Add(1)
			metrics.PostRead()
			return pub.Publish(emitCtx, p)
		})
	}()
	if srcErr != nil && !(errors.Is(srcErr, context.Canceled) && ctx.Err() != nil) {
		log.Error("source failed", "err", srcErr)
	}
	log.Info("flushing", "topic", cfg.Topics.Tweets, "timeout", cfg.FlushTimeout)
	st, flushErr := pub.Close(cfg.FlushTimeout)
	read := nRead.Load()
	log.Info("ingest finished", "topic", cfg.Topics.Tweets, "read", read, "produced", st.Delivered,
		"failed", st.Failed, "unconfirmed", read-st.Delivered)
	switch {
	case flushErr != nil:
		return fmt.Errorf("flush: %w (%d posts read, not confirmed: %d)", flushErr, read, read-st.Delivered)
	case read != st.Delivered:
		return fmt.Errorf("%d of %d posts read were not confirmed", read-st.Delivered, read)
	case srcErr != nil && !errors.Is(srcErr, context.Canceled):
		return srcErr
	}
	return nil
}

// ensureTopic creates the tweets topic when missing, retrying while the
// brokers do not answer (ingest starts before Kafka in some deployments).
func ensureTopic(ctx context.Context, cfg Config, log *slog.Logger) error {
	admin, err := kafka.NewAdminClient(cfg.Kafka.ConfigMap("ingest-admin", nil))
	if err != nil {
		return fmt.Errorf("kafka admin client: %w", err)
	}
	defer admin.Close()
	spec := cfg.Topics.TweetsSpec(cfg.Kafka.Replication)
	return retry.Do(ctx, retry.Policy{Wait: time.Second, MaxWait: 30 * time.Second, Attempt: 30 * time.Second}, func(err error, pause time.Duration) bool {
		if errors.Is(err, topic.ErrMismatch) {
			return false
		}
		log.Warn("cannot create topic yet", "topic", spec.Name, "err", err, "retry_in", pause)
		return true
	}, func(ctx context.Context) error { return topic.Ensure(ctx, admin, spec) })
}
