// Package app wires the counter service: its configuration, metrics and the
// two stages, tally and rank, that every instance runs side by side under
// one errgroup until the context ends or one of them fails.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"golang.org/x/sync/errgroup"

	"github.com/hashtrend/hashtrend/pkg/access"
	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/ops"
	"github.com/hashtrend/hashtrend/pkg/retry"
	"github.com/hashtrend/hashtrend/pkg/service"
	"github.com/hashtrend/hashtrend/pkg/topic"
	"github.com/hashtrend/hashtrend/services/counter/internal/metrics"
	"github.com/hashtrend/hashtrend/services/counter/internal/rank"
	"github.com/hashtrend/hashtrend/services/counter/internal/tally"
	"github.com/hashtrend/hashtrend/services/counter/internal/trend"
)

// Config is every setting of the counter service.
type Config struct {
	service.Base
	Topics         topic.Names   `envconfig:"TOPIC"`
	OpsAddr        string        `envconfig:"COUNTER_OPS_ADDR" default:":9102" desc:"listen address of /metrics, /healthz and /readyz (off to disable)"`
	Instance       string        `envconfig:"COUNTER_INSTANCE_ID" desc:"this instance's stable id, the base of its transactional.ids and static group memberships (default: the hostname); a restarted instance must keep it; letters, digits, '.', '_', '-'"`
	TallyGroup     string        `envconfig:"COUNTER_GROUP_TALLY" default:"counter-tally" desc:"consumer group of the tally stage on the tweets topic"`
	RankGroup      string        `envconfig:"COUNTER_GROUP_RANK" default:"counter-rank" desc:"consumer group of the rank stage on the deltas topic"`
	Window         time.Duration `envconfig:"COUNTER_WINDOW" default:"2s" desc:"window length; windows are aligned to the Unix epoch"`
	Grace          time.Duration `envconfig:"COUNTER_GRACE" default:"500ms" desc:"how long after a window's end rank waits for its deltas before publishing"`
	TopN           int           `envconfig:"COUNTER_TOP_N" default:"10" desc:"entries in each top list of a snapshot"`
	TxnTimeout     time.Duration `envconfig:"COUNTER_TRANSACTION_TIMEOUT" default:"10s" desc:"transaction.timeout.ms: how long an abandoned transaction holds read_committed readers back"`
	SessionTimeout time.Duration `envconfig:"COUNTER_SESSION_TIMEOUT" default:"10s" desc:"consumer group session timeout: how fast a dead member's partitions move"`
	StatsInterval  time.Duration `envconfig:"COUNTER_STATS_INTERVAL" default:"5s" desc:"librdkafka statistics interval, the source of the consumer lag metric"`
	MaxRecordBytes int           `envconfig:"COUNTER_MAX_RECORD_BYTES" default:"4194304" desc:"largest record the counter reads or writes (dead letters keep the original bytes)"`
	RestoreStall   time.Duration `envconfig:"COUNTER_RESTORE_STALL" default:"2m" desc:"a rank restore that reads nothing and moves no closer to its end for this long says where it stands and fails the stage, which starts again with new clients (more than COUNTER_TRANSACTION_TIMEOUT)"`
	DedupeRecords  int           `envconfig:"COUNTER_DEDUPE_RECORDS" default:"100000" desc:"tally skips a post whose id it saw within this many records before it in its partition (0 disables); read again at every assignment"`

	Trending         bool          `envconfig:"COUNTER_TRENDING" default:"true" desc:"add the trending list (distinct authors now against their baseline) to every snapshot"`
	TrendingBucket   time.Duration `envconfig:"COUNTER_TRENDING_BUCKET" default:"1m" desc:"trending: bucket of post time (whole seconds), aligned to the epoch"`
	TrendingLateness time.Duration `envconfig:"COUNTER_TRENDING_LATENESS" default:"1m" desc:"trending: how far behind its partition's newest post a post may be and still count"`
	TrendingRecent   time.Duration `envconfig:"COUNTER_TRENDING_RECENT" default:"10m" desc:"trending: the recent window whose distinct authors are observed (whole buckets)"`
	TrendingBaseline time.Duration `envconfig:"COUNTER_TRENDING_BASELINE" default:"6h" desc:"trending: the history before it that gives the expected authors (whole recent windows)"`
	TrendingMin      int           `envconfig:"COUNTER_TRENDING_MIN" default:"5" desc:"trending: fewest distinct authors in the recent window for a non-zero score"`
	TrendingMinScore float64       `envconfig:"COUNTER_TRENDING_MIN_SCORE" default:"25" desc:"trending: lowest score in the list, above a steady tag's noise (0: any positive score)"`
	TrendingReasons  string        `envconfig:"COUNTER_TRENDING_REASONS" default:"on" desc:"trending: on: each trending tag says why (its most active authors' share, its networks and languages), from a summary of the most active authors tally keeps per tag and bucket; off: the score alone"`
	TrendingHalfLife time.Duration `envconfig:"COUNTER_TRENDING_HALF_LIFE" default:"1h" desc:"trending: half-life of a trending tag's peak score, which keeps it listed as cooling after its burst until the decayed peak falls below the floor (at least COUNTER_TRENDING_BUCKET, at most 24h)"`

	Facets         string `envconfig:"COUNTER_FACETS" default:"on" desc:"on: count every tag by network and language and publish lists per facet; off: the global lists only"`
	FacetLanguages int    `envconfig:"COUNTER_FACET_LANGUAGES" default:"20" desc:"facets: languages with facets of their own, the busiest by posts in the trending recent window of post time; the rest fold into lang:other"`
	FacetBudget    int    `envconfig:"COUNTER_FACET_BUDGET" default:"65536" desc:"facets: most bytes of the snapshot and the facets' records written per window; facets whose lists changed beyond it wait for the next window"`
	FacetTrending  string `envconfig:"COUNTER_FACET_TRENDING" default:"off" desc:"facets: on: a trending list per facet too (with COUNTER_TRENDING; about four times the trending view's memory and half the throughput); off: top lists only"`
}

