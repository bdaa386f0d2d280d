// Package publish writes posts to the tweets topic and never drops one.
//
// Txn (txn.go) writes them in transactions, with the source's position
// (package positions): what ingest runs by default. Publisher, below, is
// the plain producer (INGEST_TRANSACTIONS=false, for clusters that do not
// allow transactions). Both block the source rather than drop a post.
// Sink (sink.go) is what the service hands posts to: one of the two, with
// what depends on which it is and on whether the source resumes (the
// start at the committed position, the commit ticker, the flush policy
// and the final accounting).
//
// Publisher is idempotent with acks=all and compression; each record is
// keyed by the post id (so a post always lands on the same partition),
// timestamped when it is produced (not with its created_at: the broker's
// time retention counts from the record timestamp, so a replayed recording
// older than the retention would be deleted at the next retention check)
// and carries a "source" header. Deliveries
// are retried by the client for as long as the delivery timeout allows
// (forever by default), so a broker that is down only delays posts. When the
// client's local queue is full, Publish blocks until deliveries make room:
// the source stops reading rather than losing what it read. A goroutine
// drains the delivery reports into metrics, a log line for each failure,
// and the count of posts still unconfirmed that Close reports after its
// final flush.
package publish

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/post"
)

// HeaderSource is the record header naming the post's source.
const HeaderSource = "source"

// Config are the producer's settings.
type Config struct {
	// Topic receives the posts.
	Topic string
	// Compression is the codec: none, gzip, snappy, lz4 or zstd.
	Compression string
	// Linger is how long the client waits to fill a batch.
	Linger time.Duration
	// QueueMessages bounds the client's local queue; a full queue blocks
	// Publish.
	QueueMessages int
	// DeliveryTimeout bounds how long the client retries one record; zero
	// means forever, so that an outage of any length loses nothing.
	DeliveryTimeout time.Duration
	// ClientID is the client.id unless the Kafka settings name one.
	ClientID string
}

// Publisher is the producer. Publish may be called from one goroutine at a
// time and not after Close; the other methods from any.
type Publisher struct {
	cfg   Config
	kc    kafkaconn.Config
	prod  *kafka.Producer
	log   *slog.Logger
	m     metrics
	space chan struct{} // a delivery report arrived: the queue has room
	done  chan struct{} // the delivery goroutine has ended

	enqueued  atomic.Int64
	delivered atomic.Int64
	failed    atomic.Int64
	fatal     atomic.Pointer[error]
	closeOnce sync.Once
}

type metrics struct {
	produced *prometheus.CounterVec
	failed   *prometheus.CounterVec
	latency  prometheus.Histogram
}

// New connects a producer. Metrics are registered on reg.
func New(kc kafkaconn.Config, cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Publisher, error) {
	cfg = cfg.withDefaults()
	if cfg.QueueMessages <= 0 {
		cfg.QueueMessages = 100000
	}
	prod, err := newProducer(kc, cfg, kafka.ConfigMap{
		"queue.buffering.max.messages": cfg.QueueMessages,
		"message.timeout.ms":           int(cfg.DeliveryTimeout / time.Millisecond),
	})
	if err != nil {
		return nil, err
	}
	p := &Publisher{
		cfg:   cfg,
		kc:    kc,
		prod:  prod,
		log:   log,
		space: make(chan struct{}, 1),
		done:  make(chan struct{}),
		m: metrics{
			produced: producedMetric("Posts the broker confirmed, by source."),
			failed: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "hashtrend_ingest_posts_failed_total", Help: "Posts whose delivery failed after the client's retries, by source.",
			}, []string{"source"}),
			latency: prometheus.NewHistogram(prometheus.HistogramOpts{
				Name:    "hashtrend_ingest_delivery_latency_seconds",
				Help:    "Time from handing a post to the producer to the broker's confirmation.",
				Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
			}),
		},
	}
	reg.MustRegister(p.m.produced, p.m.failed, p.m.latency,
		queueDepthMetric(func() *kafka.Producer { return p.prod }))
	go p.deliveries()
	return p, nil
}

// pending is the Opaque of each record: what the delivery report needs.
type pending struct {
	source string
	at     time.Time
}

