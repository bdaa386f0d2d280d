package publish

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/services/ingest/internal/positions"
)

// Resumer is a source that can start again after a committed position
// (source.Resumable, as the sink needs it).
type Resumer interface {
	Resume(at json.RawMessage) error
}

// SinkConfig are the sink's settings.
type SinkConfig struct {
	// Txn are the transactions' settings; nil runs the plain idempotent
	// producer of Producer instead.
	Txn      *TxnConfig
	Producer Config
	// Beginning starts a resumable source over instead of after its
	// committed position (INGEST_FROM=beginning).
	Beginning bool
	// FlushTimeout is how long, after a stop signal, posts handed over
	// get to be confirmed.
	FlushTimeout time.Duration
}

// producer is Txn or Publisher, as the sink uses them.
type producer interface {
	Publish(ctx context.Context, p post.Post, at any) error
	Ready(timeout time.Duration) error
	Flush(ctx context.Context) error
	Close() Stats
}

// Sink is where ingest hands a source's posts: the producer (Txn, or
// Publisher without transactions) and what depends on which one it is and
// on whether the source resumes: initialising the transactions and
// resuming the source at its committed position (Start), the ticker that
// commits a transaction once it is old enough, how long a post read at the
// stop still gets to reach the producer (Publish), and the final flush and
// the accounting of what was read against what was confirmed (Finish).
type Sink struct {
	cfg     SinkConfig
	kc      kafkaconn.Config
	pub     producer
	txn     *Txn    // nil without transactions
	resume  Resumer // nil unless transactions carry the source's position
	log     *slog.Logger
	read    atomic.Int64
	publish context.Context // Publish's: it outlives the run by the grace
	stop    []func()
}

// NewSink connects the producer; r is the source when it can resume, nil
// otherwise. Metrics are registered on reg.
func NewSink(kc kafkaconn.Config, cfg SinkConfig, r Resumer, reg prometheus.Registerer, log *slog.Logger) (*Sink, error) {
	s := &Sink{cfg: cfg, kc: kc, log: log, publish: context.Background()}
	if cfg.Txn == nil {
		pub, err := New(kc, cfg.Producer, reg, log)
		if err != nil {
			return nil, err
		}
		s.pub = pub
		return s, nil
	}
	tc := *cfg.Txn
	tc.Config = cfg.Producer
	if r == nil {
		tc.PositionKey = ""
	}
	txn, err := NewTxn(kc, tc, reg, log)
	if err != nil {
		return nil, err
	}
	s.pub, s.txn, s.cfg.Txn = txn, txn, &tc
	if r != nil {
		s.resume = r
	}
	return s, nil
}

// Resumes reports whether a post that is not committed is read again by
// the next start: the transactions carry the source's position.
func (s *Sink) Resumes() bool { return s.resume != nil }

