package publish

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/retry"
	"github.com/hashtrend/hashtrend/services/ingest/internal/positions"
)

// TxnConfig are the transactional publisher's settings.
type TxnConfig struct {
	Config
	// TransactionalID is stable per ingest instance: a restarted instance
	// fences its predecessor and ends its open transaction.
	TransactionalID string
	// TransactionTimeout is how long the broker lets a transaction stay
	// open before it aborts it (a crashed ingest's open transaction holds
	// read_committed readers back for that long).
	TransactionTimeout time.Duration
	// CommitInterval and CommitPosts end a transaction: whichever comes
	// first, the time since its first post or its number of posts.
	CommitInterval time.Duration
	CommitPosts    int
	// PositionsTopic and PositionKey name where each transaction records
	// the source's position; an empty key writes none (sources that cannot
	// resume). Source names the source kind in the record.
	PositionsTopic string
	PositionKey    string
	Source         string
}

// Txn writes posts in Kafka transactions: each holds up to CommitPosts
// posts or CommitInterval of them and, for a resumable source, one record
// of the source's position after its last post, in the positions topic.
// A post is confirmed when its transaction commits. A commit waits for the
// brokers for as long as its context allows, retrying; a transaction that
// the client has to abort (its records timed out during a long outage) is
// aborted and its posts, kept until the commit, are produced again in a new
// one: nothing handed to Publish is dropped while the process lives.
//
// Publish and Commit may be called from different goroutines; they take
// turns. A commit in progress blocks Publish, which is what holds the
// source back while the brokers are away.
type Txn struct {
	cfg  TxnConfig
	kc   kafkaconn.Config
	prod atomic.Pointer[kafka.Producer]
	log  *slog.Logger
	m    txnMetrics
	done chan struct{} // the current producer's event goroutine has ended
	run  string        // this run's random id, in the position records

	mu         sync.Mutex
	open       bool
	committing bool // a commit was asked for and has not succeeded yet
	began      time.Time
	pending    []*kafka.Message // the open transaction's posts
	at         any              // the source's position after the last of them
	seq        int64            // transactions begun in this run
	txnID      string           // the open transaction's id: run:seq
	renewals   int              // producers replaced since the last commit
	posts      int64            // committed under the position key, before this run included
	committed  int64            // committed in this run
	waitStart  time.Time        // zero unless a commit is waiting
	fatal      error
	refused    atomic.Pointer[error] // the cluster refused the client (events)
	closeOnce  sync.Once
}

type txnMetrics struct {
	produced  *prometheus.CounterVec
	txns      *prometheus.CounterVec
	commitDur prometheus.Histogram
}

// NewTxn connects a transactional producer. Call Init before Publish.
func NewTxn(kc kafkaconn.Config, cfg TxnConfig, reg prometheus.Registerer, log *slog.Logger) (*Txn, error) {
	cfg.Config = cfg.Config.withDefaults()
	if cfg.CommitPosts <= 0 {
		cfg.CommitPosts = 10000
	}
	if cfg.CommitInterval <= 0 {
		cfg.CommitInterval = 200 * time.Millisecond
	}
	if cfg.TransactionTimeout <= 0 {
		cfg.TransactionTimeout = time.Minute
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	t := &Txn{cfg: cfg, kc: kc, log: log, run: hex.EncodeToString(rnd[:]),
		m: txnMetrics{
			produced: producedMetric("Posts the broker confirmed (committed), by source."),
			txns: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "hashtrend_ingest_transactions_total", Help: "Transactions ended, by outcome (committed, aborted: its posts were produced again).",
			}, []string{"outcome"}),
			commitDur: prometheus.NewHistogram(prometheus.HistogramOpts{
				Name: "hashtrend_ingest_commit_seconds", Help: "Time from a commit's start to its success, retries included.",
				Buckets: prometheus.ExponentialBuckets(0.002, 4, 10),
			}),
		}}
	t.m.produced.WithLabelValues(cfg.Source)
	t.m.txns.WithLabelValues("committed")
	t.m.txns.WithLabelValues("aborted")
	reg.MustRegister(t.m.produced, t.m.txns, t.m.commitDur,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hashtrend_ingest_posts_in_flight", Help: "Posts handed to the producer whose transaction has not committed yet.",
		}, func() float64 { return float64(t.InFlight()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hashtrend_ingest_commit_wait_seconds", Help: "How long the commit in progress has been waiting for the brokers (0: none waiting).",
		}, func() float64 { return t.waiting().Seconds() }),
		queueDepthMetric(t.prod.Load),
	)
	if err := t.connect(); err != nil {
		return nil, err
	}
	return t, nil
}

