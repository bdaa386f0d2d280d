package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/synthetic"
)

// SyntheticSettings are the synthetic source's variables. Their defaults
// are the demo's stream: three imitated networks, a few very active
// accounts, a hashtag beginning to rise every 10 minutes, three flooders.
type SyntheticSettings struct {
	Rate         float64       `envconfig:"INGEST_SYNTHETIC_RATE" default:"0" desc:"synthetic: posts per second (0: as fast as Kafka takes them)"`
	Seed         int64         `envconfig:"INGEST_SYNTHETIC_SEED" default:"1" desc:"synthetic: seed; the same seed gives the same posts"`
	Count        int64         `envconfig:"INGEST_SYNTHETIC_COUNT" default:"0" desc:"synthetic: posts to produce, then stop (0: no end)"`
	Vocabulary   int           `envconfig:"INGEST_SYNTHETIC_VOCABULARY" default:"2000" desc:"synthetic: distinct hashtags"`
	Skew         float64       `envconfig:"INGEST_SYNTHETIC_SKEW" default:"1.2" desc:"synthetic: Zipf exponent of hashtag popularity (> 1)"`
	TaggedShare  float64       `envconfig:"INGEST_SYNTHETIC_TAGGED_SHARE" default:"0.4" desc:"synthetic: share of posts with hashtags"`
	MaxTags      int           `envconfig:"INGEST_SYNTHETIC_MAX_TAGS" default:"4" desc:"synthetic: most hashtags in one post"`
	Words        int           `envconfig:"INGEST_SYNTHETIC_WORDS" default:"14" desc:"synthetic: mean words per post"`
	Langs        []string      `envconfig:"INGEST_SYNTHETIC_LANGS" default:"en,de,es,fr,ja,nl,pt" desc:"synthetic: languages of the posts, one per account (en, de, es, fr, ja, nl, pt have word lists)"`
	RetweetShare float64       `envconfig:"INGEST_SYNTHETIC_RETWEET_SHARE" default:"0.15" desc:"synthetic: share of retweets"`
	Networks     []string      `envconfig:"INGEST_SYNTHETIC_NETWORKS" default:"bluesky,mastodon,x" desc:"synthetic: imitated networks, one per account, each post's source (empty: source synthetic)"`
	Authors      int           `envconfig:"INGEST_SYNTHETIC_AUTHORS" default:"50000" desc:"synthetic: accounts"`
	AuthorSkew   float64       `envconfig:"INGEST_SYNTHETIC_AUTHOR_SKEW" default:"1.2" desc:"synthetic: Zipf exponent of how many posts each account writes (> 1; 0: all alike)"`
	RiseEvery    time.Duration `envconfig:"INGEST_SYNTHETIC_RISE_EVERY" default:"10m" desc:"synthetic: post time between the starts of two rising hashtags, in turn everywhere, in one language, on one network (0: none)"`
	RiseFor      time.Duration `envconfig:"INGEST_SYNTHETIC_RISE_FOR" default:"40m" desc:"synthetic: how long in post time a hashtag rises and falls again"`
	Flooders     int           `envconfig:"INGEST_SYNTHETIC_FLOODERS" default:"3" desc:"synthetic: accounts that each post one hashtag of their own over and over, in turn"`
	Rising       int           `envconfig:"INGEST_SYNTHETIC_RISING" default:"0" desc:"synthetic: old-style rising hashtags, drawn more often and replaced every INGEST_SYNTHETIC_DRIFT_EVERY posts (0: none)"`
	DriftEvery   int           `envconfig:"INGEST_SYNTHETIC_DRIFT_EVERY" default:"500" desc:"synthetic: posts between replacements of an old-style rising hashtag"`
	Start        string        `envconfig:"INGEST_SYNTHETIC_START" desc:"synthetic: created_at of the first post, RFC 3339, then one step per post (empty: the wall clock)"`
	Interval     time.Duration `envconfig:"INGEST_SYNTHETIC_INTERVAL" default:"10ms" desc:"synthetic: created_at step between posts when INGEST_SYNTHETIC_START is set; with the wall clock, the step of post time the rises are counted in when INGEST_SYNTHETIC_RATE is 0"`
	History      time.Duration `envconfig:"INGEST_SYNTHETIC_HISTORY" default:"0" desc:"synthetic: on a first start, begin this far back in post time and write up to now as fast as Kafka takes it, then go on at the rate (0: none; needs INGEST_SYNTHETIC_RATE and the wall clock; a run with INGEST_SYNTHETIC_COUNT has none)"`
}

