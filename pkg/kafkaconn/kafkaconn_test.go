package kafkaconn

import (
	"errors"
	"fmt"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

func TestClassifySortsKafkaErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want Class
	}{
		{"a timeout is retried", kafka.NewError(kafka.ErrTimedOut, "timed out", false), Retriable},
		{"a fenced producer is fatal", kafka.NewError(kafka.ErrFenced, "fenced", false), Fatal},
		{"a fatal error is fatal", kafka.NewError(kafka.ErrInvalidTxnState, "invalid state", true), Fatal},
		{"an error that is not Kafka's is fatal", errors.New("bug"), Fatal},
		{"a wrapped timeout is still retried", fmt.Errorf("commit: %w", kafka.NewError(kafka.ErrTimedOut, "timed out", false)), Retriable},
		{"a call refused by a fatal client is fatal", kafka.NewError(kafka.ErrFatal, "fatal error", false), Fatal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.err); got != tc.want {
				t.Fatalf("Classify(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestQueueFullLooksThroughWrapping(t *testing.T) {
	full := kafka.NewError(kafka.ErrQueueFull, "queue full", false)
	if !QueueFull(full) || !QueueFull(fmt.Errorf("produce: %w", full)) {
		t.Error("a full queue, bare or wrapped, is not taken for one")
	}
	if QueueFull(kafka.NewError(kafka.ErrMsgTimedOut, "timed out", false)) || QueueFull(errors.New("bug")) {
		t.Error("another error is taken for a full queue")
	}
}

func TestFencedLooksThroughEveryWrappedError(t *testing.T) {
	timedOut := kafka.NewError(kafka.ErrMsgTimedOut, "message timed out", false)
	fenced := kafka.NewError(kafka.ErrProducerFenced, "fenced", true)
	invalid := kafka.NewError(kafka.ErrInvalidTxnState, "invalid state", true)
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"a fenced producer", fenced, true},
		{"fencing behind the failure that caused the abort", fmt.Errorf("send offsets: %w; then: %w", timedOut, fenced), true},
		{"a fatal error that is not fencing", fmt.Errorf("send offsets: %w; then: %w", timedOut, invalid), false},
		{"no Kafka error at all", errors.New("bug"), false},
		{"nil", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Fenced(tc.err); got != tc.want {
				t.Fatalf("Fenced(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
