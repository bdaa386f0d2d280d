package kafkatest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashtrend/hashtrend/pkg/systest"
)

// Broker is a disposable local broker of one test: its own ports and data
// folder, started with deploy/kafka/kafka.sh, so the test may stop and
// start it without disturbing any other test.
type Broker struct {
	// Addr is the bootstrap address, 127.0.0.1:port.
	Addr   string
	t      testing.TB
	script string
	env    []string
}

// Disposable starts a broker for this test on free ports in a temporary
// folder and stops it when the test ends. The jars must have been fetched
// (make kafka-fetch; make test does it); without them the test is skipped,
// or fails under REQUIRE_KAFKA=1.
func Disposable(t testing.TB) *Broker {
	t.Helper()
	Brokers(t) // the test needs Kafka at all; honours REQUIRE_KAFKA
	root := systest.Root(t)
	if _, err := os.Stat(filepath.Join(root, "deploy", "kafka", "lib", ".complete")); err != nil {
		if os.Getenv("REQUIRE_KAFKA") == "1" {
			t.Fatal("the Kafka jars are not fetched (make kafka-fetch)")
		}
		t.Skip("the Kafka jars are not fetched (make kafka-fetch)")
	}
	// The ports are free when picked but may be taken by another process
	// before the broker binds them (tests run in parallel beside other
	// test runs): a first start that fails to bind tries new ports.
	var err error
	for range 3 {
		port := freePortPair(t)
		b := &Broker{
			Addr:   fmt.Sprintf("127.0.0.1:%d", port),
			t:      t,
			script: filepath.Join(root, "deploy", "kafka", "kafka.sh"),
			env: append(os.Environ(), fmt.Sprintf("KAFKA_PORT=%d", port),
				fmt.Sprintf("KAFKA_CONTROLLER_PORT=%d", port+1), "KAFKA_DATA_DIR="+t.TempDir(), "KAFKA_HEAP=384m"),
		}
		if err = b.run("up"); err == nil {
			t.Cleanup(func() { _ = b.run("down") })
			return b
		}
		_ = b.run("down")
		if !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	t.Fatal(err)
	return nil
}

// Start starts the broker (again) and waits until it answers.
func (b *Broker) Start() {
	b.t.Helper()
	if err := b.run("up"); err != nil {
		b.t.Fatal(err)
	}
}

// Stop stops the broker cleanly and waits until it has exited.
func (b *Broker) Stop() {
	b.t.Helper()
	if err := b.run("down"); err != nil {
		b.t.Fatal(err)
	}
}

func (b *Broker) run(arg string) error {
	cmd := exec.Command(b.script, arg)
	cmd.Env = b.env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kafka.sh %s: %v\n%s", arg, err, out)
	}
	return nil
}

// freePortPair finds a free port whose successor (the controller's) is free
// too.
func freePortPair(t testing.TB) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1))
		l.Close()
		if err == nil {
			l2.Close()
			return p
		}
	}
	t.Fatal("no free pair of ports")
	return 0
}
