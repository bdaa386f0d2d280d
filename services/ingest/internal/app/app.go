// Package app wires the ingest service: its configuration, metrics and the
// parts it runs until the context ends: the source (package source), the
// sink it hands posts to (publish.Sink, which owns the transactions, the
// resume, the commit ticker and the flush) and the ops server.
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
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hashtrend/hashtrend/pkg/access"
	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/ops"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/retry"
	"github.com/hashtrend/hashtrend/pkg/service"
	"github.com/hashtrend/hashtrend/pkg/topic"
	"github.com/hashtrend/hashtrend/services/ingest/internal/positions"
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

	Transactions       bool          `envconfig:"INGEST_TRANSACTIONS" default:"true" desc:"write posts in transactions with the source's position (false: a plain idempotent producer, for clusters without transactions)"`
	TransactionalID    string        `envconfig:"INGEST_TRANSACTIONAL_ID" desc:"transactional.id, stable per instance (default: derived from the source's input and the topic)"`
	CommitInterval     time.Duration `envconfig:"INGEST_COMMIT_INTERVAL" default:"200ms" desc:"commit a transaction this long after its first post at the latest"`
	CommitPosts        int           `envconfig:"INGEST_COMMIT_POSTS" default:"10000" desc:"commit a transaction once it holds this many posts"`
	TransactionTimeout time.Duration `envconfig:"INGEST_TRANSACTION_TIMEOUT" default:"60s" desc:"how long the broker keeps a transaction of a dead ingest open before aborting it"`
	From               string        `envconfig:"INGEST_FROM" default:"committed" desc:"where a resumable source starts: committed (after its committed position) or beginning"`
	FlushTimeout       time.Duration `envconfig:"INGEST_FLUSH_TIMEOUT" default:"30s" desc:"after a stop signal, how long to wait for posts to be confirmed (the end of the input waits as long as it takes)"`
	Compression        string        `envconfig:"INGEST_COMPRESSION" default:"lz4" desc:"producer compression: none, gzip, snappy, lz4 or zstd"`
	Linger             time.Duration `envconfig:"INGEST_LINGER" default:"5ms" desc:"producer linger: how long to wait to fill a batch"`
	QueueMessages      int           `envconfig:"INGEST_QUEUE_MESSAGES" default:"100000" desc:"producer queue size; a full queue pauses the source"`
	DeliveryTimeout    time.Duration `envconfig:"INGEST_DELIVERY_TIMEOUT" default:"0s" desc:"how long the producer retries one post (0: forever, so an outage loses nothing)"`

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
	if err := config.First(
		config.Positive("INGEST_FLUSH_TIMEOUT", c.FlushTimeout),
		config.AtLeast("INGEST_QUEUE_MESSAGES", c.QueueMessages, 1),
		config.Positive("INGEST_COMMIT_INTERVAL", c.CommitInterval),
		config.AtLeast("INGEST_COMMIT_POSTS", c.CommitPosts, 1),
		config.AtLeast("INGEST_TRANSACTION_TIMEOUT", c.TransactionTimeout, time.Second),
	); err != nil {
		return err
	}
	if c.From != "committed" && c.From != "beginning" {
		return config.Invalid("INGEST_FROM", "%q is not committed or beginning", c.From)
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
	src, err := settings.New(source.Env{Metrics: metrics, State: state, Log: log.With("source", cfg.Source)})
	if err != nil {
		return err
	}
	resumable, _ := src.(source.Resumable)
	var sinkp atomic.Pointer[publish.Sink] // set once the brokers have accepted ingest
	srv := &ops.Server{Addr: cfg.OpsAddr, Gatherer: reg, Log: log, Ready: func() error {
		if !state.Connected() {
			return errors.New("source not connected")
		}
		sink := sinkp.Load()
		if sink == nil {
			return errors.New("kafka not prepared yet")
		}
		return sink.Ready(2 * time.Second)
	}}

	// The ops server outlives the source and the flush.
	opsCtx, stopOps := context.WithCancel(context.WithoutCancel(ctx))
	var g errgroup.Group
	g.Go(func() error { return srv.Run(opsCtx) })
	defer func() { stopOps(); _ = g.Wait() }()

	// The brokers first: a refusal stops ingest here, in one line, before
	// any client of its own starts to connect.
	if err := prepare(ctx, cfg, log); err != nil {
		return err
	}
	sink, err := publish.NewSink(cfg.Kafka, sinkConfig(cfg, resumable), resumable, reg, log)
	if err != nil {
		return err
	}
	sinkp.Store(sink)
	if err := sink.Start(ctx); err != nil {
		_ = sink.Finish(ctx, false) // nothing was read: it closes the producer
		return err
	}
	srcErr := src.Run(ctx, func(_ context.Context, p post.Post, at source.Position) error {
		metrics.PostRead()
		return sink.Publish(p, at)
	})
	stoppedBySignal := ctx.Err() != nil
	if srcErr != nil && !(errors.Is(srcErr, context.Canceled) && stoppedBySignal) {
		log.Error("source failed", "err", srcErr)
	}
	if err := sink.Finish(ctx, srcErr == nil && !stoppedBySignal); err != nil {
		return err
	}
	if srcErr != nil && !errors.Is(srcErr, context.Canceled) {
		return srcErr
	}
	return nil
}

