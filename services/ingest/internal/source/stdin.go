package source

import (
	"context"
	"io"
	"os"

	"github.com/hashtrend/hashtrend/pkg/wire"
)

// StdinSettings are the stdin source's variables: it has none.
type StdinSettings struct{}

// Validate checks the settings.
func (s *StdinSettings) Validate() error { return nil }

// New builds the source, reading the process's standard input.
func (s *StdinSettings) New(env Env) (Source, error) { return &Stdin{In: os.Stdin, Env: env}, nil }

// Stdin reads stream lines from a reader, standard input in the service,
// decoding each as File does; it ends when the input does.
type Stdin struct {
	In io.Reader
	Env
}

// Run reads until the input ends or ctx is cancelled. A read blocked on a
// terminal or pipe that never ends is abandoned when ctx ends: Run returns
// and the process exits.
func (s *Stdin) Run(ctx context.Context, emit Emit) error {
	s.connected(true)
	defer s.connected(false)
	l := lines{decode: wire.Decode, m: s.Metrics, log: s.Log}
	errc := make(chan error, 1)
	lineCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		errc <- scanLines(lineCtx, s.In, func(line []byte, _ int) error {
			_, err := l.handle(lineCtx, emit, line, nil)
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
