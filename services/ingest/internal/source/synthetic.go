package source

import (
	"context"
	"log/slog"

	"github.com/hashtrend/hashtrend/pkg/synthetic"
)

// Synthetic emits posts from the seeded generator of package synthetic: the
// demo and benchmark workload. The same seed gives the same posts.
type Synthetic struct {
	Config synthetic.Config
	// Count is the number of posts to emit; zero means no end.
	Count int64
	// Rate is the number of posts per second; zero means as fast as the
	// producer takes them.
	Rate float64

	Metrics *Metrics
	Log     *slog.Logger
}

// Run emits Count posts (or until ctx ends).
func (s *Synthetic) Run(ctx context.Context, emit Emit) error {
	s.Metrics.setConnected(true)
	defer s.Metrics.setConnected(false)
	g := synthetic.New(s.Config)
	pace := newPacer(s.Rate)
	s.Log.Info("generating posts", "seed", s.Config.Seed, "count", s.Count, "rate", s.Rate)
	for i := int64(0); s.Count == 0 || i < s.Count; i++ {
		if err := pace.wait(ctx); err != nil {
			return stopped(ctx, err)
		}
		if err := s.Metrics.emit(ctx, emit, g.Next()); err != nil {
			return stopped(ctx, err)
		}
	}
	return nil
}