// connect creates the producer (again, after one failed for good).
func (t *Txn) connect() error {
	cfg := t.cfg
	prod, err := newProducer(t.kc, cfg.Config, kafka.ConfigMap{
		"transactional.id":             cfg.TransactionalID,
		"transaction.timeout.ms":       int(cfg.TransactionTimeout / time.Millisecond),
		"queue.buffering.max.messages": max(cfg.QueueMessages, cfg.CommitPosts+1),
		"go.delivery.reports":          false,
	})
	if err != nil {
		return err
	}
	t.prod.Store(prod)
	t.done = make(chan struct{})
	go t.events(prod, t.done)
	return nil
}

// events logs the client's error events until the producer closes; a
// refusal by the cluster is kept for the commit that waits for brokers
// that will not take it.
func (t *Txn) events(prod *kafka.Producer, done chan struct{}) {
	defer close(done)
	for ev := range prod.Events() {
		e, ok := ev.(kafka.Error)
		switch {
		case !ok:
		case kafkaconn.Denied(e):
			// Said once, by the call it fails or the commit that waits.
			err := error(e)
			t.refused.Store(&err)
		default:
			clientError(t.log, e)
		}
	}
}

// Resumed carries on the count of posts the resumed position covers, in
// the position records this run writes.
func (t *Txn) Resumed(posts int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.posts = posts
}

// Init initialises transactions, which fences an earlier producer with the
// same transactional id and ends its open transaction, retrying while the
// brokers do not answer, until ctx ends.
func (t *Txn) Init(ctx context.Context) error {
	began := time.Now()
	err := retry.Do(ctx, retry.Policy{Wait: time.Second, Attempt: 10 * time.Second}, func(err error, _ time.Duration) bool {
		if kafkaconn.Classify(err) == kafkaconn.Fatal {
			return false
		}
		t.log.Warn("cannot initialise transactions yet", "transactional_id", t.cfg.TransactionalID, "err", err,
			"waited", time.Since(began).Round(time.Second))
		return true
	}, func(ctx context.Context) error { return t.prod.Load().InitTransactions(ctx) })
	if err != nil {
		return fmt.Errorf("init transactions: %w", t.kc.Refused(err, "WRITE transactional id "+t.cfg.TransactionalID))
	}
	return nil
}

// Publish adds p to the open transaction (beginning one when none is),
// with at, the source's position after p; it commits when the transaction
// is full. It returns an error only when the post cannot be handed on:
// ctx ended while a commit waited, the producer failed for good, or the
// producer refused the record itself (larger than message.max.bytes): the
// post is then in no transaction and its position in no record, so a
// restart reads it again rather than pass over it.
func (t *Txn) Publish(ctx context.Context, p post.Post, at any) error {
	msg, err := record(&t.cfg.Topic, p)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fatal != nil {
		return t.fatal
	}
	if t.committing {
		// A commit that did not finish must end before anything else goes
		// into a transaction.
		if err := t.commit(ctx); err != nil {
			return err
		}
	}
	if !t.open {
		if err := t.begin(); err != nil {
			return err
		}
	}
	if err := t.produce(ctx, msg); err != nil {
		if refused(err) {
			// Nothing of it reached the transaction, nor does its position:
			// the post is neither counted nor passed over.
			return fmt.Errorf("produce post %s (%d bytes): %w", p.ID, len(msg.Key)+len(msg.Value), err)
		}
		// The transaction cannot take it (an abortable state, or a
		// producer that failed): a commit could succeed without it, so
		// the transaction is aborted and all of its posts, this one
		// included, are produced again.
		t.pending = append(t.pending, msg)
		t.at = at
		t.log.Warn("produce failed; the transaction will be redone", "err", err)
		return t.redo(ctx)
	}
	t.pending = append(t.pending, msg)
	t.at = at
	if len(t.pending) >= t.cfg.CommitPosts {
		return t.commit(ctx)
	}
	return nil
}

// produce hands msg to the producer (mu held). A full local queue is
// waited out, for as long as ctx allows: the source slows down, the post
// is never dropped.
func (t *Txn) produce(ctx context.Context, msg *kafka.Message) error {
	for {
		err := t.prod.Load().Produce(msg, nil)
		if err == nil || !kafkaconn.QueueFull(err) {
			return err
		}
		t.prod.Load().Flush(100)
		if ctx.Err() != nil {
			return fmt.Errorf("waiting for room in the producer queue: %w", ctx.Err())
		}
	}
}

// refused tells whether the producer refused the record itself, not the
// transaction: a record over message.max.bytes or one it cannot send.
// Produced again it would be refused again.
func refused(err error) bool {
	var ke kafka.Error
	if !errors.As(err, &ke) {
		return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
	}
	switch ke.Code() {
	case kafka.ErrMsgSizeTooLarge, kafka.ErrInvalidArg, kafka.ErrInvalidMsg, kafka.ErrInvalidMsgSize:
		return true
	}
	return false
}

