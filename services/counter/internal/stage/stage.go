// Package stage runs a counter stage: the transactional loop that tally and
// rank share. A Runner owns the stage's clients (a transactional producer
// and a member of the stage's consumer group, package kafkaio) for one run,
// their lifetimes and their stop order; it polls, serves the consumer's
// events, keeps the stage's clock, dispatches the rebalance callback,
// assigns partitions at explicit offsets, and runs each transaction with
// its accounting, rewinding the input after an abort. What is the stage's
// own it supplies through Stage: what to do when partitions are assigned
// or revoked, with each record (or chunk of records), when its clock is
// due, after an abort, and at a stop.
//
// Errors are sorted once: a rebalance callback that fails sets the run's
// fatal error, which Run returns at its next turn; an aborted transaction
// is the stage's Aborted and a rewind; anything else ends the run, and the
// service's supervisor starts the stage again with new clients.
package stage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/services/counter/internal/kafkaio"
	"github.com/hashtrend/hashtrend/services/counter/internal/metrics"
)

// Config is what a runner needs besides its stage.
type Config struct {
	// Name is the stage's: its clients are counter-Name, its
	// transactional.id and group.instance.id Instance-Name, its metrics
	// labelled stage=Name.
	Name           string
	Kafka          kafkaconn.Config
	Instance       string
	Group          string
	Topic          string // the input
	TxnTimeout     time.Duration
	SessionTimeout time.Duration
	StatsInterval  time.Duration
	MaxRecordBytes int
	// Settings adds consumer settings of the stage's own.
	Settings map[string]any
	// MaxWait is the longest the loop waits for records before it looks
	// at the clock and the events again: a rebalance waits for it at most
	// this long.
	MaxWait time.Duration
	// Committed, when set, is called after each committed transaction
	// (the supervisor's sign that a run worked).
	Committed func()
	// Started is what the line logged at the start says besides the topic.
	Started []any
}

// Stage is what a stage supplies to the runner. Every method runs on the
// runner's goroutine: Assigned and Revoked inside the rebalance callback,
// the others from the loop (Aborted inside Commit).
type Stage interface {
	// Assigned is told the partitions newly assigned and returns the
	// offsets to start them at (nil: assign them without, as the stage
	// stops). An error stops the run.
	Assigned(parts []int32) ([]kafkaio.Offset, error)
	// Revoked is told the partitions revoked, or lost (the group moved
	// on; their offsets may no longer be committed by this member). An
	// error stops the run.
	Revoked(parts []int32, lost bool) error
	// Due is called at every turn of the loop and returns when it wants
	// to be called at the latest: the window timer.
	Due(now time.Time) (time.Time, error)
	// Aborted is told why a transaction aborted and returns the offsets to
	// rewind the input to (after it dropped what it built).
	Aborted(cause error) ([]kafkaio.Offset, error)
	// Stop is called once the run's context has ended, before the clients
	// close.
	Stop() error
}

// RecordStage is a stage handed its records one by one.
type RecordStage interface {
	Stage
	Record(r kafkaio.Record) error
}

// ChunkStage is a stage handed its records in chunks, through the batch
// queue: its Read is called at each turn with a func that reads a chunk
// (waiting a little for the first record) and tells whether anything came.
type ChunkStage interface {
	Stage
	Read(read func(*kafkaio.Chunk) bool)
}

// Runner runs a stage; one Runner serves one run (Run once).
type Runner struct {
	cfg Config
	log *slog.Logger
	m   *metrics.Metrics

	ctx     context.Context
	st      Stage
	p       *kafkaio.Producer
	c       *kafkaio.Consumer
	fatal   error // set by the rebalance callback
	closing bool  // the consumer is closing
	joined  atomic.Bool
}

// New returns a runner; Run runs it.
func New(cfg Config, log *slog.Logger, m *metrics.Metrics) *Runner {
	return &Runner{cfg: cfg, log: log, m: m}
}

// Opener is a Stage with something to start once the producer exists,
// while it initialises its transactions (which can take as long as a
// crashed predecessor's transaction holds the coordinator).
type Opener interface{ Opened() }

