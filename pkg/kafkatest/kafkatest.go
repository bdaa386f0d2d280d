// Package kafkatest gives integration tests a real broker: it reads
// KAFKA_BROKERS, checks that the broker answers, and hands out uniquely named
// topics and groups that are deleted when the test ends. Where
// REQUIRE_KAFKA=1 (CI) a missing broker fails the test; elsewhere the test is
// skipped with a message.
package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/pkg/topic"
)

// DefaultBrokers is used when KAFKA_BROKERS is unset (deploy/kafka's default).
const DefaultBrokers = "127.0.0.1:9092"

var (
	probeOnce sync.Once
	probeErr  error
)

// Brokers returns the bootstrap servers of a broker that answers, or ends
// the test (fail under REQUIRE_KAFKA=1, skip otherwise).
func Brokers(t testing.TB) string {
	t.Helper()
	brokers := os.Getenv("KAFKA_BROKERS")
	if brokers == "" {
		brokers = DefaultBrokers
	}
	probeOnce.Do(func() { probeErr = probe(brokers) })
	if probeErr != nil {
		systest.Unavailable(t, "no Kafka broker at %s (start one with `make kafka-up`): %v", brokers, probeErr)
	}
	return brokers
}

func probe(brokers string) error {
	a, err := kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": brokers})
	if err != nil {
		return err
	}
	defer a.Close()
	_, err = a.GetMetadata(nil, true, 10000)
	return err
}

// Admin returns an admin client closed when the test ends.
func Admin(t testing.TB) *kafka.AdminClient {
	t.Helper()
	a, err := kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": Brokers(t)})
	if err != nil {
		t.Fatalf("admin client: %v", err)
	}
	t.Cleanup(a.Close)
	return a
}

var unsafe = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// Name returns a name unique to this test and run: base, the test's name and
// a random suffix.
func Name(t testing.TB, base string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	n := base + "." + unsafe.ReplaceAllString(t.Name(), "_") + "." + hex.EncodeToString(b[:])
	if len(n) > 200 {
		n = n[len(n)-200:]
	}
	return strings.Trim(n, ".")
}

// Topic creates a uniquely named topic (cleanup.policy and other settings in
// configs) and deletes it when the test ends. It returns the name.
func Topic(t testing.TB, base string, partitions int, configs map[string]string) string {
	t.Helper()
	name := Name(t, base)
	CreateTopic(t, name, partitions, configs)
	return name
}

// CreateTopic creates the topic name and deletes it when the test ends.
func CreateTopic(t testing.TB, name string, partitions int, configs map[string]string) {
	t.Helper()
	a := Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := topic.Ensure(ctx, a, topic.Spec{Name: name, Partitions: partitions, ReplicationFactor: 1, Configs: configs}); err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	DeleteAfter(t, name)
}

// DeleteAfter deletes the named topics when the test ends (topics that a
// service under test created itself).
func DeleteAfter(t testing.TB, names ...string) {
	t.Helper()
	brokers := Brokers(t)
	t.Cleanup(func() {
		a, err := kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": brokers})
		if err != nil {
			return
		}
		defer a.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = a.DeleteTopics(ctx, names)
	})
}

// Group returns a unique consumer group name.
func Group(t testing.TB) string { return Name(t, "group") }

// Unreachable returns a broker address where nothing listens (a port
// that was free a moment ago), for tests of a broker that cannot be
// reached.
func Unreachable(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
