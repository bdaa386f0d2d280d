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
	"os"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"golang.org/x/sync/errgroup"

	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/ops"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/service"
	"github.com/hashtrend/hashtrend/pkg/synthetic"
	"github.com/hashtrend/hashtrend/pkg/topic"
	"github.com/hashtrend/hashtrend/services/ingest/internal/publish"
	"github.com/hashtrend/hashtrend/services/ingest/internal/source"
)

// Config is every setting of the ingest service.
type Config struct {
	service.Base
	Topics  topic.Names `envconfig:"TOPIC"`
	OpsAddr string      `envconfig:"INGEST_OPS_ADDR" default:":9101" desc:"listen address of /metrics, /healthz and /readyz (off to disable)"`

	Source string  `envconfig:"INGEST_SOURCE" default:"synthetic" desc:"where posts come from: x, twitter, file, stdin or synthetic"`
	Rate   float64 `envconfig:"INGEST_RATE" default:"0" desc:"file and synthetic: posts per second (0: as fast as Kafka takes them)"`

	FlushTimeout    time.Duration `envconfig:"INGEST_FLUSH_TIMEOUT" default:"30s" desc:"on shutdown, how long to wait for queued posts to be confirmed"`
	Compression     string        `envconfig:"INGEST_COMPRESSION" default:"lz4" desc:"producer compression: none, gzip, snappy, lz4 or zstd"`
	Linger          time.Duration `envconfig:"INGEST_LINGER" default:"5ms" desc:"producer linger: how long to wait to fill a batch"`
	QueueMessages   int           `envconfig:"INGEST_QUEUE_MESSAGES" default:"100000" desc:"producer queue size; a full queue pauses the source"`
	DeliveryTimeout time.Duration `envconfig:"INGEST_DELIVERY_TIMEOUT" default:"0s" desc:"how long the producer retries one post (0: forever, so an outage loses nothing)"`

	Files []string `envconfig:"INGEST_FILES" desc:"file: recorded streams to replay, comma separated paths or globs (.json, .jsonl, .gz, .bz2)"`
	Speed float64  `envconfig:"INGEST_SPEED" default:"0" desc:"file: replay at this many times the original pace by created_at (0: use INGEST_RATE)"`
	Loop  bool     `envconfig:"INGEST_LOOP" default:"false" desc:"file: start again after the last file"`

	SyntheticSeed         int64         `envconfig:"INGEST_SYNTHETIC_SEED" default:"1" desc:"synthetic: seed; the same seed gives the same posts"`
	SyntheticCount        int64         `envconfig:"INGEST_SYNTHETIC_COUNT" default:"0" desc:"synthetic: posts to produce, then stop (0: no end)"`
	SyntheticVocabulary   int           `envconfig:"INGEST_SYNTHETIC_VOCABULARY" default:"2000" desc:"synthetic: distinct hashtags"`
	SyntheticSkew         float64       `envconfig:"INGEST_SYNTHETIC_SKEW" default:"1.2" desc:"synthetic: Zipf exponent of hashtag popularity (> 1)"`
	SyntheticTaggedShare  float64       `envconfig:"INGEST_SYNTHETIC_TAGGED_SHARE" default:"0.4" desc:"synthetic: share of posts with hashtags"`
	SyntheticMaxTags      int           `envconfig:"INGEST_SYNTHETIC_MAX_TAGS" default:"4" desc:"synthetic: most hashtags in one post"`
	SyntheticWords        int           `envconfig:"INGEST_SYNTHETIC_WORDS" default:"14" desc:"synthetic: mean words per post"`
	SyntheticLangs        []string      `envconfig:"INGEST_SYNTHETIC_LANGS" default:"en,nl,es,de,ja" desc:"synthetic: languages of the posts"`
	SyntheticRetweetShare float64       `envconfig:"INGEST_SYNTHETIC_RETWEET_SHARE" default:"0.15" desc:"synthetic: share of retweets"`
	SyntheticRising       int           `envconfig:"INGEST_SYNTHETIC_RISING" default:"8" desc:"synthetic: rising hashtags at any time (0: none)"`
	SyntheticDriftEvery   int           `envconfig:"INGEST_SYNTHETIC_DRIFT_EVERY" default:"500" desc:"synthetic: posts between replacements of a rising hashtag"`
	SyntheticStart        string        `envconfig:"INGEST_SYNTHETIC_START" desc:"synthetic: created_at of the first post, RFC 3339, then one step per post (empty: the wall clock)"`
	SyntheticInterval     time.Duration `envconfig:"INGEST_SYNTHETIC_INTERVAL" default:"10ms" desc:"synthetic: created_at step between posts when INGEST_SYNTHETIC_START is set"`

	Track     string `envconfig:"INGEST_TRACK" desc:"x and twitter: terms to track, comma separated (x: one stream rule each)"`
	Follow    string `envconfig:"INGEST_FOLLOW" desc:"twitter: user ids to follow, comma separated"`
	Locations string `envconfig:"INGEST_LOCATIONS" desc:"twitter: bounding boxes, sw-lon,sw-lat,ne-lon,ne-lat[,...]"`
	Language  string `envconfig:"INGEST_LANGUAGE" desc:"twitter: languages, comma separated BCP 47 codes"`

	XBaseURL     string        `envconfig:"INGEST_X_BASE_URL" default:"https://api.x.com" desc:"x: API base URL"`
	XBearerToken config.Secret `envconfig:"INGEST_X_BEARER_TOKEN" desc:"x: app bearer token (never logged)"`
	XRuleTag     string        `envconfig:"INGEST_X_RULE_TAG" default:"hashtrend" desc:"x: tag of the stream rules this service manages"`
	XStall       time.Duration `envconfig:"INGEST_X_STALL" default:"20s" desc:"x: silence after which the stream is reconnected"`

	TwitterBaseURL        string        `envconfig:"INGEST_TWITTER_BASE_URL" default:"https://stream.twitter.com" desc:"twitter: stream API base URL"`
	TwitterConsumerKey    string        `envconfig:"INGEST_TWITTER_CONSUMER_KEY" desc:"twitter: OAuth 1.0a consumer key"`
	TwitterConsumerSecret config.Secret `envconfig:"INGEST_TWITTER_CONSUMER_SECRET" desc:"twitter: OAuth 1.0a consumer secret (never logged)"`
	TwitterAccessToken    config.Secret `envconfig:"INGEST_TWITTER_ACCESS_TOKEN" desc:"twitter: OAuth 1.0a access token (never logged)"`
	TwitterAccessSecret   config.Secret `envconfig:"INGEST_TWITTER_ACCESS_SECRET" desc:"twitter: OAuth 1.0a access token secret (never logged)"`
	TwitterStall          time.Duration `envconfig:"INGEST_TWITTER_STALL" default:"90s" desc:"twitter: silence after which the stream is reconnected"`
}