// Due commits the open transaction when it is older than the commit
// interval; the sink calls it on a ticker (commitOnTicks).
func (t *Txn) Due(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.open || time.Since(t.began) < t.cfg.CommitInterval {
		return nil
	}
	return t.commit(ctx)
}

// Flush commits the open transaction, if any, waiting for the brokers as
// long as ctx allows.
func (t *Txn) Flush(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.commit(ctx)
}

// InFlight is the number of posts handed over and not committed.
func (t *Txn) InFlight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pending)
}

func (t *Txn) waiting() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.waitStart.IsZero() {
		return 0
	}
	return time.Since(t.waitStart)
}

// begin opens a transaction (mu held).
func (t *Txn) begin() error {
	if err := t.prod.Load().BeginTransaction(); err != nil {
		t.fatal = fmt.Errorf("begin transaction: %w", err)
		return t.fatal
	}
	t.seq++
	t.txnID = fmt.Sprintf("%s:%d", t.run, t.seq)
	t.open, t.began = true, time.Now()
	return nil
}

// commit commits the open transaction (mu held): it adds the position
// record and retries the commit until it succeeds, ctx ends or the
// producer fails for good. A transaction the client must abort is aborted
// and redone with the same posts. mu stays held throughout, so the source
// waits. The wait is logged every 5 s and shown by the commit wait metric.
func (t *Txn) commit(ctx context.Context) error {
	if !t.open {
		return nil
	}
	began := time.Now()
	t.waitStart = began
	defer func() { t.waitStart = time.Time{} }()
	lastLog := began
	for {
		if !t.committing {
			// The position goes in once per transaction, just before its
			// first commit attempt.
			if t.cfg.PositionKey != "" && t.at != nil {
				if err := t.producePosition(); err != nil {
					t.log.Warn("position not produced; the transaction will be redone", "err", err)
				}
			}
			t.committing = true
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("commit of %d posts not finished: %w", len(t.pending), err)
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := t.prod.Load().CommitTransaction(cctx)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("commit of %d posts not finished: %w", len(t.pending), ctx.Err())
		}
		if kafkaconn.Denied(err) {
			// No new producer is let in either.
			t.fatal = fmt.Errorf("commit: %w", t.kc.Refused(err, fmt.Sprintf("WRITE topics %s and %s", t.cfg.Topic, t.cfg.PositionsTopic)))
			return t.fatal
		}
		switch kafkaconn.Classify(err) {
		case kafkaconn.Fatal:
			done, err := t.renew(ctx, err)
			if err != nil {
				return err
			}
			if done {
				t.log.Info("the transaction had committed before the producer failed", "posts", len(t.pending))
				t.committing = false
				return t.finish(began)
			}
		case kafkaconn.Abortable:
			t.log.Warn("transaction must be aborted; producing its posts again", "posts", len(t.pending), "err", err)
			if err := t.redo(ctx); err != nil {
				return err
			}
		default:
			if errp := t.refused.Load(); errp != nil {
				// The brokers do not answer because they refuse this client.
				t.fatal = fmt.Errorf("commit: %w", t.kc.Refused(*errp, "commit"))
				return t.fatal
			}
			if time.Since(lastLog) >= 5*time.Second {
				lastLog = time.Now()
				t.log.Warn("waiting for the brokers to commit", "posts", len(t.pending),
					"waited", time.Since(began).Round(time.Second), "err", err)
			}
		}
	}
	t.committing = false
	return t.finish(began)
}

// finish counts the committed transaction and closes it (mu held).
func (t *Txn) finish(began time.Time) error {
	if waited := time.Since(began); waited > 5*time.Second {
		t.log.Info("committed after waiting", "posts", len(t.pending), "waited", waited.Round(100*time.Millisecond))
	}
	n := int64(len(t.pending))
	t.posts += n
	t.committed += n
	t.m.produced.WithLabelValues(t.cfg.Source).Add(float64(n))
	t.m.txns.WithLabelValues("committed").Inc()
	t.m.commitDur.Observe(time.Since(began).Seconds())
	t.pending, t.at, t.open, t.renewals = t.pending[:0], nil, false, 0
	return nil
}

