package topic_test

import (
	"context"
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
