package main_test

import (
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/systest"
)

func TestHealthcheckAsksTheRunningCounter(t *testing.T) {
	p := newPipeline(t, 1)
	c := systest.Start(t, "counter", binary,
		"KAFKA_BROKERS="+p.brokers,
		"TOPIC_TWEETS="+p.tweets, "TOPIC_DLQ="+p.dlq, "TOPIC_DELTAS="+p.deltas,
		"TOPIC_COUNTS="+p.counts, "TOPIC_TOP="+p.top,
		"COUNTER_GROUP_TALLY="+p.tallyGroup, "COUNTER_GROUP_RANK="+p.rankGroup,
		"COUNTER_INSTANCE_ID="+p.run+"-health",
		"COUNTER_OPS_ADDR="+systest.FreeAddr(t))
	c.CheckHealthcheck(60 * time.Second)
}
