package partition

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/retry"
	"github.com/hashtrend/hashtrend/pkg/topic"
)

// Watch is the option of a reader that must tell "the broker is away"
// from "the partition is at its end" while it reads (a viewer saying so,
// and reporting it through readiness): the client only goes quiet in
// both cases. Its functions are called on the reading goroutine.
type Watch struct {
	// Away: a request failed, so the broker cannot be reached; called at
	// each failed attempt.
	Away func(err error)
	// Back: the broker answers again after Away.
	Back func()
	// Missing: the topic does not exist (yet, or any more); called at
	// each look that does not find it.
	Missing func(err error)
	// Found: the topic exists, after Missing.
	Found func()
	// Retry is the pause between attempts, and how often a read asks
	// whether an away broker is back (default 1 s).
	Retry time.Duration
	// Timeout bounds each metadata or offsets request (default 5 s).
	Timeout time.Duration
}

func (w *Watch) retry() time.Duration {
	if w == nil || w.Retry <= 0 {
		return time.Second
	}
	return w.Retry
}

func (w *Watch) timeoutMs() int {
	if w == nil || w.Timeout <= 0 {
		return 5000
	}
	return int(w.Timeout.Milliseconds())
}

func (w *Watch) missing(err error) {
	if w.Missing != nil {
		w.Missing(err)
	}
}

// errNoTopic is a look that did not find the topic.
var errNoTopic = errors.New("topic missing")

// attempt runs op until it succeeds, the cluster refuses it (Denied: no
// retry changes that) or ctx ends, a pause of Watch.Retry after each
// failure; a failure that is not errNoTopic is the broker's absence.
func (r *Reader) attempt(ctx context.Context, op func() error) error {
	err := retry.Do(ctx, retry.Policy{Wait: r.cfg.Watch.retry()}, func(err error, _ time.Duration) bool {
		return !kafkaconn.Denied(err)
	}, func(context.Context) error {
		err := op()
		switch {
		case kafkaconn.Denied(err):
		case err == nil || errors.Is(err, errNoTopic):
			r.back()
		case r.cfg.Watch != nil && r.cfg.Watch.Away != nil:
			r.away = true
			r.cfg.Watch.Away(err)
		}
		return err
	})
	return r.cfg.Kafka.Refused(err, "DESCRIBE topic "+r.cfg.Topic)
}

// WaitForTopic returns the number of the topic's partitions once it
// exists, retrying while it does not or while no broker answers (said to
// the watcher, when there is one). It lists all topics rather than asking
// for this one, so that a broker with auto-creation on does not create it.
func (r *Reader) WaitForTopic(ctx context.Context) (partitions int, err error) {
	missing := false
	err = r.attempt(ctx, func() error {
		md, err := r.c.GetMetadata(nil, true, r.cfg.Watch.timeoutMs())
		if err != nil {
			return err
		}
		parts, ok := topic.Found(md, r.cfg.Topic)
		if !ok {
			missing = true
			if r.cfg.Watch != nil {
				r.cfg.Watch.missing(fmt.Errorf("topic %s does not exist", r.cfg.Topic))
			}
			return errNoTopic
		}
		partitions = len(parts)
		return nil
	})
	if err == nil && missing && r.cfg.Watch != nil && r.cfg.Watch.Found != nil {
		r.cfg.Watch.Found()
	}
	return partitions, err
}

// Bounds returns the first retained offset of partition p and its last
// stable offset (where a read_committed reader stops while a transaction
// is open), asked until the broker answers.
func (r *Reader) Bounds(ctx context.Context, p int32) (low, stable int64, err error) {
	err = r.attempt(ctx, func() error {
		var err error
		if low, _, err = r.c.QueryWatermarkOffsets(r.cfg.Topic, p, r.cfg.Watch.timeoutMs()); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, time.Duration(r.cfg.Watch.timeoutMs())*time.Millisecond)
		defer cancel()
		ends, err := r.Ends(ctx, kafka.IsolationLevelReadCommitted, p)
		stable = ends[p]
		return err
	})
	return low, stable, err
}

// back tells the watcher that the broker answers, after Away.
func (r *Reader) back() {
	if r.away {
		r.away = false
		if r.cfg.Watch.Back != nil {
			r.cfg.Watch.Back()
		}
	}
}

// probe asks for the topic's metadata, to tell when an away broker is
// back even though no record flows.
func (r *Reader) probe() {
	if _, err := r.c.GetMetadata(&r.cfg.Topic, false, r.cfg.Watch.timeoutMs()); err == nil {
		r.back()
	} else {
		r.log.Debug("broker still unreachable", "err", err)
	}
}

// watchError sorts a client error for the watcher. "All brokers down"
// events queue up while the broker is away and may be read after it is
// back, so one is believed only when a metadata request fails too.
func (r *Reader) watchError(e kafka.Error) {
	w := r.cfg.Watch
	switch {
	case e.Code() == kafka.ErrAllBrokersDown:
		if r.away {
			return
		}
		if _, err := r.c.GetMetadata(&r.cfg.Topic, false, w.timeoutMs()); err != nil {
			r.away = true
			if w.Away != nil {
				w.Away(e)
			}
		}
	case e.Code() == kafka.ErrUnknownTopicOrPart, e.Code() == kafka.ErrUnknownTopic:
		w.missing(e)
	default:
		r.log.Debug("kafka", "topic", r.cfg.Topic, "err", e)
	}
}