// Run runs st until ctx ends (then st.Stop) or a fatal error, then closes
// the consumer (whose revoke is served as any other) and the producer.
func (r *Runner) Run(ctx context.Context, st Stage) (err error) {
	cfg := r.cfg
	r.ctx, r.st = ctx, st
	r.p, err = kafkaio.NewProducer(cfg.Kafka, "counter-"+cfg.Name, cfg.Instance+"-"+cfg.Name, cfg.TxnTimeout, cfg.MaxRecordBytes)
	if err != nil {
		return fmt.Errorf("%s producer: %w", cfg.Name, err)
	}
	defer r.p.Close()
	if o, ok := st.(Opener); ok {
		o.Opened()
	}
	if err := r.p.Init(ctx, r.log); err != nil {
		return err
	}
	chunks, batched := st.(ChunkStage)
	records, _ := st.(RecordStage)
	if !batched && records == nil {
		return fmt.Errorf("%s: the stage reads neither records nor chunks", cfg.Name)
	}
	r.c, err = kafkaio.NewConsumer(cfg.Kafka, kafkaio.ConsumerOptions{
		Name: cfg.Name, Group: cfg.Group, Instance: cfg.Instance, Topic: cfg.Topic,
		SessionTimeout: cfg.SessionTimeout, StatsInterval: cfg.StatsInterval, Settings: cfg.Settings,
		Batched: batched,
		Stats:   func(js string) { r.m.ObserveStats(cfg.Name, js) },
	}, r.log)
	if err != nil {
		return err
	}
	defer func() {
		// Closing revokes the partitions, and the stage's Revoked runs
		// once more (a static member stays in the group until its
		// session times out or it joins again).
		r.closing = true
		if cerr := r.c.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("%s consumer close: %w", cfg.Name, cerr)
		}
		if r.fatal != nil && err == nil {
			err = r.fatal
		}
	}()
	if err := r.c.Subscribe(kafkaio.Rebalance{Assigned: r.assigned, Revoked: r.revoked}); err != nil {
		return err
	}
	r.joined.Store(true)
	r.log.Info(cfg.Name+" started", append([]any{"topic", cfg.Topic}, cfg.Started...)...)
	for {
		if r.fatal != nil {
			return r.fatal
		}
		if ctx.Err() != nil {
			return st.Stop()
		}
		due, err := st.Due(time.Now())
		if err != nil {
			return err
		}
		if !batched {
			rec, ok, err := r.c.Poll(r.wait(due))
			if err == nil && ok {
				err = records.Record(rec)
			}
			if err != nil {
				return err
			}
			continue
		}
		if err := r.c.Events(); err != nil {
			return err
		}
		if r.fatal != nil || ctx.Err() != nil {
			// Nothing more is read after a fatal error, nor once
			// stopping: a rebalance that ran meanwhile may have assigned
			// partitions without explicit offsets (AssignAsIs).
			continue
		}
		wait := r.wait(due)
		chunks.Read(func(c *kafkaio.Chunk) bool { return r.c.Read(c, wait) })
	}
}

// wait is how long to wait for records before the next turn.
func (r *Runner) wait(due time.Time) time.Duration {
	return max(min(time.Until(due), r.cfg.MaxWait), time.Millisecond)
}

// Ready is nil once the run's consumer has subscribed.
func (r *Runner) Ready() error {
	if !r.joined.Load() {
		return fmt.Errorf("%s: starting", r.cfg.Name)
	}
	return nil
}

// Producer is the run's producer (from Opened on).
func (r *Runner) Producer() *kafkaio.Producer { return r.p }

// Consumer is the run's consumer (from the first Assigned on).
func (r *Runner) Consumer() *kafkaio.Consumer { return r.c }

// Closing tells whether the consumer is closing: its revoke is the last.
func (r *Runner) Closing() bool { return r.closing }

// assigned runs inside Poll. The stage says where the partitions start
// (committed offsets it asks the consumer for, see
// kafkaio.Consumer.Committed, or offsets it knows better), and they are
// assigned at exactly those offsets, never at offsets librdkafka looks up
// by itself (see kafkaio.Consumer.Assign).
func (r *Runner) assigned(parts []int32) error {
	start, err := r.st.Assigned(parts)
	if err == nil && start != nil {
		if err = r.c.Assign(start); err == nil {
			return nil
		}
	}
	if err != nil && r.ctx.Err() == nil && r.fatal == nil {
		r.fatal = fmt.Errorf("%s: %w", r.cfg.Name, err)
	}
	// Stopping (shutdown or the fatal error just set): assign them as
	// they are so that the rebalance completes; nothing is read after a
	// fatal error, and a shutdown returns before the next record.
	return r.c.AssignAsIs(parts)
}

// revoked runs inside Poll (and Close).
func (r *Runner) revoked(parts []int32, lost bool) error {
	if err := r.st.Revoked(parts, lost); err != nil && r.fatal == nil {
		r.fatal = err
	}
	return r.c.Unassign(parts)
}

// Commit runs one transaction of the stage (kafkaio.Producer.Commit):
// fill produces its records, offsets are the input's offsets it consumes.
// It returns true once committed, false after an abort, the stage's
// Aborted and the rewind of the input to the offsets Aborted returns, or
// the error that ends the run.
func (r *Runner) Commit(offsets []kafkaio.Offset, fill func(p *kafkaio.Producer) error) (bool, error) {
	start := time.Now()
	err := r.p.Commit(r.c, offsets, r.cfg.TxnTimeout, func() error { return fill(r.p) })
	switch {
	case errors.Is(err, kafkaio.ErrAborted):
		r.m.Transactions.WithLabelValues(r.cfg.Name, "aborted").Inc()
		to, err := r.st.Aborted(err)
		if err == nil {
			err = r.c.Seek(to)
		}
		return false, err
	case err != nil:
		return false, err
	}
	r.m.Transactions.WithLabelValues(r.cfg.Name, "committed").Inc()
	if r.cfg.Committed != nil {
		r.cfg.Committed()
	}
	r.m.TxnSeconds.WithLabelValues(r.cfg.Name).Observe(time.Since(start).Seconds())
	return true, nil
}
