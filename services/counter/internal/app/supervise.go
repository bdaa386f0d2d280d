package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/retry"
)

// restartPolicy says how often and how soon a failed stage runs again: at
// most max restarts within period (one more ends the process); the first
// restart at once, each further one after a wait that starts at first and
// doubles up to maxWait. A run that lasted healthy or longer and committed
// a transaction worked: the failures before it no longer count and the
// next restart is at once again, so that a stage that fails once per
// broker restart is not taken for one that cannot start. A run that never
// commits (one that fails on every restore, however long that takes) does
// not clear them, so such a stage ends the process.
type restartPolicy struct {
	max            int
	period         time.Duration
	first, maxWait time.Duration
	healthy        time.Duration
}

// stageRestarts is the counter's policy.
var stageRestarts = restartPolicy{max: 5, period: 10 * time.Minute, first: time.Second, maxWait: 30 * time.Second, healthy: 10 * time.Second}

// supervise runs a stage and, when it fails, runs it again with new
// clients, the way Kafka Streams replaces a task's producer: a fatal
// producer error (a broker restart that timed messages out in an open
// transaction ends in one) or consumer error (a static member fenced under
// its own group.instance.id, which librdkafka brings about after a broker
// restart) then costs a rejoin and a restore instead of the process. The new producer's InitTransactions aborts whatever the old one
// left open and the new consumer starts from the committed offsets, exactly
// as after a restart of the process, so counts stay exact.
//
// It does not restart a stage that was fenced (another live instance has
// the same transactional.id: this one is the zombie), one the cluster
// refused (a missing ACL, a failed authentication: no new client changes
// that), one with a bad setting, or one that failed more often than the
// policy allows: those end the process, for the orchestrator to see.
//
// run is handed a func for the stage to call after each transaction it
// commits.
func supervise(ctx context.Context, log *slog.Logger, pol restartPolicy, stage string, restarted func(), run func(ctx context.Context, committed func()) error) error {
	var failures []time.Time
	var wait time.Duration
	for {
		began := time.Now()
		var worked atomic.Bool
		err := run(ctx, func() { worked.Store(true) })
		if err == nil || ctx.Err() != nil {
			return err
		}
		var ce *config.Error
		if kafkaconn.Fenced(err) || kafkaconn.Denied(err) || errors.As(err, &ce) {
			return err
		}
		now := time.Now()
		if now.Sub(began) >= pol.healthy && worked.Load() {
			failures, wait = failures[:0], 0
		}
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
		wait = min(max(2*wait, pol.first), pol.maxWait)
		restarted()
	}
}
