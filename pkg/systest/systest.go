// Package systest supports tests that reach outside their package: it finds
// the repository root and the shared reference data beside it, and builds
// and runs the real service binaries as processes, so that crash, shutdown
// and end-to-end tests see exactly what an operator runs.
package systest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Unavailable ends a test that lacks something it needs from outside (a
// broker, the Kafka jars, the reference data): where REQUIRE_KAFKA=1 is set,
// as CI sets it, the test fails, since a skip there would pass a test that
// never ran; elsewhere it is skipped with the message.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("REQUIRE_KAFKA") == "1" {
		t.Fatalf(format+" (REQUIRE_KAFKA=1)", args...)
	}
	t.Skipf(format, args...)
}

// Root returns the repository root: the nearest folder above the test's
// working directory that holds go.work. Without one (a module built outside
// the repository) the test is Unavailable.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			Unavailable(t, "no go.work above the test's folder: not inside the repository")
		}
		dir = parent
	}
}

// SharedData returns the path of rel inside the reference data folder,
// ../shared/data seen from the repository root; when it is not there the
// test is Unavailable (such a test is never the only test of a behaviour,
// but CI must run it).
func SharedData(t testing.TB, rel ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{Root(t), "..", "shared", "data"}, rel...)...)
	if _, err := os.Stat(p); err != nil {
		Unavailable(t, "reference data not available: %v", err)
	}
	return p
}

// SharedLines returns the lines of a file of the reference data (see
// SharedData), gunzipped when its name ends in .gz, without their line
// ends; a final line without one is kept.
func SharedLines(t testing.TB, rel ...string) [][]byte {
	t.Helper()
	f, err := os.Open(SharedData(t, rel...))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(f.Name(), ".gz") {
		if r, err = gzip.NewReader(f); err != nil {
			t.Fatal(err)
		}
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

// Build compiles the main package in dir (a service's folder, "." for the
// test's own) into a temporary folder, for tests that run the real binary
// as a process. It returns the binary's path and a function that removes
// it; call it from TestMain.
func Build(dir, name string) (string, func(), error) {
	tmp, err := os.MkdirTemp("", name+"-bin-")
	if err != nil {
		return "", nil, err
	}
	bin := filepath.Join(tmp, name)
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(tmp)
		return "", nil, fmt.Errorf("build %s: %v\n%s", name, err, out)
	}
	return bin, func() { os.RemoveAll(tmp) }, nil
}

// MainWithBinary is a TestMain body for tests of a service binary: it
// builds the main package in dir as name, stores its path in *bin, runs
// the tests, removes the binary and exits with the tests' code.
func MainWithBinary(m *testing.M, dir, name string, bin *string) {
	path, remove, err := Build(dir, name)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin = path
	code := m.Run()
	remove()
	os.Exit(code)
}

// FreeAddrs returns n loopback addresses (127.0.0.1:port) that nothing
// listens on right now, all different.
func FreeAddrs(t testing.TB, n int) []string {
	t.Helper()
	var addrs []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return addrs
}

// FreeAddr returns one loopback address nothing listens on right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return FreeAddrs(t, 1)[0]
}

// Failing is an operation for retry tests: its i-th call returns fails[i],
// and every call after them succeeds. Calls says how many calls it had.
type Failing struct {
	Fails []error
	Calls int
}

// Call is the operation.
func (f *Failing) Call() error {
	f.Calls++
	if f.Calls <= len(f.Fails) {
		return f.Fails[f.Calls-1]
	}
	return nil
}
