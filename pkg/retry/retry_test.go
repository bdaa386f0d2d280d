package retry_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/retry"
	"github.com/hashtrend/hashtrend/pkg/systest"
)

var errBusy = errors.New("busy")

type permanent struct{ error }

func TestDo(t *testing.T) {
	tests := []struct {
		name      string
		fails     []error // what op returns on each attempt, then nil
		policy    retry.Policy
		wantErr   error
		attempts  int
		wantPause []time.Duration
	}{
		{"a first success returns at once", nil, retry.Policy{Wait: time.Millisecond}, nil, 1, nil},
		{"failures are tried again until one succeeds", []error{errBusy, errBusy, errBusy}, retry.Policy{Wait: time.Millisecond},
			nil, 4, []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}},
		{"the pause doubles up to its ceiling", []error{errBusy, errBusy, errBusy, errBusy}, retry.Policy{Wait: time.Millisecond, MaxWait: 5 * time.Millisecond},
			nil, 5, []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 5 * time.Millisecond}},
		{"an error again refuses is returned as it is", []error{errBusy, permanent{errBusy}}, retry.Policy{Wait: time.Millisecond},
			permanent{errBusy}, 2, []time.Duration{time.Millisecond, time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pauses []time.Duration
			again := func(err error, pause time.Duration) bool {
				pauses = append(pauses, pause)
				var p permanent
				return !errors.As(err, &p)
			}
			op := &systest.Failing{Fails: tt.fails}
			err := retry.Do(context.Background(), tt.policy, again, func(context.Context) error { return op.Call() })
			if err != tt.wantErr {
				t.Errorf("Do = %v, want %v", err, tt.wantErr)
			}
			if op.Calls != tt.attempts {
				t.Errorf("%d attempts, want %d", op.Calls, tt.attempts)
			}
			if !slices.Equal(pauses, tt.wantPause) {
				t.Errorf("pauses %v, want %v", pauses, tt.wantPause)
			}
		})
	}
}

func TestDoEndsWithTheContextAndKeepsTheLastFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := retry.Do(ctx, retry.Policy{Wait: time.Hour}, func(error, time.Duration) bool {
		cancel() // ends the pause of an hour
		return true
	}, func(context.Context) error { n++; return errBusy })
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errBusy) || n != 1 {
		t.Fatalf("Do = %v after %d attempts, want one attempt and an error that is both context.Canceled and the failure", err, n)
	}
}

func TestEachAttemptHasItsOwnBound(t *testing.T) {
	n := 0
	err := retry.Do(context.Background(), retry.Policy{Wait: time.Millisecond, Attempt: 20 * time.Millisecond}, retry.Always, func(ctx context.Context) error {
		if n++; n < 3 {
			<-ctx.Done() // an attempt that hangs ends at its bound
			return ctx.Err()
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("Do = %v after %d attempts, want nil after 3", err, n)
	}
}

func TestSleep(t *testing.T) {
	if err := retry.Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("a pause that ran out: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := retry.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("a pause in an ended context: %v, want context.Canceled", err)
	}
	if err := retry.Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("no pause in an ended context: %v, want context.Canceled", err)
	}
}
