package systest

import (
	"testing"
	"time"
)

// Await polls cond until it holds and fails the test when within passes
// first, naming what it waited for and, when soFar is given, what that
// returns by then (a log, say). The polls start 5 ms apart and slow down
// to 200 ms, so that a quick condition is seen at once and a slow one is
// not asked about too often.
func Await(t testing.TB, what string, within time.Duration, cond func() bool, soFar ...func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	pause := 5 * time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			msg := ""
			for _, f := range soFar {
				msg += "\n" + f()
			}
			t.Fatalf("timed out after %s waiting for %s%s", within, what, msg)
		}
		time.Sleep(pause) // polling a condition something else makes true
		pause = min(2*pause, 200*time.Millisecond)
	}
}
