package measure_test

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/bench/internal/measure"
)

func TestUsageCountsTheWholeProcessTree(t *testing.T) {
	// The shell's child burns the CPU and holds the memory; the shell itself
	// only waits, so a measurement of the leader alone would miss both.
	script := `python3 -c 'b = bytearray(64 << 20)
for _ in range(3): b[::4096] = bytes(len(b[::4096]))
x = 0
for i in range(4_000_000): x += i
print("{\"done\": 1}", flush=True)'`
	p, err := measure.Start("sh", []string{"-c", script}, nil, filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Stdout(), `{"done": 1}`) {
		t.Errorf("stdout = %q, want the result line", p.Stdout())
	}
	u := p.Usage()
	if u.PeakRSS < 64<<20 {
		t.Errorf("peak RSS %d MiB, want at least the 64 MiB the child touched", u.PeakRSS>>20)
	}
	if u.CPUSeconds < 0.1 {
		t.Errorf("CPU %.3f s, want the child's loop counted", u.CPUSeconds)
	}
}

func TestStopEndsTheLeaderAndItsChildren(t *testing.T) {
	p, err := measure.Start("sh", []string{"-c", "sleep 300 & wait"}, nil, filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	var tree []int
	for deadline := time.Now().Add(10 * time.Second); len(tree) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the child never started")
		}
		tree = measure.Tree(p.Pid())
	}
	p.Stop(10 * time.Second)
	select {
	case <-p.Done():
	default:
		t.Fatal("leader still running after Stop")
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if syscall.Kill(tree[1], 0) != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d still running after Stop", tree[1])
		}
	}
}
