package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/systest"
)

func TestSuperviseRestartsWhatCanBeRestartedAndStopsTheRest(t *testing.T) {
	fatal := fmt.Errorf("rank snapshot 5: send offsets: %w; then: %w",
		kafka.NewError(kafka.ErrMsgTimedOut, "1 message(s) timed out", false),
		kafka.NewError(kafka.ErrInvalidTxnState, "invalid state", true))
	fenced := fmt.Errorf("commit: %w", kafka.NewError(kafka.ErrProducerFenced, "fenced", true))
	refused := fmt.Errorf("tally consumer: %w", &kafkaconn.AccessError{Cause: kafkaconn.CauseAuthorization, Resource: "User:counter may not READ group g",
		Err: kafka.NewError(kafka.ErrGroupAuthorizationFailed, "Group authorization failed", false)})
	pol := restartPolicy{max: 3, period: time.Hour, first: time.Millisecond, maxWait: 2 * time.Millisecond, healthy: time.Hour}
	for _, tc := range []struct {
		name     string
		failures []error // what the runs return before one returns nil
		restarts int
		ok       func(error) bool
	}{
		{"a fatal producer error is followed by a new run", []error{fatal, fatal}, 2, func(err error) bool { return err == nil }},
		{"a fenced stage is not run again", []error{fenced}, 0, func(err error) bool { return errors.Is(err, fenced) }},
		{"a stage the cluster refuses is not run again", []error{refused}, 0, func(err error) bool { return errors.Is(err, refused) }},
		{"a bad setting is not run again", []error{&config.Error{Var: "X", Problem: "bad"}}, 0, func(err error) bool {
			var ce *config.Error
			return errors.As(err, &ce)
		}},
		{"more failures than the policy allows end it", []error{fatal, fatal, fatal, fatal}, 3, func(err error) bool { return errors.Is(err, fatal) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runs, restarts := &systest.Failing{Fails: tc.failures}, 0
			err := supervise(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)), pol, "rank",
				func() { restarts++ },
				func(context.Context, func()) error { return runs.Call() })
			if restarts != tc.restarts {
				t.Errorf("%d restarts, want %d", restarts, tc.restarts)
			}
			if !tc.ok(err) {
				t.Errorf("unexpected outcome: %v", err)
			}
		})
	}
}

func TestSuperviseForgetsFailuresBeforeARunThatWorked(t *testing.T) {
	fatal := kafka.NewError(kafka.ErrFatal, "fenced static member", true)
	pol := restartPolicy{max: 2, period: time.Hour, first: time.Millisecond, maxWait: time.Millisecond, healthy: 50 * time.Millisecond}
	// Two quick failures, one after a run that worked, one quick one
	// again: never more than the policy's two since a run that worked.
	// The third run is long; commits says whether it committed.
	run := func(commits bool) (restarts int, err error) {
		runs := 0
		err = supervise(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)), pol, "rank",
			func() { restarts++ },
			func(_ context.Context, committed func()) error {
				runs++
				switch {
				case runs == 3:
					time.Sleep(60 * time.Millisecond)
					if commits {
						committed()
					}
					return fatal
				case runs <= 4:
					return fatal
				}
				return nil
			})
		return restarts, err
	}
	if restarts, err := run(true); err != nil || restarts != 4 {
		t.Fatalf("%d restarts, outcome %v; want 4 and nil", restarts, err)
	}
	// A long run that committed nothing (a restore that fails every time,
	// however long it takes) did not work: the same four failures end it.
	if restarts, err := run(false); !errors.Is(err, fatal) || restarts != 2 {
		t.Fatalf("%d restarts, outcome %v; want 2 and the failure", restarts, err)
	}
}

func TestSuperviseStopsWaitingWhenTheServiceStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pol := restartPolicy{max: 10, period: time.Hour, first: time.Hour, maxWait: time.Hour}
	err := supervise(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), pol, "tally", func() {},
		func(context.Context, func()) error { cancel(); return errors.New("failed while stopping") })
	if err == nil {
		t.Fatal("the run's own error was dropped on shutdown")
	}
}
