package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/systest"
)

var binary string

// TestMain builds the printer binary once for the process tests.
func TestMain(m *testing.M) { systest.MainWithBinary(m, ".", "printer", &binary) }

func TestHealthcheckAsksTheRunningPrinter(t *testing.T) {
	top := kafkatest.Topic(t, "top", 1, map[string]string{"cleanup.policy": "compact"})
	p := systest.Start(t, "printer", binary, "KAFKA_BROKERS="+kafkatest.Brokers(t),
		"TOPIC_TOP="+top, "PRINTER_OPS_ADDR="+systest.FreeAddr(t))
	p.CheckHealthcheck(60 * time.Second)
}

// TestANameThatCannotBeAFacetStopsTheStart: the printer started with a
// PRINTER_FACET that names no facet exits at once with code 2 and one line
// naming the variable and the facet meant, where there is one.
func TestANameThatCannotBeAFacetStopsTheStart(t *testing.T) {
	for value, says := range map[string]string{
		"lang:xx":        `"xx" is not a language`,
		"source:blusky":  `"blusky" is not a network`,
		"lang:DE":        "did you mean lang:de?",
		"bluesky/lang:a": "not all, source:<network>, lang:<language>",
	} {
		cmd := exec.Command(binary)
		cmd.Env = append(os.Environ(), "KAFKA_BROKERS=127.0.0.1:1", "PRINTER_FACET="+value)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Fatalf("PRINTER_FACET=%s: exit %v, want 2\n%s", value, err, out)
		}
		line := strings.TrimSpace(string(out))
		if !strings.Contains(line, "PRINTER_FACET") || !strings.Contains(line, says) || strings.Contains(line, "\n") {
			t.Fatalf("PRINTER_FACET=%s: want one line naming the variable and saying %q, got:\n%s", value, says, out)
		}
	}
}
