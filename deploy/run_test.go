package deploy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/pkg/systest"
)

func port(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

func listening(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// lines collects a stream's lines and lets a test wait for one that matches.
type lines struct {
	mu   sync.Mutex
	all  []string
	more chan struct{}
}

func collect(r io.Reader) *lines {
	l := &lines{more: make(chan struct{}, 1)}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			l.mu.Lock()
			l.all = append(l.all, sc.Text())
			l.mu.Unlock()
			select {
			case l.more <- struct{}{}:
			default:
			}
		}
	}()
	return l
}

func (l *lines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.all, "\n")
}

// waitFor waits until some line matches re and returns its submatches.
func (l *lines) waitFor(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	return l.waitForN(t, re, 1, timeout)[0]
}

// waitForN waits until n lines match re and returns their submatches.
func (l *lines) waitForN(t *testing.T, re *regexp.Regexp, n int, timeout time.Duration) [][]string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		var found [][]string
		l.mu.Lock()
		for _, s := range l.all {
			if m := re.FindStringSubmatch(s); m != nil {
				found = append(found, m)
			}
		}
		l.mu.Unlock()
		if len(found) >= n {
			return found
		}
		select {
		case <-l.more:
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatalf("not %d lines matching %s within %s", n, re, timeout)
		}
	}
}

// TestMakeRunShowsTablesAndCtrlCStopsEverything runs the README's run
// command as a new user would, on a broker data directory of its own: it
// waits for the printer's first table with a hashtag in it and for the
// first trending list, which the generated history must give before any
// post of real time (with the trending view's windows and the history
// shortened, so that the test reads minutes of history, not hours), presses
// Ctrl+C (SIGINT to the foreground process group) and checks that every
// process make run started, the broker included, is gone.
func TestMakeRunShowsTablesAndCtrlCStopsEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker of its own and the whole pipeline")
	}
	addrs := systest.FreeAddrs(t, 3)
	kafkaPort, controllerPort, page := port(addrs[0]), port(addrs[1]), addrs[2]
	data := t.TempDir()
	cmd := exec.Command("make", "--no-print-directory", "run")
	cmd.Dir = rootDir()
	cmd.Env = append(os.Environ(),
		"KAFKA_BROKERS=127.0.0.1:"+strconv.Itoa(kafkaPort),
		"KAFKA_PORT="+strconv.Itoa(kafkaPort),
		"KAFKA_CONTROLLER_PORT="+strconv.Itoa(controllerPort),
		"KAFKA_DATA_DIR="+data,
		"RUN_DIR="+filepath.Join(data, "run"),
		"BIN_DIR="+filepath.Join(data, "bin"),
		"INGEST_OPS_ADDR=127.0.0.1:0", "COUNTER_OPS_ADDR=127.0.0.1:0", "PRINTER_OPS_ADDR=off",
		"PRINTER_HTTP_ADDR="+page,
		// The demo's trending view scaled down thirtyfold, a horizon of 12
		// minutes, with an hour of history at half the demo's rate and a
		// rise starting every 2 minutes: the baseline is whole 48 minutes
		// of post time before the history ends, some 290,000 posts that
		// the counter reads in several windows, so that a list at a
		// watermark in the history is published however the counter's
		// windows fall.
		"INGEST_SYNTHETIC_RATE=100", "INGEST_SYNTHETIC_HISTORY=1h", "INGEST_SYNTHETIC_RISE_EVERY=2m", "INGEST_SYNTHETIC_RISE_FOR=8m",
		"COUNTER_TRENDING_RECENT=2m", "COUNTER_TRENDING_BASELINE=10m",
	)
	// Every post ingest writes in real time is created after this.
	began := time.Now()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a terminal's foreground group
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out, errs := collect(stdout), collect(stderr)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var pids []int
	t.Cleanup(func() {
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", out.text(), errs.text())
		}
	})

	started := regexp.MustCompile(`^run: (?:counter|ingest) started .*\(pid (\d+),`)
	for _, m := range errs.waitForN(t, started, 2, 5*time.Minute) {
		pid, _ := strconv.Atoi(m[1])
		pids = append(pids, pid)
	}
	brokerPid := readPid(t, filepath.Join(data, "kafka.pid"))
	pids = append(pids, brokerPid)

	// A table row with a hashtag and a count: the pipeline works end to end.
	row := regexp.MustCompile(`^\|\s*#\S.*\|\s*[1-9][0-9]*\|$`)
	out.waitFor(t, row, 2*time.Minute)
	if !strings.Contains(out.text(), "Batch: ") {
		t.Fatalf("a table row without a Batch header:\n%s", out.text())
	}
	// The page says where it is and serves the same snapshots.
	errs.waitFor(t, regexp.MustCompile(`^run: the live page: http://127\.0\.0\.1:`+strconv.Itoa(port(page))+`/$`), time.Second)
	if s, err := pageSnapshot(page); err != nil || len(s.Top) == 0 {
		t.Fatalf("the page's latest snapshot has no hashtag while the console shows one (%v)", err)
	}

	// Trends from the first minute: the first trending list is one of
	// the history's, its watermark before the first real-time post.
	snaps := kafkatest.AwaitSnapshots(t, "127.0.0.1:"+strconv.Itoa(kafkaPort), "top-hashtags", "a trending list", 3*time.Minute,
		func(ss []snapshot.Snapshot) bool {
			return slices.ContainsFunc(ss, func(s snapshot.Snapshot) bool { return len(s.Trending) > 0 })
		})
	first := snaps[slices.IndexFunc(snaps, func(s snapshot.Snapshot) bool { return len(s.Trending) > 0 })]
	if first.Watermark == nil || !first.Watermark.Before(began) {
		t.Errorf("the first trending list (batch %d) is at watermark %v, not in the history before %s", first.Batch, first.Watermark, began.Format(time.RFC3339Nano))
	} else {
		t.Logf("first trending list: batch %d, %.1f s after make run started, watermark %s before it, %d tags (#%s first)",
			first.Batch, first.ProducedAt.Sub(began).Seconds(), began.Sub(*first.Watermark).Round(time.Second), len(first.Trending), first.Trending[0].Hashtag)
	}

	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(3 * time.Minute):
		t.Fatal("make run did not end within 3 minutes of Ctrl+C")
	}
	for _, svc := range []string{"printer", "ingest", "counter"} {
		re := regexp.MustCompile(fmt.Sprintf(`^run: %s stopped \(exit (\d+)\)`, svc))
		if m := errs.waitFor(t, re, time.Second); m[1] != "0" {
			t.Errorf("%s exited with %s after Ctrl+C, want 0", svc, m[1])
		}
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("process %d is still running after make run ended", pid)
		}
	}
	if listening(kafkaPort) {
		t.Errorf("the broker still listens on %d", kafkaPort)
	}
}

// pageSnapshot reads the latest snapshot from a printer page's /api/snapshot.
func pageSnapshot(addr string) (snapshot.Snapshot, error) {
	resp, err := http.Get("http://" + addr + "/api/snapshot")
	if err != nil {
		return snapshot.Snapshot{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	s, err := snapshot.Decode(b)
	if err != nil {
		return snapshot.Snapshot{}, fmt.Errorf("/api/snapshot (%s): %w", resp.Status, err)
	}
	return s, nil
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("broker pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("broker pid file: %v", err)
	}
	return pid
}