// Renames lists the old names still accepted.
func (s *SyntheticSettings) Renames() map[string]string {
	return map[string]string{"INGEST_RATE": "INGEST_SYNTHETIC_RATE"}
}

// Validate checks the settings.
func (s *SyntheticSettings) Validate() error {
	if err := config.NotNegative("INGEST_SYNTHETIC_RATE", s.Rate); err != nil {
		return err
	}
	if s.Skew <= 1 {
		return config.Invalid("INGEST_SYNTHETIC_SKEW", "must be greater than 1, got %g", s.Skew)
	}
	if err := config.NotNegative("INGEST_SYNTHETIC_COUNT", s.Count); err != nil {
		return err
	}
	if s.Start != "" {
		if _, err := time.Parse(time.RFC3339, s.Start); err != nil {
			return config.Invalid("INGEST_SYNTHETIC_START", "%q is not RFC 3339", s.Start)
		}
	}
	for i, n := range s.Networks {
		if n == "" || strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			return config.Invalid("INGEST_SYNTHETIC_NETWORKS", "%q is not a network name: lowercase letters and digits", n)
		}
		if slices.Contains(s.Networks[:i], n) {
			return config.Invalid("INGEST_SYNTHETIC_NETWORKS", "names %s twice", n)
		}
	}
	if s.AuthorSkew != 0 && s.AuthorSkew <= 1 {
		return config.Invalid("INGEST_SYNTHETIC_AUTHOR_SKEW", "must be 0 or greater than 1, got %g", s.AuthorSkew)
	}
	if err := config.First(
		config.AtLeast("INGEST_SYNTHETIC_AUTHORS", s.Authors, 1),
		config.NotNegative("INGEST_SYNTHETIC_RISE_EVERY", s.RiseEvery),
		config.NotNegative("INGEST_SYNTHETIC_RISE_FOR", s.RiseFor),
		config.NotNegative("INGEST_SYNTHETIC_FLOODERS", s.Flooders),
		config.NotNegative("INGEST_SYNTHETIC_HISTORY", s.History),
	); err != nil {
		return err
	}
	if s.History > 0 && s.Count == 0 {
		switch {
		case s.Rate == 0:
			return config.Invalid("INGEST_SYNTHETIC_HISTORY", "needs INGEST_SYNTHETIC_RATE: the history has as many posts per second of post time as the live stream")
		case s.Start != "":
			return config.Invalid("INGEST_SYNTHETIC_HISTORY", "needs the wall clock: leave INGEST_SYNTHETIC_START empty")
		}
	}
	return nil
}

// New builds the source.
func (s *SyntheticSettings) New(env Env) (Source, error) {
	sc := synthetic.Config{
		Seed: s.Seed, Vocabulary: s.Vocabulary, Skew: s.Skew,
		TaggedShare: orNone(s.TaggedShare), MaxTagsPerPost: s.MaxTags, Words: s.Words,
		Langs: s.Langs, RetweetShare: orNone(s.RetweetShare),
		Networks: s.Networks, Authors: s.Authors, AuthorSkew: s.AuthorSkew,
		RiseEvery: s.RiseEvery, RiseFor: s.RiseFor, Flooders: s.Flooders,
		Rising: s.Rising, DriftEvery: s.DriftEvery,
		WallClock: s.Start == "", Interval: s.Interval,
	}
	if s.Rising == 0 {
		sc.Rising = -1
	}
	if s.Start != "" {
		sc.Start, _ = time.Parse(time.RFC3339, s.Start)
	}
	return &Synthetic{Config: sc, Count: s.Count, Rate: s.Rate, History: s.History, Env: env}, nil
}

// orNone maps a configured share of 0 to synthetic's "none" (a negative
// value), since synthetic reads 0 as "default".
func orNone(v float64) float64 {
	if v == 0 {
		return -1
	}
	return v
}

