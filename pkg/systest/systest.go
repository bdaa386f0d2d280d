// Package systest supports tests that reach outside their package: it finds
// the repository root and the shared reference data beside it, and builds
// and runs the real service binaries as processes, so that crash, shutdown
// and end-to-end tests see exactly what an operator runs.
package systest

import (
	"os"
	"path/filepath"
	"testing"
)

// Root returns the repository root: the nearest folder above the test's
// working directory that holds go.work. It skips the test when there is
// none (a module built outside the repository).
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
			t.Skip("no go.work above the test's folder: not inside the repository")
		}
		dir = parent
	}
}

// SharedData returns the path of rel inside the reference data folder,
// ../shared/data seen from the repository root, or skips the test when it
// is not there: such a test is never the only test of a behaviour.
func SharedData(t testing.TB, rel ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{Root(t), "..", "shared", "data"}, rel...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("reference data not available: %v", err)
	}
	return p
}
