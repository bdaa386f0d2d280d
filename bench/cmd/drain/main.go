// Command drain is the "limit" contender of the peer benchmarks: a raw
// read_committed consumer (librdkafka through confluent-kafka-go) that reads
// every partition of a topic from the beginning to the end offsets it finds
// at start, touches nothing but the value length, and prints one JSON line:
// {"posts":N,"bytes":B,"seconds":S}. It is as fast as a Go consumer can
// take posts off this broker, the ceiling every contender is measured
// against: it reads with the project's partition reader (pkg/partition)
// through librdkafka's batch interface, fetching as the counter's tally
// does; -poll reads with confluent-kafka-go's Poll instead, one record per
// call, and -set key=value overrides any librdkafka setting, to measure
// others.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/partition"
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
	// The reader's settings with tally's fetch sizes and wait (librdkafka's
	// defaults) over them, so that this stays the ceiling of a Go consumer
	// fetching as tally does; -set over those.
	override := kafka.ConfigMap{"fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 1048576, "fetch.wait.max.ms": 500}
	maps.Copy(override, set)
	var posts, bytes int64
	err := partition.ReadAll(ctx, partition.Config{
		Kafka:  kafkaconn.Config{Brokers: brokers, SecurityProtocol: "plaintext"},
		Client: fmt.Sprintf("bench-drain-%d", time.Now().UnixNano()), Topic: name,
		Messages: poll, Override: override,
	}, kafka.IsolationLevelReadUncommitted, func(rec partition.Record) error {
		posts++
		bytes += int64(len(rec.Value))
		return nil
	})
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
