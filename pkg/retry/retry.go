// Package retry is the one way the services try an operation again: Do
// calls it until it succeeds, fails for good or the context ends, pausing
// between attempts as a Policy says (a fixed pause, or one that doubles up
// to a ceiling). Sleep is its context-aware pause, for loops that wait on
// something other than an operation's error. What counts as worth another
// try stays with the caller (kafkaconn.Classify for Kafka's errors).
package retry

import (
	"context"
	"fmt"
	"time"
)

// Policy says how Do paces its attempts.
type Policy struct {
	// Wait is the pause after the first failure.
	Wait time.Duration
	// MaxWait is the ceiling the pause doubles up to; at or below Wait,
	// every pause is Wait.
	MaxWait time.Duration
	// Attempt bounds one attempt (0: only the context bounds it).
	Attempt time.Duration
}

// Do calls op until it returns nil, then returns nil. After a failure it
// asks again(err, pause): false returns err as it is; true pauses and
// tries again (again is where a caller logs the failure and the pause).
// Once ctx ends Do returns ctx's error wrapped with the last failure, so
// that errors.Is and errors.As see both.
func Do(ctx context.Context, p Policy, again func(err error, pause time.Duration) bool, op func(ctx context.Context) error) error {
	pause := p.Wait
	for {
		err := attempt(ctx, p.Attempt, op)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w; last attempt: %w", ctx.Err(), err)
		}
		if !again(err, pause) {
			return err
		}
		if Sleep(ctx, pause) != nil {
			return fmt.Errorf("%w; last attempt: %w", ctx.Err(), err)
		}
		pause = min(2*pause, max(p.MaxWait, p.Wait))
	}
}

func attempt(ctx context.Context, bound time.Duration, op func(context.Context) error) error {
	if bound <= 0 {
		return op(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	return op(ctx)
}

// Always is the again of Do for operations whose every failure is worth
// another try.
func Always(error, time.Duration) bool { return true }

// Sleep pauses for d or until ctx ends, and returns ctx's error if it
// ended first (or had already ended, whatever d).
func Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