// redo aborts the open transaction and produces its posts again in a new
// one (mu held), retrying the abort while the brokers are away.
func (t *Txn) redo(ctx context.Context) error {
	err := retry.Do(ctx, retry.Policy{Attempt: 5 * time.Second}, func(err error, _ time.Duration) bool {
		if kafkaconn.Classify(err) == kafkaconn.Fatal {
			return false
		}
		t.log.Warn("waiting for the brokers to abort", "err", err)
		return true
	}, t.prod.Load().AbortTransaction)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("abort not finished: %w", err)
		}
		// Fatal. Nothing of it was committed: an abort was under way.
		_, err := t.renew(ctx, err)
		return err
	}
	t.m.txns.WithLabelValues("aborted").Inc()
	return t.again()
}

// again begins a new transaction with the open one's posts (mu held).
func (t *Txn) again() error {
	t.open, t.committing = false, false
	if err := t.begin(); err != nil {
		return err
	}
	for _, m := range t.pending {
		again := &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &t.cfg.Topic, Partition: kafka.PartitionAny},
			Key: m.Key, Value: m.Value, Headers: m.Headers}
		if err := t.prod.Load().Produce(again, nil); err != nil {
			return fmt.Errorf("produce again: %w", err)
		}
	}
	return nil
}

// renew replaces a producer that failed for good (mu held): after a long
// outage the coordinator may have aborted the open transaction itself and
// moved the producer's epoch on, which the client can only take as fatal.
// The new producer's Init (same transactional id) settles the old
// transaction for certain: completed if its commit had reached the
// coordinator, aborted otherwise. Which one it was, the committed position
// tells (its txn field is this transaction's id): done is true when the
// transaction had committed; otherwise its posts go into a new one. A
// source without positions cannot tell; its posts are produced again (the
// counter's dedupe drops a repeat). After three failures in a row without
// a commit between them the error stands.
func (t *Txn) renew(ctx context.Context, cause error) (done bool, err error) {
	t.renewals++
	if t.renewals > 3 || kafkaconn.Fenced(cause) && t.renewals > 1 {
		t.fatal = fmt.Errorf("producer: %w", cause)
		return false, t.fatal
	}
	t.log.Warn("producer failed; starting a new one with the same transactional id", "posts", len(t.pending), "err", cause)
	old := t.prod.Load()
	_ = old.Purge(kafka.PurgeQueue | kafka.PurgeInFlight | kafka.PurgeNonBlocking)
	old.Close()
	<-t.done
	if err := t.connect(); err != nil {
		t.fatal = err
		return false, err
	}
	if err := t.Init(ctx); err != nil {
		return false, err
	}
	if t.cfg.PositionKey != "" {
		rec, found, err := positions.Read(ctx, t.kc, t.cfg.PositionsTopic, t.cfg.PositionKey, t.log)
		if err != nil {
			return false, err
		}
		if found && rec.Txn == t.txnID {
			return true, nil
		}
	}
	return false, t.again()
}

func (t *Txn) producePosition() error {
	at, err := json.Marshal(t.at)
	if err != nil {
		return err
	}
	value, err := positions.Encode(positions.Record{Source: t.cfg.Source, At: at, Txn: t.txnID,
		Posts: t.posts + int64(len(t.pending)), CommittedAt: time.Now().UTC().Truncate(time.Millisecond)})
	if err != nil {
		return err
	}
	return t.prod.Load().Produce(&kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: &t.cfg.PositionsTopic, Partition: 0},
		Key:            []byte(t.cfg.PositionKey), Value: value,
	}, nil)
}

// Stats returns the posts committed in this run, and how many are in flight.
func (t *Txn) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Stats{Enqueued: t.committed + int64(len(t.pending)), Delivered: t.committed}
}

// Ready reports whether the brokers answer (see Publisher.Ready).
func (t *Txn) Ready(timeout time.Duration) error {
	t.mu.Lock()
	fatal := t.fatal
	t.mu.Unlock()
	if fatal != nil {
		return fatal
	}
	return topicReady(t.prod.Load(), t.cfg.Topic, timeout)
}

// Close ends the producer. An open transaction is not committed: its posts
// are dropped from the client (their number is in the returned stats) and
// the broker aborts it, at once if the brokers answer within a second,
// otherwise when it times out or the next start's Init fences it.
func (t *Txn) Close() Stats {
	t.closeOnce.Do(func() {
		t.mu.Lock()
		if t.open {
			actx, cancel := context.WithTimeout(context.Background(), time.Second)
			if err := t.prod.Load().AbortTransaction(actx); err != nil {
				t.log.Warn("open transaction left to the broker to abort", "posts", len(t.pending), "err", err)
				_ = t.prod.Load().Purge(kafka.PurgeQueue | kafka.PurgeInFlight | kafka.PurgeNonBlocking)
			}
			cancel()
		}
		t.mu.Unlock()
		t.prod.Load().Close()
		<-t.done
	})
	return t.Stats()
}
