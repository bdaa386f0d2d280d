package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/retry"
)

// restartPolicy says how often and how soon a failed stage runs again: at
// most max restarts within period (one more ends the process), after a wait
// that starts at first and doubles up to maxWait.
type restartPolicy struct {
	max            int
	period         time.Duration
	first, maxWait time.Duration
}

// stageRestarts is the counter's policy.
var stageRestarts = restartPolicy{max: 5, period: 10 * time.Minute, first: time.Second, maxWait: 30 * time.Second}

// supervise runs a stage and, when it fails, runs it again with new
// clients, the way Kafka Streams replaces a task's producer: a fatal
// producer error (a broker restart that timed messages out in an open
// transaction ends in one) then costs a rejoin and a restore instead of the
// process. The new producer's InitTransactions aborts whatever the old one
// left open and the new consumer starts from the committed offsets, exactly
// as after a restart of the process, so counts stay exact.
//
// It does not restart a stage that was fenced (another live instance has
// the same transactional.id: this one is the zombie), one with a bad
// setting, or one that failed more often than the policy allows: those
// end the process, for the orchestrator to see.
func supervise(ctx context.Context, log *slog.Logger, pol restartPolicy, stage string, restarted func(), run func(context.Context) error) error {
	var failures []time.Time
	wait := pol.first
	for {
		err := run(ctx)
		if err == nil || ctx.Err() != nil {
			return err
		}
		var ce *config.Error
		if kafkaconn.Fenced(err) || errors.As(err, &ce) {
			return err
		}
		now := time.Now()
		recent := failures[:0]
		for _, t := range failures {
			if now.Sub(t) < pol.period {
				recent = append(recent, t)
			}
		}
		failures = append(recent, now)
		if len(failures) > pol.max {
			return fmt.Errorf("%s failed %d times within %s, last: %w", stage, len(failures), pol.period, err)
		}
		log.Error("stage failed; starting it again with new clients", "stage", stage, "err", err, "in", wait)
		if retry.Sleep(ctx, wait) != nil {
			return nil
		}
		wait = min(2*wait, pol.maxWait)
		restarted()
	}
}