// deliveries drains the producer's events until Close.
func (p *Publisher) deliveries() {
	defer close(p.done)
	for ev := range p.prod.Events() {
		switch e := ev.(type) {
		case *kafka.Message:
			pd, _ := e.Opaque.(*pending)
			src := ""
			if pd != nil {
				src = pd.source
			}
			if err := e.TopicPartition.Error; err != nil {
				p.failed.Add(1)
				p.m.failed.WithLabelValues(src).Inc()
				if kafkaconn.Denied(err) {
					// Every post after it would fail the same way.
					err = p.kc.Refused(err, "WRITE topic "+p.cfg.Topic)
					p.fatal.CompareAndSwap(nil, &err)
				}
				p.log.Error("post not delivered", "topic", p.cfg.Topic, "key", string(e.Key), "err", err)
			} else {
				p.delivered.Add(1)
				p.m.produced.WithLabelValues(src).Inc()
				if pd != nil {
					p.m.latency.Observe(time.Since(pd.at).Seconds())
				}
			}
			select {
			case p.space <- struct{}{}:
			default:
			}
		case kafka.Error:
			if clientError(p.log, e) {
				err := p.kc.Refused(e, "WRITE topic "+p.cfg.Topic)
				p.fatal.CompareAndSwap(nil, &err)
			}
		}
	}
}

// Publish hands p to the producer; the source's position is not kept.
// When the client's queue is full it waits for deliveries to make room,
// for as long as ctx allows: a full queue slows the source down, it never
// drops the post.
func (p *Publisher) Publish(ctx context.Context, pt post.Post, _ any) error {
	if errp := p.fatal.Load(); errp != nil {
		return fmt.Errorf("producer: %w", *errp)
	}
	msg, err := record(&p.cfg.Topic, pt)
	if err != nil {
		return err
	}
	msg.Opaque = &pending{source: pt.Source, at: time.Now()}
	for {
		err := p.prod.Produce(msg, nil)
		if err == nil {
			p.enqueued.Add(1)
			return nil
		}
		if !kafkaconn.QueueFull(err) {
			return fmt.Errorf("produce post %s: %w", pt.ID, err)
		}
		// Full: wait for a delivery report, with a poll as a safety net.
		select {
		case <-p.space:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return fmt.Errorf("post %s waiting for room in the producer queue: %w", pt.ID, ctx.Err())
		}
		if errp := p.fatal.Load(); errp != nil {
			return fmt.Errorf("producer: %w", *errp)
		}
	}
}

// Stats are the publisher's counts so far.
type Stats struct {
	Enqueued, Delivered, Failed int64
}

// Unconfirmed is the number of posts handed over and not confirmed.
func (s Stats) Unconfirmed() int64 { return s.Enqueued - s.Delivered }

// Stats returns the counts so far.
func (p *Publisher) Stats() Stats {
	return Stats{Enqueued: p.enqueued.Load(), Delivered: p.delivered.Load(), Failed: p.failed.Load()}
}

// Ready reports whether the brokers answer: nil when the topic's metadata
// can be read within timeout.
func (p *Publisher) Ready(timeout time.Duration) error {
	if errp := p.fatal.Load(); errp != nil {
		return *errp
	}
	return topicReady(p.prod, p.cfg.Topic, timeout)
}

// Flush waits for every queued post to be confirmed, for as long as ctx
// allows; it returns ctx's error when posts are still queued then.
func (p *Publisher) Flush(ctx context.Context) error {
	for p.prod.Len() > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%d posts still queued: %w", p.prod.Len(), err)
		}
		p.prod.Flush(200)
	}
	return nil
}

// Close closes the producer, first telling the client to give up on what
// is still queued (call Flush before to wait for it), and returns the final
// stats.
func (p *Publisher) Close() Stats {
	p.closeOnce.Do(func() {
		if p.prod.Len() > 0 {
			// Their failure reports arrive, and Close below does not wait.
			_ = p.prod.Purge(kafka.PurgeQueue | kafka.PurgeInFlight | kafka.PurgeNonBlocking)
			p.prod.Flush(1000)
		}
		p.prod.Close()
		<-p.done
	})
	return p.Stats()
}