// rankFacets is rank's facet settings, nil with facets off.
func (c *Config) rankFacets() *rank.Facets {
	if !c.facetsOn() {
		return nil
	}
	return &rank.Facets{PostTime: c.postTime(), Languages: c.FacetLanguages, Topic: c.Topics.Facets, Budget: c.FacetBudget,
		Trending: c.FacetTrending == "on"}
}

// facetsOn tells whether COUNTER_FACETS is on.
func (c *Config) facetsOn() bool { return c.Facets == "on" }

// postTime is the clock of post time the trending view and the language
// fold share: its bucket, lateness and recent window.
func (c *Config) postTime() trend.Config {
	return trend.Config{Bucket: c.TrendingBucket, Lateness: c.TrendingLateness, Recent: c.TrendingRecent,
		Baseline: c.TrendingBaseline, Min: c.TrendingMin, MinScore: c.TrendingMinScore}
}

// facets is the post-time clock of the language fold, nil with facets off.
func (c *Config) facets() *trend.Config {
	if !c.facetsOn() {
		return nil
	}
	tc := c.postTime()
	return &tc
}

// trend is the trending definition, nil when it is off.
func (c *Config) trend() *trend.Config {
	if !c.Trending {
		return nil
	}
	tc := c.postTime()
	return &tc
}

// maxHalfLife bounds the half-life of a trend's peak: a tag that peaked
// at 100 times the floor stays listed for 6.6 half-lives, so a day already
// keeps a burst listed for about a week, long after the counter forgot
// its buckets (the horizon: hours).
const maxHalfLife = 24 * time.Hour

// maxFacetLanguages bounds the languages with facets of their own: each
// has a facet per network, and each facet a record of its lists.
const maxFacetLanguages = 200

// minFacetBudget is the smallest budget per window: a snapshot and a
// few facets' records.
const minFacetBudget = 8 << 10

