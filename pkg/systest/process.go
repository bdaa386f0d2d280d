package systest

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Process is a service binary running under a test, its output captured.
type Process struct {
	Name string
	t    testing.TB
	cmd  *exec.Cmd
	out  Buffer
	done chan struct{}
	err  error
}

// Start runs bin with the test's environment plus env ("K=V" entries, later
// ones winning). The process is killed when the test ends, and its output
// is logged if the test failed.
func Start(t testing.TB, name, bin string, env ...string) *Process {
	t.Helper()
	p := &Process{Name: name, t: t, done: make(chan struct{})}
	p.cmd = exec.Command(bin)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("output of %s (exit: %v):\n%s", name, p.err, p.Output())
		}
	})
	return p
}

// Output returns what the process wrote to stdout and stderr so far.
func (p *Process) Output() string { return p.out.String() }

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Err is how the process exited (nil: with 0); only meaningful once
// Running is false.
func (p *Process) Err() error {
	if p.Running() {
		return nil
	}
	return p.err
}

// WaitOutput waits until the output holds substr at least n times, and
// fails the test if the process exits first or timeout passes.
func (p *Process) WaitOutput(substr string, n int, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for strings.Count(p.Output(), substr) < n {
		if !p.Running() {
			p.t.Fatalf("%s exited (%v) while waiting for %q", p.Name, p.err, substr)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: %q not written %d times within %s", p.Name, substr, n, timeout)
		}
		time.Sleep(20 * time.Millisecond) // polling the output
	}
}

// Running reports whether the process has not exited yet.
func (p *Process) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Kill ends the process with SIGKILL, no cleanup of any kind, and waits.
func (p *Process) Kill() {
	if p.Running() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// Stop sends SIGTERM and fails the test unless the process exits with 0
// within timeout.
func (p *Process) Stop(timeout time.Duration) {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	p.Wait(timeout)
}

// Wait waits for the process to exit by itself and fails the test unless
// it exits with 0 within timeout.
func (p *Process) Wait(timeout time.Duration) {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("%s did not exit within %s", p.Name, timeout)
	}
	if p.err != nil {
		p.t.Fatalf("%s exited with %v:\n%s", p.Name, p.err, p.Output())
	}
}

// WaitExit waits for the process to exit by itself, whatever its exit
// code, and returns how it exited (nil: with 0); it fails the test unless
// the process exits within timeout.
func (p *Process) WaitExit(timeout time.Duration) error {
	p.t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.t.Fatalf("%s did not exit within %s:\n%s", p.Name, timeout, p.Output())
		return nil
	}
}

// RunUntilCleanup runs run in a goroutine until the test ends, then cancels
// its context and fails the test unless run returns nil within 30 s: the
// in-process twin of Start for a component's Run method.
func RunUntilCleanup(t testing.TB, what string, run func(context.Context) error) {
	t.Helper()
	t.Cleanup(RunInBackground(t, what, run))
}

// RunInBackground runs run in a goroutine until stop, which cancels its
// context and fails the test unless run returns nil within 30 s.
func RunInBackground(t testing.TB, what string, run func(context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	return func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s returned %v after cancellation, want nil", what, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not return within 30s of cancellation", what)
		}
	}
}

// Serve runs serve on a listener at a free loopback port in the background
// (see RunInBackground) and returns the port's address.
func Serve(t testing.TB, what string, serve func(context.Context, net.Listener) error) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln.Addr().String(), RunInBackground(t, what, func(ctx context.Context) error { return serve(ctx, ln) })
}

// Healthcheck runs the process's binary with the argument "healthcheck"
// and the same environment, as a container runtime does beside the running
// service, and returns its exit code and output.
func (p *Process) Healthcheck() (int, string) {
	p.t.Helper()
	cmd := exec.Command(p.cmd.Path, "healthcheck")
	cmd.Env = p.cmd.Env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	default:
		p.t.Fatalf("healthcheck of %s: %v", p.Name, err)
		return -1, ""
	}
}

// CheckHealthcheck tests the binary's "healthcheck" against the running
// process: it must answer 0 once the ops server is up (within timeout,
// while the process runs), and 1 once the process is killed.
func (p *Process) CheckHealthcheck(timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, out := p.Healthcheck()
		if code == 0 {
			break
		}
		if !p.Running() {
			p.t.Fatalf("%s exited (%v) before its healthcheck passed:\n%s", p.Name, p.err, p.Output())
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("healthcheck of the running %s: exit %d after %s: %s", p.Name, code, timeout, out)
		}
		time.Sleep(100 * time.Millisecond) // the ops server starts listening
	}
	p.Kill()
	if code, out := p.Healthcheck(); code != 1 {
		p.t.Fatalf("healthcheck of the killed %s: exit %d, want 1: %s", p.Name, code, out)
	}
}
