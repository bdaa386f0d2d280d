package topic_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/topic"
)

func TestEndOffsetsOfAMissingTopicIsAnError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := topic.EndOffsets(ctx, kafkatest.Admin(t), kafkatest.Name(t, "missing"), kafka.IsolationLevelReadCommitted)
	if err == nil {
		t.Fatal("end offsets of a topic that does not exist: no error")
	}
}

func TestLeaderMovingIsOnlyAnUnknownLeader(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{kafka.NewError(kafka.ErrNotLeaderForPartition, "not leader", false), true},
		{fmt.Errorf("end offset of t[2]: %w", kafka.NewError(kafka.ErrLeaderNotAvailable, "no leader", false)), true},
		{kafka.NewError(kafka.ErrUnknownTopicOrPart, "unknown", false), false},
		{errors.New("topic t: not found"), false},
		{nil, false},
	} {
		if got := topic.LeaderMoving(tc.err); got != tc.want {
			t.Errorf("LeaderMoving(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