// maxDedupeRecords bounds the dedupe horizon: about 30 bytes of memory per
// record and partition, and as many records read again at each assignment.
const maxDedupeRecords = 10_000_000

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
	if c.Instance == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			return config.Invalid("COUNTER_INSTANCE_ID", "not set and the hostname is unknown (%v)", err)
		}
		c.Instance = h
	}
	if err := validInstance(c.Instance); err != nil {
		return config.Invalid("COUNTER_INSTANCE_ID", "%v", err)
	}
	switch {
	case c.TallyGroup == "":
		return config.Invalid("COUNTER_GROUP_TALLY", "must not be empty")
	case c.RankGroup == "" || c.RankGroup == c.TallyGroup:
		return config.Invalid("COUNTER_GROUP_RANK", "must be set and differ from COUNTER_GROUP_TALLY")
	case c.Window < 10*time.Millisecond:
		return config.Invalid("COUNTER_WINDOW", "must be at least 10ms, got %s", c.Window)
	case c.Grace < 0 || c.Grace >= c.Window:
		return config.Invalid("COUNTER_GRACE", "must be at least 0 and below COUNTER_WINDOW (%s), got %s", c.Window, c.Grace)
	case c.TopN < 1:
		return config.Invalid("COUNTER_TOP_N", "must be at least 1, got %d", c.TopN)
	case c.TxnTimeout < time.Second || c.TxnTimeout < 2*c.Window:
		return config.Invalid("COUNTER_TRANSACTION_TIMEOUT", "must be at least 1s and twice COUNTER_WINDOW, got %s", c.TxnTimeout)
	case c.RestoreStall <= c.TxnTimeout:
		// A dead predecessor's open transaction holds a restore back
		// until the coordinator aborts it, after that timeout.
		return config.Invalid("COUNTER_RESTORE_STALL", "must be longer than COUNTER_TRANSACTION_TIMEOUT (%s), got %s", c.TxnTimeout, c.RestoreStall)
	case c.SessionTimeout < time.Second:
		return config.Invalid("COUNTER_SESSION_TIMEOUT", "must be at least 1s, got %s", c.SessionTimeout)
	case c.StatsInterval < 0:
		return config.Invalid("COUNTER_STATS_INTERVAL", "must not be negative")
	case c.MaxRecordBytes < 1<<20:
		return config.Invalid("COUNTER_MAX_RECORD_BYTES", "must be at least 1 MiB, got %d", c.MaxRecordBytes)
	case c.DedupeRecords < 0 || c.DedupeRecords > maxDedupeRecords:
		return config.Invalid("COUNTER_DEDUPE_RECORDS", "must be from 0 (off) to %d, got %d", maxDedupeRecords, c.DedupeRecords)
	}
	switch {
	case c.Facets != "on" && c.Facets != "off":
		return config.Invalid("COUNTER_FACETS", "%q is not on or off", c.Facets)
	case c.FacetLanguages < 0 || c.FacetLanguages > maxFacetLanguages:
		return config.Invalid("COUNTER_FACET_LANGUAGES", "must be from 0 to %d, got %d", maxFacetLanguages, c.FacetLanguages)
	case c.FacetTrending != "on" && c.FacetTrending != "off":
		return config.Invalid("COUNTER_FACET_TRENDING", "%q is not on or off", c.FacetTrending)
	case c.TrendingReasons != "on" && c.TrendingReasons != "off":
		return config.Invalid("COUNTER_TRENDING_REASONS", "%q is not on or off", c.TrendingReasons)
	case c.FacetBudget < minFacetBudget:
		return config.Invalid("COUNTER_FACET_BUDGET", "must be at least %d bytes, got %d", minFacetBudget, c.FacetBudget)
	}
	if c.Trending || c.facetsOn() {
		// The language fold keeps time as the trending view does.
		switch {
		case c.TrendingBucket < time.Second || c.TrendingBucket%time.Second != 0:
			return config.Invalid("COUNTER_TRENDING_BUCKET", "must be whole seconds, at least 1s, got %s", c.TrendingBucket)
		case c.TrendingLateness < 0:
			return config.Invalid("COUNTER_TRENDING_LATENESS", "must not be negative, got %s", c.TrendingLateness)
		case c.TrendingRecent < c.TrendingBucket || c.TrendingRecent%c.TrendingBucket != 0:
			return config.Invalid("COUNTER_TRENDING_RECENT", "must be a multiple of COUNTER_TRENDING_BUCKET (%s), got %s", c.TrendingBucket, c.TrendingRecent)
		case c.TrendingBaseline < c.TrendingRecent || c.TrendingBaseline%c.TrendingRecent != 0:
			return config.Invalid("COUNTER_TRENDING_BASELINE", "must be a multiple of COUNTER_TRENDING_RECENT (%s), got %s", c.TrendingRecent, c.TrendingBaseline)
		case c.TrendingMin < 1:
			return config.Invalid("COUNTER_TRENDING_MIN", "must be at least 1, got %d", c.TrendingMin)
		case c.TrendingMinScore < 0:
			return config.Invalid("COUNTER_TRENDING_MIN_SCORE", "must not be negative, got %g", c.TrendingMinScore)
		case c.Trending && (c.TrendingHalfLife < c.TrendingBucket || c.TrendingHalfLife > maxHalfLife):
			return config.Invalid("COUNTER_TRENDING_HALF_LIFE", "must be from COUNTER_TRENDING_BUCKET (%s) to %s, got %s", c.TrendingBucket, maxHalfLife, c.TrendingHalfLife)
		}
	}
	return nil
}