// OpsAddress is where the ops server listens (for the healthcheck).
func (c *Config) OpsAddress() string { return c.OpsAddr }

// Validate checks every setting once, at start.
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
	if c.Rate < 0 {
		return config.Invalid("INGEST_RATE", "must not be negative, got %g", c.Rate)
	}
	if c.Linger < 0 || c.DeliveryTimeout < 0 {
		return config.Invalid("INGEST_LINGER", "durations must not be negative")
	}
	switch c.Source {
	case "synthetic":
		if c.SyntheticSkew <= 1 {
			return config.Invalid("INGEST_SYNTHETIC_SKEW", "must be greater than 1, got %g", c.SyntheticSkew)
		}
		if c.SyntheticCount < 0 {
			return config.Invalid("INGEST_SYNTHETIC_COUNT", "must not be negative, got %d", c.SyntheticCount)
		}
		if c.SyntheticStart != "" {
			if _, err := time.Parse(time.RFC3339, c.SyntheticStart); err != nil {
				return config.Invalid("INGEST_SYNTHETIC_START", "%q is not RFC 3339", c.SyntheticStart)
			}
		}
	case "file":
		if len(c.Files) == 0 {
			return config.Invalid("INGEST_FILES", "required when INGEST_SOURCE is file")
		}
		if _, err := source.Files(c.Files); err != nil {
			return config.Invalid("INGEST_FILES", "%v", err)
		}
		if c.Speed < 0 {
			return config.Invalid("INGEST_SPEED", "must not be negative, got %g", c.Speed)
		}
	case "stdin":
	case "x":
		if c.XBearerToken == "" {
			return config.Invalid("INGEST_X_BEARER_TOKEN", "required when INGEST_SOURCE is x")
		}
		if strings.TrimSpace(c.Track) == "" {
			return config.Invalid("INGEST_TRACK", "x needs at least one term to make a stream rule of")
		}
		if err := checkURL("INGEST_X_BASE_URL", c.XBaseURL); err != nil {
			return err
		}
		if c.XStall <= 0 {
			return config.Invalid("INGEST_X_STALL", "must be positive, got %s", c.XStall)
		}
	case "twitter":
		for v, s := range map[string]string{
			"INGEST_TWITTER_CONSUMER_KEY":    c.TwitterConsumerKey,
			"INGEST_TWITTER_CONSUMER_SECRET": c.TwitterConsumerSecret.Reveal(),
			"INGEST_TWITTER_ACCESS_TOKEN":    c.TwitterAccessToken.Reveal(),
			"INGEST_TWITTER_ACCESS_SECRET":   c.TwitterAccessSecret.Reveal(),
		} {
			if s == "" {
				return config.Invalid(v, "required when INGEST_SOURCE is twitter")
			}
		}
		if strings.TrimSpace(c.Track+c.Follow+c.Locations) == "" {
			return config.Invalid("INGEST_TRACK", "twitter needs INGEST_TRACK, INGEST_FOLLOW or INGEST_LOCATIONS")
		}
		if err := checkURL("INGEST_TWITTER_BASE_URL", c.TwitterBaseURL); err != nil {
			return err
		}
		if c.TwitterStall <= 0 {
			return config.Invalid("INGEST_TWITTER_STALL", "must be positive, got %s", c.TwitterStall)
		}
	default:
		return config.Invalid("INGEST_SOURCE", "%q is not x, twitter, file, stdin or synthetic", c.Source)
	}
	return nil
}