// Start readies the sink for a run that lasts as long as ctx: it
// initialises the transactions (which fences an earlier instance with the
// same transactional id), resumes the source after its committed position
// and starts committing on time. A post already read when ctx ends still
// gets into the producer for the flush timeout, except where the source
// resumes from its committed position anyway.
func (s *Sink) Start(ctx context.Context) error {
	grace := s.cfg.FlushTimeout
	if s.Resumes() {
		grace = 0
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stopGrace := context.AfterFunc(ctx, func() { time.AfterFunc(grace, cancel) })
	s.publish = pctx
	s.stop = append(s.stop, func() { stopGrace(); cancel() })
	if s.txn == nil {
		return nil
	}
	if err := s.txn.Init(ctx); err != nil {
		return err
	}
	if err := s.resumeSource(ctx); err != nil {
		return err
	}
	s.stop = append(s.stop, s.commitOnTicks(ctx))
	return nil
}

// resumeSource hands the source its committed position, if any.
func (s *Sink) resumeSource(ctx context.Context) error {
	if s.resume == nil {
		return nil
	}
	key := s.cfg.Txn.PositionKey
	if s.cfg.Beginning {
		s.log.Warn("INGEST_FROM=beginning: starting over; the committed position is replaced at the first commit", "key", key)
		return nil
	}
	rec, found, err := positions.Read(ctx, s.kc, s.cfg.Txn.PositionsTopic, key, s.log)
	if err != nil {
		return fmt.Errorf("read the committed position: %w", err)
	}
	if !found {
		s.log.Info("no committed position: starting at the beginning of the input", "key", key)
		return nil
	}
	if err := s.resume.Resume(rec.At); err != nil {
		return fmt.Errorf("resume: %w (INGEST_FROM=beginning starts over)", err)
	}
	s.txn.Resumed(rec.Posts)
	s.log.Info("resuming at the committed position", "key", key, "at", string(rec.At), "posts_before", rec.Posts,
		"committed_at", rec.CommittedAt)
	return nil
}

// commitOnTicks commits the open transaction once it is older than the
// commit interval, until the returned stop is called.
func (s *Sink) commitOnTicks(ctx context.Context) (stop func()) {
	tctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(max(s.cfg.Txn.CommitInterval/4, 10*time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-tctx.Done():
				return
			case <-tick.C:
				// An error is the publisher's too: the next Publish returns it.
				_ = s.txn.Due(tctx)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// Publish hands p on, with at, the source's position after it; it counts
// p as read. It blocks while the producer has no room or a commit waits.
func (s *Sink) Publish(p post.Post, at any) error {
	s.read.Add(1)
	return s.pub.Publish(s.publish, p, at)
}

// Ready reports whether the brokers answer.
func (s *Sink) Ready(timeout time.Duration) error { return s.pub.Ready(timeout) }

// Finish ends the run: it stops the commit ticker, confirms what was
// handed over (ended: the input ended, so it waits as long as the brokers
// are away, until ctx ends; otherwise for the flush timeout, or not at all
// for a resumable source whose brokers do not answer), closes the
// producer and logs the accounting. The error says how many posts read
// were not confirmed, unless the next start reads them again.
func (s *Sink) Finish(ctx context.Context, ended bool) error {
	for i := len(s.stop) - 1; i >= 0; i-- {
		s.stop[i]()
	}
	flushErr := s.flush(ctx, ended)
	st := s.pub.Close()
	read := s.read.Load()
	unconfirmed := read - st.Delivered
	s.log.Info("ingest finished", "topic", s.cfg.Producer.Topic, "read", read, "produced", st.Delivered,
		"failed", st.Failed, "unconfirmed", unconfirmed)
	switch {
	case unconfirmed > 0 && s.Resumes():
		// Not lost: the committed position is before them.
		s.log.Warn("posts not committed; the next start reads them again", "posts", unconfirmed)
	case flushErr != nil:
		return fmt.Errorf("flush: %w (%d posts read, not confirmed: %d)", flushErr, read, unconfirmed)
	case unconfirmed != 0:
		return fmt.Errorf("%d of %d posts read were not confirmed", unconfirmed, read)
	}
	return nil
}

// flush confirms what was handed over, by the policy Finish describes.
func (s *Sink) flush(ctx context.Context, ended bool) error {
	fctx := ctx
	switch {
	case ended:
		s.log.Info("input ended; waiting for every post to be confirmed", "topic", s.cfg.Producer.Topic)
	case s.Resumes() && s.pub.Ready(2*time.Second) != nil:
		s.log.Warn("brokers away at the stop: the open transaction is not committed; the next start resumes at the committed position")
		return nil
	default:
		s.log.Info("flushing", "topic", s.cfg.Producer.Topic, "timeout", s.cfg.FlushTimeout)
		var cancel context.CancelFunc
		fctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), s.cfg.FlushTimeout)
		defer cancel()
	}
	return s.pub.Flush(fctx)
}