// maxInstance leaves room for the "-tally" and "-rank" suffixes within the
// broker's 249 characters of a group.instance.id.
const maxInstance = 249 - len("-tally")

// validInstance checks an instance id against what the broker takes for a
// group.instance.id (the stages' ids are the instance id plus a suffix).
func validInstance(id string) error {
	if len(id) > maxInstance {
		return fmt.Errorf("%d characters, at most %d", len(id), maxInstance)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("%q has %q: only letters, digits, '.', '_' and '-'", id, r)
		}
	}
	return nil
}

// Run runs the service until ctx ends.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	reg := ops.NewRegistry()
	m := metrics.New(reg)
	log = log.With("instance", cfg.Instance)

	admin, err := cfg.Kafka.NewAdmin("counter-admin", nil)
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	defer admin.Close()
	// A wrong credential or CA stops the counter here, in one line.
	if err := admin.Check(ctx); kafkaconn.Denied(err) {
		return err
	}
	if cfg.Kafka.CreateTopics {
		if err := ensureTopics(ctx, admin, cfg); err != nil {
			return cfg.Kafka.Refused(err, "create the topics it writes")
		}
	}
	if err := checkRights(ctx, admin, cfg, log); err != nil {
		return err
	}
	if tc := cfg.trend(); tc != nil {
		checkRetention(ctx, admin.AdminClient, cfg.Topics.Deltas, *tc, log)
	}

	rc := rank.Config{
		Kafka: cfg.Kafka, Instance: cfg.Instance, Group: cfg.RankGroup,
		Deltas: cfg.Topics.Deltas, Counts: cfg.Topics.Counts, Top: cfg.Topics.Top,
		Window: cfg.Window, Grace: cfg.Grace, TopN: cfg.TopN,
		TxnTimeout: cfg.TxnTimeout, SessionTimeout: cfg.SessionTimeout, StatsInterval: cfg.StatsInterval,
		MaxRecordBytes: cfg.MaxRecordBytes,
		Trending:       cfg.trend(), Tweets: cfg.Topics.Tweets, TweetsPartitions: cfg.Topics.TweetsPartitions,
		Lifecycle:    trend.LifecycleConfig{HalfLife: cfg.TrendingHalfLife},
		RestoreStall: cfg.RestoreStall,
		Facets:       cfg.rankFacets(),
	}
	tc := tally.Config{
		Kafka: cfg.Kafka, Instance: cfg.Instance, Group: cfg.TallyGroup,
		Tweets: cfg.Topics.Tweets, Deltas: cfg.Topics.Deltas, DLQ: cfg.Topics.DLQ,
		Window: cfg.Window, TxnTimeout: cfg.TxnTimeout, SessionTimeout: cfg.SessionTimeout, StatsInterval: cfg.StatsInterval,
		MaxDeltaBytes: 512 << 10, MaxRecordBytes: cfg.MaxRecordBytes, DedupeRecords: cfg.DedupeRecords,
		Trending: cfg.trend(), Facets: cfg.facets(), FacetTrending: cfg.FacetTrending == "on",
		Reasons: cfg.TrendingReasons == "on",
	}
	// Each run of rank is a new Stage with no state; readiness follows the
	// current one (before the first run, one that is not ready).
	var r atomic.Pointer[rank.Stage]
	r.Store(rank.New(rc, log, m))

	// Stop order: a cancelled context makes tally commit its open window,
	// rank stop (its open snapshot's deltas are read again by the next
	// owner; both stay static members until their session times out), and
	// the ops server shut down.
	g, gctx := errgroup.WithContext(ctx)
	srv := &ops.Server{Addr: cfg.OpsAddr, Gatherer: reg, Ready: func() error { return r.Load().Ready() }, Log: log}
	g.Go(func() error { return srv.Run(gctx) })
	g.Go(func() error {
		return supervise(gctx, log, stageRestarts, "tally", func() { m.Restarts.WithLabelValues("tally").Inc() },
			func(ctx context.Context, committed func()) error {
				c := tc
				c.Committed = committed
				return tally.Run(ctx, c, log, m)
			})
	})
	g.Go(func() error {
		return supervise(gctx, log, stageRestarts, "rank", func() { m.Restarts.WithLabelValues("rank").Inc() },
			func(ctx context.Context, committed func()) error {
				c := rc
				c.Committed = committed
				s := rank.New(c, log, m)
				r.Store(s)
				return s.Run(ctx)
			})
	})
	return g.Wait()
}

