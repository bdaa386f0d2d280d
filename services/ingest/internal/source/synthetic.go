package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/synthetic"
)

// SyntheticSettings are the synthetic source's variables.
type SyntheticSettings struct {
	Rate         float64       `envconfig:"INGEST_SYNTHETIC_RATE" default:"0" desc:"synthetic: posts per second (0: as fast as Kafka takes them)"`
	Seed         int64         `envconfig:"INGEST_SYNTHETIC_SEED" default:"1" desc:"synthetic: seed; the same seed gives the same posts"`
	Count        int64         `envconfig:"INGEST_SYNTHETIC_COUNT" default:"0" desc:"synthetic: posts to produce, then stop (0: no end)"`
	Vocabulary   int           `envconfig:"INGEST_SYNTHETIC_VOCABULARY" default:"2000" desc:"synthetic: distinct hashtags"`
	Skew         float64       `envconfig:"INGEST_SYNTHETIC_SKEW" default:"1.2" desc:"synthetic: Zipf exponent of hashtag popularity (> 1)"`
	TaggedShare  float64       `envconfig:"INGEST_SYNTHETIC_TAGGED_SHARE" default:"0.4" desc:"synthetic: share of posts with hashtags"`
	MaxTags      int           `envconfig:"INGEST_SYNTHETIC_MAX_TAGS" default:"4" desc:"synthetic: most hashtags in one post"`
	Words        int           `envconfig:"INGEST_SYNTHETIC_WORDS" default:"14" desc:"synthetic: mean words per post"`
	Langs        []string      `envconfig:"INGEST_SYNTHETIC_LANGS" default:"en,nl,es,de,ja" desc:"synthetic: languages of the posts"`
	RetweetShare float64       `envconfig:"INGEST_SYNTHETIC_RETWEET_SHARE" default:"0.15" desc:"synthetic: share of retweets"`
	Rising       int           `envconfig:"INGEST_SYNTHETIC_RISING" default:"8" desc:"synthetic: rising hashtags at any time (0: none)"`
	DriftEvery   int           `envconfig:"INGEST_SYNTHETIC_DRIFT_EVERY" default:"500" desc:"synthetic: posts between replacements of a rising hashtag"`
	Start        string        `envconfig:"INGEST_SYNTHETIC_START" desc:"synthetic: created_at of the first post, RFC 3339, then one step per post (empty: the wall clock)"`
	Interval     time.Duration `envconfig:"INGEST_SYNTHETIC_INTERVAL" default:"10ms" desc:"synthetic: created_at step between posts when INGEST_SYNTHETIC_START is set"`
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
	return nil
}

// New builds the source.
func (s *SyntheticSettings) New(env Env) (Source, error) {
	sc := synthetic.Config{
		Seed: s.Seed, Vocabulary: s.Vocabulary, Skew: s.Skew,
		TaggedShare: orNone(s.TaggedShare), MaxTagsPerPost: s.MaxTags, Words: s.Words,
		Langs: s.Langs, RetweetShare: orNone(s.RetweetShare),
		Rising: s.Rising, DriftEvery: s.DriftEvery,
		WallClock: s.Start == "", Interval: s.Interval,
	}
	if s.Rising == 0 {
		sc.Rising = -1
	}
	if s.Start != "" {
		sc.Start, _ = time.Parse(time.RFC3339, s.Start)
	}
	return &Synthetic{Config: sc, Count: s.Count, Rate: s.Rate, Env: env}, nil
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
type Synthetic struct {
	Config synthetic.Config
	// Count is the number of posts to emit; zero means no end.
	Count int64
	// Rate is the number of posts per second; zero means as fast as the
	// producer takes them.
	Rate float64

	Env

	from int64 // set by Resume
}

// SyntheticPosition is how many posts a synthetic run has emitted: the
// seeded sequence continues at post Index.
type SyntheticPosition struct {
	Index int64 `json:"index"`
}

// Identity names the sequence: the generator's settings, the count and rate
// left out (a resumed run may produce more, or faster, of the same posts).
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
	s.from = pos.Index
	return nil
}

// Run emits Count posts (or until ctx ends), after the ones of the resumed
// position: the generator runs through those without emitting them.
func (s *Synthetic) Run(ctx context.Context, emit Emit) error {
	s.connected(true)
	defer s.connected(false)
	g := synthetic.New(s.Config)
	for range s.from {
		g.Next()
	}
	pace := newPacer(s.Rate)
	s.Log.Info("generating posts", "seed", s.Config.Seed, "count", s.Count, "rate", s.Rate, "from", s.from)
	for i := s.from; s.Count == 0 || i < s.Count; i++ {
		if err := pace.wait(ctx); err != nil {
			return stopped(ctx, err)
		}
		if err := emit(ctx, g.Next(), SyntheticPosition{Index: i + 1}); err != nil {
			return stopped(ctx, err)
		}
	}
	return nil
}