// sinkConfig is the sink's part of cfg, for the source r (nil when it
// cannot resume).
func sinkConfig(cfg Config, r source.Resumable) publish.SinkConfig {
	sc := publish.SinkConfig{
		Producer: publish.Config{Topic: cfg.Topics.Tweets, Compression: cfg.Compression, Linger: cfg.Linger,
			QueueMessages: cfg.QueueMessages, DeliveryTimeout: cfg.DeliveryTimeout, ClientID: "ingest"},
		Beginning:    cfg.From == "beginning",
		FlushTimeout: cfg.FlushTimeout,
	}
	if cfg.Transactions {
		key, tid := identities(cfg, r)
		sc.Txn = &publish.TxnConfig{TransactionalID: tid, TransactionTimeout: cfg.TransactionTimeout,
			CommitInterval: cfg.CommitInterval, CommitPosts: cfg.CommitPosts,
			PositionsTopic: cfg.Topics.Positions, PositionKey: key, Source: cfg.Source}
	}
	return sc
}

// identities returns the key of the source's position record and the
// transactional id: INGEST_TRANSACTIONAL_ID, or one derived from the key,
// so that an ingest restarted on the same input into the same topic
// fences its predecessor.
func identities(cfg Config, r source.Resumable) (key, tid string) {
	id := cfg.Source
	if r != nil {
		id = r.Identity()
	}
	key = positions.Key(id, cfg.Topics.Tweets)
	if cfg.TransactionalID != "" {
		return key, cfg.TransactionalID
	}
	sum := sha256.Sum256([]byte(key))
	return key, fmt.Sprintf("ingest-%s-%x", cfg.Source, sum[:8])
}

// prepare readies the cluster for the first post: it checks that the
// brokers accept ingest (a wrong credential or CA stops it here, in one
// line), creates the tweets and positions topics when missing, retrying
// while the brokers do not answer (ingest starts before Kafka in some
// deployments), and asks whether ingest may do on them what
// access.Rights says it needs (a missing right stops it here too; its
// transactional id is tried by the first transaction's initialisation).
func prepare(ctx context.Context, cfg Config, log *slog.Logger) error {
	admin, err := cfg.Kafka.NewAdmin("ingest-admin", nil)
	if err != nil {
		return fmt.Errorf("kafka admin client: %w", err)
	}
	defer admin.Close()
	if err := admin.Check(ctx); kafkaconn.Denied(err) {
		return err
	}
	if cfg.Kafka.CreateTopics {
		if err := ensureTopics(ctx, cfg, admin, log); err != nil {
			return cfg.Kafka.Refused(err, "create the topics it writes")
		}
	}
	vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	names := access.Names{Topics: cfg.Topics, IngestTransactions: cfg.Transactions, IngestTransactionalID: cfg.TransactionalID,
		CreateTopics: cfg.Kafka.CreateTopics}
	err = access.Verify(vctx, admin.AdminClient, cfg.Kafka, access.Of(access.Ingest, access.Rights(names)))
	if kafkaconn.Denied(err) {
		return err
	}
	if err != nil && ctx.Err() == nil {
		log.Warn("could not check ingest's rights on its topics", "err", err)
	}
	return nil
}

// ensureTopics creates the tweets and positions topics when missing,
// retrying while the brokers do not answer, but not past a refusal.
func ensureTopics(ctx context.Context, cfg Config, admin *kafkaconn.Admin, log *slog.Logger) error {
	specs := []topic.Spec{cfg.Topics.TweetsSpec(cfg.Kafka.Replication)}
	if cfg.Transactions {
		specs = append(specs, cfg.Topics.PositionsSpec(cfg.Kafka.Replication))
	}
	return retry.Do(ctx, retry.Policy{Wait: time.Second, MaxWait: 30 * time.Second, Attempt: 30 * time.Second}, func(err error, pause time.Duration) bool {
		if errors.Is(err, topic.ErrMismatch) || kafkaconn.Denied(err) {
			return false
		}
		log.Warn("cannot create topics yet", "topic", specs[0].Name, "err", err, "retry_in", pause)
		return true
	}, func(ctx context.Context) error {
		if err := admin.Refusal(); err != nil {
			return err
		}
		return topic.Ensure(ctx, admin.AdminClient, specs...)
	})
}
