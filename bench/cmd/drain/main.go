// Command drain is the "limit" contender of the peer benchmarks: a raw
// read_committed consumer (librdkafka through confluent-kafka-go) that reads
// every partition of a topic from the beginning to the end offsets it finds
// at start, touches nothing but the value length, and prints one JSON line:
// {"posts":N,"bytes":B,"seconds":S}. It is as fast as a Go consumer can
// take posts off this broker, the ceiling every contender is measured
// against: it fetches with the counter's settings (kafkaconn.Fetch) and
// reads through librdkafka's batch interface (pkg/batch), as the counter's
// tally does; -poll reads with confluent-kafka-go's Poll instead, one
// record per call, and -set key=value overrides any librdkafka setting,
// to measure others.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/bench/internal/progress"
	"github.com/hashtrend/hashtrend/pkg/batch"
	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/topic"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "bootstrap brokers")
	topic := flag.String("topic", "", "topic to read")
	set := settings{}
	flag.Var(set, "set", "a librdkafka setting key=value over the defaults (repeatable), to measure others")
	poll := flag.Bool("poll", false, "read with confluent-kafka-go's Poll, one record per call, instead of in batches")
	flag.Parse()
	if *topic == "" {
		fmt.Fprintln(os.Stderr, "drain: -topic is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *brokers, *topic, set, *poll); err != nil {
		fmt.Fprintln(os.Stderr, "drain:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, brokers, name string, set settings, poll bool) error {
	start := time.Now()
	pc, err := progress.NewChecker(brokers)
	if err != nil {
		return err
	}
	end, err := pc.EndOffsets(ctx, name)
	pc.Close()
	if err != nil {
		return err
	}
	// The counter's own fetch settings, the best measured, so that this
	// stays the ceiling of a Go consumer rather than of librdkafka's
	// defaults.
	cm := kafkaconn.Fetch()
	maps.Copy(cm, kafka.ConfigMap{
		"bootstrap.servers":  brokers,
		"group.id":           fmt.Sprintf("bench-drain-%d", time.Now().UnixNano()),
		"isolation.level":    "read_committed",
		"enable.auto.commit": false,
		// topic.ReadToEnd watches end-of-partition events; through the
		// batch interface they would make librdkafka report positions one
		// past the real one (librdkafka#4844), which batch.ReadToEnd reads.
		"enable.partition.eof": poll,
	})
	maps.Copy(cm, set)
	c, err := kafka.NewConsumer(&cm)
	if err != nil {
		return err
	}
	defer c.Close()
	var posts, bytes int64
	if poll {
		err = topic.ReadToEnd(ctx, c, name, end, slog.New(slog.DiscardHandler), func(m *kafka.Message) error {
			posts++
			bytes += int64(len(m.Value))
			return nil
		})
	} else {
		err = batch.ReadToEnd(ctx, c, name, end, func(r batch.Record) {
			posts++
			bytes += int64(len(r.Value))
		})
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"posts": posts, "bytes": bytes, "seconds": time.Since(start).Seconds(),
	})
}

// settings is the -set flag: librdkafka settings by name.
type settings map[string]kafka.ConfigValue

func (s settings) String() string { return fmt.Sprint(map[string]kafka.ConfigValue(s)) }

func (s settings) Set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not key=value", kv)
	}
	s[k] = v
	return nil
}