func checkURL(name, u string) error {
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return config.Invalid(name, "%q is not an http(s) URL", u)
	}
	return nil
}

// newSource builds the configured source.
func newSource(cfg Config, m *source.Metrics, log *slog.Logger) source.Source {
	log = log.With("source", cfg.Source)
	switch cfg.Source {
	case "x":
		var track []string
		for _, t := range strings.Split(cfg.Track, ",") {
			if t = strings.TrimSpace(t); t != "" {
				track = append(track, t)
			}
		}
		return &source.X{BaseURL: cfg.XBaseURL, BearerToken: cfg.XBearerToken, Track: track, RuleTag: cfg.XRuleTag,
			Stall: cfg.XStall, Metrics: m, Log: log}
	case "twitter":
		return &source.Twitter{BaseURL: cfg.TwitterBaseURL, ConsumerKey: cfg.TwitterConsumerKey,
			ConsumerSecret: cfg.TwitterConsumerSecret, AccessToken: cfg.TwitterAccessToken, AccessSecret: cfg.TwitterAccessSecret,
			Track: cfg.Track, Follow: cfg.Follow, Locations: cfg.Locations, Language: cfg.Language,
			Stall: cfg.TwitterStall, Metrics: m, Log: log}
	case "file":
		return &source.File{Paths: cfg.Files, Rate: cfg.Rate, Speed: cfg.Speed, Loop: cfg.Loop, Metrics: m, Log: log}
	case "stdin":
		return &source.Stdin{In: os.Stdin, Metrics: m, Log: log}
	}
	sc := synthetic.Config{
		Seed: cfg.SyntheticSeed, Vocabulary: cfg.SyntheticVocabulary, Skew: cfg.SyntheticSkew,
		TaggedShare: orNone(cfg.SyntheticTaggedShare), MaxTagsPerPost: cfg.SyntheticMaxTags, Words: cfg.SyntheticWords,
		Langs: cfg.SyntheticLangs, RetweetShare: orNone(cfg.SyntheticRetweetShare),
		Rising: cfg.SyntheticRising, DriftEvery: cfg.SyntheticDriftEvery,
		WallClock: cfg.SyntheticStart == "", Interval: cfg.SyntheticInterval,
	}
	if cfg.SyntheticRising == 0 {
		sc.Rising = -1
	}
	if cfg.SyntheticStart != "" {
		sc.Start, _ = time.Parse(time.RFC3339, cfg.SyntheticStart)
	}
	return &source.Synthetic{Config: sc, Count: cfg.SyntheticCount, Rate: cfg.Rate, Metrics: m, Log: log}
}

// orNone maps a configured share of 0 to synthetic's "none" (a negative
// value), since synthetic reads 0 as "default".
func orNone(v float64) float64 {
	if v == 0 {
		return -1
	}
	return v
}

// Run runs the service until ctx ends or the source does.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	reg := ops.NewRegistry()
	metrics := source.NewMetrics(reg, cfg.Source)
	pub, err := publish.New(cfg.Kafka, publish.Config{
		Topic: cfg.Topics.Tweets, Compression: cfg.Compression, Linger: cfg.Linger,
		QueueMessages: cfg.QueueMessages, DeliveryTimeout: cfg.DeliveryTimeout, ClientID: "ingest",
	}, reg, log)
	if err != nil {
		return err
	}
	src := newSource(cfg, metrics, log)
	srv := &ops.Server{Addr: cfg.OpsAddr, Gatherer: reg, Log: log, Ready: func() error {
		if !metrics.Connected() {
			return errors.New("source not connected")
		}
		return pub.Ready(2 * time.Second)
	}}

	// The ops server outlives the source and the flush.
	opsCtx, stopOps := context.WithCancel(context.WithoutCancel(ctx))
	var g errgroup.Group
	g.Go(func() error { return srv.Run(opsCtx) })
	defer func() { stopOps(); _ = g.Wait() }()

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
		return src.Run(ctx, func(_ context.Context, p post.Post) error { return pub.Publish(emitCtx, p) })
	}()
	if srcErr != nil && !(errors.Is(srcErr, context.Canceled) && ctx.Err() != nil) {
		log.Error("source failed", "err", srcErr)
	}
	log.Info("flushing", "topic", cfg.Topics.Tweets, "timeout", cfg.FlushTimeout)
	st, flushErr := pub.Close(cfg.FlushTimeout)
	read := metrics.Read()
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
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := topic.Ensure(tctx, admin, spec)
		cancel()
		if err == nil || errors.Is(err, topic.ErrMismatch) || ctx.Err() != nil {
			return err
		}
		log.Warn("cannot create topic yet", "topic", spec.Name, "err", err, "retry_in", wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
