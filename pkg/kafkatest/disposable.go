package kafkatest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

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
	data   string
	env    []string
}

// Disposable starts a broker for this test on free ports in a temporary
// folder and stops it when the test ends. The jars must have been fetched
// (make kafka-fetch; make test does it); without them the test is skipped,
// or fails under REQUIRE_KAFKA=1. With KAFKATEST_KEEP_FAILED set to a
// folder, a failed test's broker data and logs are kept there, with what
// the broker says of its transactions (transactions.txt).
func Disposable(t testing.TB) *Broker {
	t.Helper()
	Brokers(t) // the test needs Kafka at all; honours REQUIRE_KAFKA
	root := systest.Root(t)
	lib := os.Getenv("KAFKA_LIB") // kafka.sh's, which the broker is started with
	if lib == "" {
		lib = filepath.Join(root, "deploy", "kafka", "lib")
	}
	if _, err := os.Stat(filepath.Join(lib, ".complete")); err != nil {
		systest.Unavailable(t, "the Kafka jars are not fetched into %s (make kafka-fetch)", lib)
	}
	// The ports are free when picked but may be taken by another process
	// before the broker binds them (tests run in parallel beside other
	// test runs): a first start that fails to bind tries new ports.
	var err error
	for range 3 {
		port := freePortPair(t)
		data := dataDir(t)
		b := &Broker{
			Addr:   fmt.Sprintf("127.0.0.1:%d", port),
			t:      t,
			script: filepath.Join(root, "deploy", "kafka", "kafka.sh"),
			data:   data,
			env: append(os.Environ(), fmt.Sprintf("KAFKA_PORT=%d", port),
				fmt.Sprintf("KAFKA_CONTROLLER_PORT=%d", port+1), "KAFKA_DATA_DIR="+data, "KAFKA_HEAP=384m",
				"KAFKA_SECURE_PORT=off"), // a plain broker, whatever the test's environment asks of the shared one
		}
		if err = b.run("up"); err == nil {
			t.Cleanup(func() { _ = b.run("down") })
			t.Cleanup(b.reportSkippedMarkers)
			if os.Getenv("KAFKATEST_KEEP_FAILED") != "" {
				t.Cleanup(b.describeTransactions)
			}
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

// StartedAt is when the broker last said it had started: the time of the
// last "Kafka Server started" line of its log, the line Start waits for.
// Start notices that line only at its next look, up to a second later, so
// a measurement of what follows a restart starts here.
func (b *Broker) StartedAt() (time.Time, error) {
	log, err := os.ReadFile(filepath.Join(b.data, "logs", "server.log"))
	if err != nil {
		return time.Time{}, err
	}
	i := bytes.LastIndex(log, []byte("Kafka Server started"))
	if i < 0 {
		return time.Time{}, fmt.Errorf("the broker's log has no start")
	}
	line := log[bytes.LastIndexByte(log[:i], '\n')+1 : i]
	// "[2026-12-02 02:45:04,349] INFO ...": log4j's %d, in local time.
	open, shut := bytes.IndexByte(line, '['), bytes.IndexByte(line, ']')
	if open < 0 || shut < open {
		return time.Time{}, fmt.Errorf("no time in %q", line)
	}
	return time.ParseInLocation("2006-01-02 15:04:05,000", string(line[open+1:shut]), time.Local)
}

// Stop stops the broker cleanly and waits until it has exited.
func (b *Broker) Stop() {
	b.t.Helper()
	if err := b.run("down"); err != nil {
		b.t.Fatal(err)
	}
}

// Kill ends the broker with SIGKILL, as a crash or a power cut would (no
// clean shutdown, nothing flushed), and waits until it has exited.
func (b *Broker) Kill() {
	b.t.Helper()
	raw, err := os.ReadFile(filepath.Join(b.data, "kafka.pid"))
	if err != nil {
		b.t.Fatalf("broker pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		b.t.Fatalf("broker pid %q: %v", raw, err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		b.t.Fatalf("kill broker %d: %v", pid, err)
	}
	// The main thread of a killed JVM turns zombie while its other threads
	// still exit, and those hold the listening sockets: the broker is gone
	// only once the process is and nothing answers on its port.
	deadline := time.Now().Add(60 * time.Second)
	for alive(pid) || b.answers() {
		if time.Now().After(deadline) {
			b.t.Fatalf("broker %d still there 60 s after SIGKILL", pid)
		}
		time.Sleep(50 * time.Millisecond) // polling a process that is not our child
	}
}

// answers reports whether something accepts connections on the broker's
// port.
func (b *Broker) answers() bool {
	c, err := net.DialTimeout("tcp", b.Addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func (b *Broker) run(arg string) error {
	cmd := exec.Command(b.script, arg)
	cmd.Env = b.env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kafka.sh %s: %v\n%s", arg, err, out)
	}
	return nil
}

// dataDir is the broker's data folder: a temporary one, or with
// KAFKATEST_KEEP_FAILED set, a folder under it that is kept when the test
// fails, so that the logs and the broker's log segments can be examined.
func dataDir(t testing.TB) string {
	t.Helper()
	keep := os.Getenv("KAFKATEST_KEEP_FAILED")
	if keep == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(keep, 0o755); err != nil {
		t.Fatal(err)
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	dir, err := os.MkdirTemp(keep, name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("broker data kept in %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	return dir
}

// skippedMarkers is what the broker's transaction coordinator logs when it
// completes a transaction without writing its markers to some partitions,
// taking them for deleted. Kafka 4.4.0 also does that to a partition that
// exists but has no leader for a moment (KAFKA-20734), as each partition
// of a single broker restarted after a SIGKILL has while the controller
// takes it out of the ISR for its unclean shutdown: the coordinator,
// resuming a commit from before the kill, records the transaction as
// complete, and each partition left without a marker holds every
// read_committed reader below it for good (a hanging transaction).
const skippedMarkers = "these partitions are likely deleted already and hence can be skipped"

// reportSkippedMarkers says, when the test failed, whether the broker
// skipped transaction markers, so that a test failing on the broker's
// fault says so.
func (b *Broker) reportSkippedMarkers() {
	if !b.t.Failed() {
		return
	}
	for _, line := range b.SkippedMarkers() {
		b.t.Logf("the broker completed a transaction without writing all its markers (KAFKA-20734: a partition without a leader taken for deleted); its partitions hold read_committed readers back for good:\n%s", line)
	}
}

// SkippedMarkers returns the lines of the broker's log that say it
// completed a transaction without writing all its markers (KAFKA-20734),
// none when it did not: a test that restarts the broker mid-commit can
// tell the broker's hanging transaction from a fault of its own.
func (b *Broker) SkippedMarkers() []string {
	log, err := os.ReadFile(filepath.Join(b.data, "logs", "server.log"))
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, skippedMarkers) {
			out = append(out, line)
		}
	}
	return out
}

// describeTransactions writes, when the test failed, what the broker says
// of its transactions into its data folder (transactions.txt).
func (b *Broker) describeTransactions() {
	if !b.t.Failed() || !b.answers() {
		return
	}
	tool := func(args ...string) string {
		cmd := exec.Command(b.script, append([]string{"tool", "org.apache.kafka.tools.TransactionsCommand", "--bootstrap-server", b.Addr}, args...)...)
		// The tool's own log goes elsewhere than the broker's.
		cmd.Env = append(b.env[:len(b.env):len(b.env)], "KAFKA_DATA_DIR="+filepath.Join(b.data, "tool"))
		out, err := cmd.CombinedOutput()
		return fmt.Sprintf("$ %s (%v)\n%s\n", strings.Join(args, " "), err, out)
	}
	var report strings.Builder
	list := tool("list")
	report.WriteString(list)
	report.WriteString(tool("find-hanging", "--broker-id", "1"))
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] != "TransactionalId" && !strings.HasPrefix(f[0], "$") {
			report.WriteString(tool("describe", "--transactional-id", f[0]))
		}
	}
	_ = os.WriteFile(filepath.Join(b.data, "transactions.txt"), []byte(report.String()), 0o644)
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

// alive reports whether process pid exists and is not a zombie waiting to
// be reaped by a parent other than us.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state ...: the state follows the last ')'.
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}
