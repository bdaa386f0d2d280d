package main_test

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestABadHalfLifeStopsTheStartWithOneLineNamingIt: the counter started
// with a half-life it cannot use exits at once with code 2 and one line
// naming COUNTER_TRENDING_HALF_LIFE and what is wrong, before it talks to
// any broker.
func TestABadHalfLifeStopsTheStartWithOneLineNamingIt(t *testing.T) {
	for value, says := range map[string]string{
		"30s":     "must be from COUNTER_TRENDING_BUCKET (1m0s) to 24h0m0s, got 30s",
		"48h":     "got 48h0m0s",
		"0":       "got 0s",
		"an hour": "an hour",
	} {
		cmd := exec.Command(binary)
		cmd.Env = append(os.Environ(), "KAFKA_BROKERS=127.0.0.1:1", "COUNTER_TRENDING_HALF_LIFE="+value)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Fatalf("COUNTER_TRENDING_HALF_LIFE=%s: exit %v, want 2\n%s", value, err, out)
		}
		line := strings.TrimSpace(string(out))
		if !strings.Contains(line, "COUNTER_TRENDING_HALF_LIFE") || !strings.Contains(line, says) || strings.Contains(line, "\n") {
			t.Fatalf("COUNTER_TRENDING_HALF_LIFE=%s: want one line naming the variable and saying %q, got:\n%s", value, says, out)
		}
	}
}
