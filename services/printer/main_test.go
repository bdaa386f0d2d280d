package main

import (
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
