package main_test

import (
	"testing"
	"time"
)

func TestHealthcheckAsksTheRunningCounter(t *testing.T) {
	start(t, newPipeline(t, 1), "health").CheckHealthcheck(60 * time.Second)
}
