// Package probe measures produce-to-output latency: it follows a
// contender's output topic with a read_committed consumer and, for each
// probe tag (see package workload) the first time a record names it, takes
// the time it was seen minus the time the probe was produced.
package probe

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/bench/internal/workload"
)

// Watcher follows a topic and notes when each probe key first shows up.
type Watcher struct {
	mu     sync.Mutex
	seen   map[string]time.Duration
	cancel context.CancelFunc
	done   chan error
}

// Start follows topic from the beginning until Stop.
func Start(ctx context.Context, brokers, topic string) (*Watcher, error) {
	c, err := kafka.NewConsumer(&kafka.ConfigMap{
		"bootstrap.servers":  brokers,
		"group.id":           "bench-probe-" + topic,
		"isolation.level":    "read_committed",
		"enable.auto.commit": false,
		"auto.offset.reset":  "earliest",
		"fetch.wait.max.ms":  10,
	})
	if err != nil {
		return nil, err
	}
	if err := c.Subscribe(topic, nil); err != nil {
		c.Close()
		return nil, fmt.Errorf("subscribe %s: %w", topic, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &Watcher{seen: map[string]time.Duration{}, cancel: cancel, done: make(chan error, 1)}
	go func() {
		defer c.Close()
		for ctx.Err() == nil {
			m, ok := c.Poll(50).(*kafka.Message)
			if !ok || m.TopicPartition.Error != nil {
				continue
			}
			w.Note(string(m.Key), time.Now())
		}
		w.done <- nil
	}()
	return w, nil
}

// NewWatcher returns a watcher that is fed by hand through Note.
func NewWatcher() *Watcher {
	return &Watcher{seen: map[string]time.Duration{}, cancel: func() {}}
}

// Note records that s (a probe key or a word holding one) was seen at t;
// anything else, and every sighting after the first, is ignored.
func (w *Watcher) Note(s string, t time.Time) {
	at, ok := workload.ProbeTime(s)
	if !ok {
		return
	}
	k := strings.TrimPrefix(s, "#")
	w.mu.Lock()
	if _, dup := w.seen[k]; !dup {
		w.seen[k] = t.Sub(at)
	}
	w.mu.Unlock()
}

// NoteLatency records a latency the contender measured itself.
func (w *Watcher) NoteLatency(key string, d time.Duration) {
	w.mu.Lock()
	if _, dup := w.seen[key]; !dup {
		w.seen[key] = d
	}
	w.mu.Unlock()
}

// Seen returns a copy of the latencies so far, by probe key.
func (w *Watcher) Seen() map[string]time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]time.Duration, len(w.seen))
	for k, v := range w.seen {
		out[k] = v
	}
	return out
}

// Stop ends the watch.
func (w *Watcher) Stop() {
	w.cancel()
	if w.done != nil {
		<-w.done
	}
}

// Quantile returns the q-quantile (0..1, nearest rank) of ds.
func Quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}
