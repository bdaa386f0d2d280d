package source

import (
	"context"
	"io"
	"log/slog"

	"github.com/hashtrend/hashtrend/pkg/wire"
)

// Stdin reads stream lines from a reader, standard input in the service,
// decoding each as File does; it ends when the input does.
type Stdin struct {
	In      io.Reader
	Metrics *Metrics
	Log     *slog.Logger
}

// Run reads until the input ends or ctx is cancelled. A read blocked on a
// terminal or pipe that never ends is abandoned when ctx ends: Run returns
// and the process exits.
func (s *Stdin) Run(ctx context.Context, emit Emit) error {
	s.Metrics.setConnected(true)
	defer s.Metrics.setConnected(false)
	l := lines{decode: wire.Decode, m: s.Metrics, log: s.Log}
	errc := make(chan error, 1)
	lineCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		errc <- scanLines(lineCtx, s.In, func(line []byte) error {
			_, err := l.handle(lineCtx, emit, line)
			return err
		})
	}()
	select {
	case err := <-errc:
		return stopped(ctx, err)
	case <-ctx.Done():
		return nil
	}
}