// checkRetention says, at start, whether the deltas topic keeps its records
// long enough for rank to rebuild the trending buckets from it after a
// restart or a failover: the horizon, plus a bucket and the lateness, and
// the recent window before the last checkpoint of the lifecycles, whose
// scores give the reasons their candidates. When it does not, the
// trending list after a restart lacks the oldest part of the baseline
// (the running totals are not affected); the counter runs on and says so
// in an error line.
func checkRetention(ctx context.Context, admin *kafka.AdminClient, deltas string, tc trend.Config, log *slog.Logger) {
	need := tc.Horizon() + tc.Recent + tc.Bucket + tc.Lateness
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	have, err := topic.Retention(ctx, admin, deltas)
	switch {
	case err != nil:
		log.Warn("trending: cannot check the deltas topic's retention", "topic", deltas, "need", need, "err", err)
	case have >= 0 && have < need:
		log.Error("trending: the deltas topic's retention.ms is shorter than the trending horizon: after a restart or failover "+
			"the trending list misses the oldest baseline until the horizon has passed again; raise retention.ms or shorten COUNTER_TRENDING_BASELINE",
			"topic", deltas, "retention", have, "need", need)
	default:
		log.Info("trending: the deltas topic's retention covers the horizon", "topic", deltas, "retention", have, "need", need)
	}
}

// checkRights asks the cluster whether the counter may do what
// access.Rights says it needs on its topics and groups: a missing right
// stops it here, in one line naming it. When the brokers do not answer
// the question, the counter goes on without the answer (the stages wait
// for the brokers; a right missing then stops the stage that needs it).
func checkRights(ctx context.Context, admin *kafkaconn.Admin, cfg Config, log *slog.Logger) error {
	vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	names := access.Names{Topics: cfg.Topics, TallyGroup: cfg.TallyGroup, RankGroup: cfg.RankGroup, CreateTopics: cfg.Kafka.CreateTopics}
	err := access.Verify(vctx, admin.AdminClient, cfg.Kafka, access.Of(access.Counter, access.Rights(names)))
	if kafkaconn.Denied(err) {
		return err
	}
	if err != nil && ctx.Err() == nil {
		log.Warn("could not check the counter's rights on its topics and groups", "err", err)
	}
	return nil
}

// ensureTopics creates the topics the counter writes. Dead letters keep the
// original bytes, so the DLQ takes records as large as the counter reads.
func ensureTopics(ctx context.Context, admin *kafkaconn.Admin, cfg Config) error {
	n, rf := cfg.Topics, cfg.Kafka.Replication
	dlq := n.DLQSpec(rf)
	dlq.Configs["max.message.bytes"] = fmt.Sprint(cfg.MaxRecordBytes + 64<<10)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	// A topic just created may not be described yet: try again, but never
	// past a wrong cleanup policy.
	specs := []topic.Spec{dlq, n.DeltasSpec(rf), n.CountsSpec(rf), n.TopSpec(rf)}
	if cfg.facetsOn() {
		specs = append(specs, n.FacetsSpec(rf))
	}
	err := retry.Do(ctx, retry.Policy{Wait: 500 * time.Millisecond}, func(err error, _ time.Duration) bool {
		return !errors.Is(err, topic.ErrMismatch) && !kafkaconn.Denied(err)
	}, func(ctx context.Context) error {
		if err := admin.Refusal(); err != nil {
			return err
		}
		return topic.Ensure(ctx, admin.AdminClient, specs...)
	})
	if err != nil {
		return fmt.Errorf("topics: %w", err)
	}
	return nil
}