// Synthetic emits posts from the seeded generator of package synthetic: the
// demo and benchmark workload. The same seed gives the same posts.
//
// With the wall clock and a rate, the generator's step of post time is
// one post at the rate, so that its scheduled rises last as long in post
// time as configured. With History, a first start (no position committed)
// writes a history first: post i is created at now − History + i steps,
// written as fast as the producer takes it, until the next step would be
// now; the posts after it are stamped with the wall clock as they are
// paced at the rate. So post time never goes back, and the rises of the
// history and of the live part follow one schedule.
type Synthetic struct {
	Config synthetic.Config
	// Count is the number of posts to emit; zero means no end.
	Count int64
	// Rate is the number of posts per second; zero means as fast as the
	// producer takes them.
	Rate float64
	// History is how far back in post time a first start begins (zero:
	// none). It needs Config.WallClock and a Rate, and is ignored with a
	// Count.
	History time.Duration
	// Now is the clock that stamps the posts with Config.WallClock
	// (default time.Now).
	Now func() time.Time

	Env

	from      int64     // set by Resume
	historyAt time.Time // set by Resume inside the history: the next post's time
}

// SyntheticPosition is how many posts a synthetic run has emitted: the
// seeded sequence continues at post Index. Inside a history, History is
// the created_at of the next history post.
type SyntheticPosition struct {
	Index   int64     `json:"index"`
	History time.Time `json:"history,omitzero"`
}

// Identity names the sequence: the generator's settings, the count, rate
// and history left out (a resumed run may produce more, or faster, of the
// same posts; with another rate its later rises follow the new rate).
func (s *Synthetic) Identity() string {
	c := s.Config
	sum := sha256.Sum256(fmt.Appendf(nil, "%+v", c))
	return fmt.Sprintf("synthetic:seed=%d:%x", c.Seed, sum[:6])
}

// Resume makes the next Run continue after at, a SyntheticPosition.
func (s *Synthetic) Resume(at json.RawMessage) error {
	var pos SyntheticPosition
	dec := json.NewDecoder(bytes.NewReader(at))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pos); err != nil || pos.Index < 0 {
		return fmt.Errorf("synthetic position %s: not a post index (%v)", at, err)
	}
	s.from, s.historyAt = pos.Index, pos.History
	return nil
}

// Run emits Count posts (or until ctx ends), after the ones of the resumed
// position: the generator runs through those without emitting them.
func (s *Synthetic) Run(ctx context.Context, emit Emit) error {
	s.connected(true)
	defer s.connected(false)
	cfg := s.Config
	if cfg.WallClock && s.Rate > 0 {
		cfg.Interval = time.Duration(float64(time.Second) / s.Rate)
	}
	g := synthetic.New(cfg)
	for range s.from {
		g.NextAt(time.Time{}) // the same posts whatever their time
	}
	history := s.History > 0 && s.Count == 0 && cfg.WallClock && s.Rate > 0 && (s.from == 0 || !s.historyAt.IsZero())
	s.Log.Info("generating posts", "seed", s.Config.Seed, "count", s.Count, "rate", s.Rate, "from", s.from, "history", history)
	i := s.from
	if history {
		var err error
		if i, err = s.history(ctx, g, cfg.Interval, i, emit); err != nil {
			return stopped(ctx, err)
		}
	}
	pace := newPacer(s.Rate)
	for ; s.Count == 0 || i < s.Count; i++ {
		if err := pace.wait(ctx); err != nil {
			return stopped(ctx, err)
		}
		var p post.Post
		if cfg.WallClock {
			p = g.NextAt(s.now().UTC().Truncate(time.Millisecond))
		} else {
			p = g.Next()
		}
		if err := emit(ctx, p, SyntheticPosition{Index: i + 1}); err != nil {
			return stopped(ctx, err)
		}
	}
	return nil
}

// history emits post i and the next ones one step of post time apart,
// from History before now (or where a resumed history stopped) until the
// next step would be now, and returns the index of the first live post.
func (s *Synthetic) history(ctx context.Context, g *synthetic.Generator, step time.Duration, i int64, emit Emit) (int64, error) {
	began := time.Now()
	at := s.historyAt
	if at.IsZero() {
		at = s.now().Add(-s.History)
	}
	from, n := at, 0
	for ; at.Before(s.now()); i++ {
		next := at.Add(step)
		if err := emit(ctx, g.NextAt(at.UTC().Truncate(time.Millisecond)), SyntheticPosition{Index: i + 1, History: next.UTC()}); err != nil {
			return i, err
		}
		at, n = next, n+1
	}
	s.Log.Info("history written", "posts", n, "from", from.UTC().Truncate(time.Millisecond),
		"to", at.Add(-step).UTC().Truncate(time.Millisecond), "took", time.Since(began).Round(time.Millisecond))
	return i, nil
}

func (s *Synthetic) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
