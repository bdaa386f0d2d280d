package topic_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/topic"
)

func TestEnsureIsIdempotentAndRejectsAWrongCleanupPolicy(t *testing.T) {
	admin := kafkatest.Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	compacted := topic.Spec{Name: kafkatest.Name(t, "counts"), Partitions: 1, ReplicationFactor: 1,
		Configs: map[string]string{"cleanup.policy": "compact"}}
	deleted := topic.Spec{Name: kafkatest.Name(t, "posts"), Partitions: 3, ReplicationFactor: 1,
		Configs: map[string]string{"retention.ms": "604800000"}}
	kafkatest.DeleteAfter(t, compacted.Name, deleted.Name)

	for i := 0; i < 2; i++ {
		if err := topic.Ensure(ctx, admin, compacted, deleted); err != nil {
			t.Fatalf("Ensure, call %d: %v", i+1, err)
		}
	}
	md, err := admin.GetMetadata(&deleted.Name, false, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(md.Topics[deleted.Name].Partitions); n != 3 {
		t.Fatalf("%s has %d partitions, want 3", deleted.Name, n)
	}

	if r, err := topic.Retention(ctx, admin, deleted.Name); err != nil || r != 7*24*time.Hour {
		t.Fatalf("Retention of %s = %v, %v; want 168h", deleted.Name, r, err)
	}

	// The same name, now expected to be compacted: a startup error, not a
	// silent surprise.
	wrong := deleted
	wrong.Configs = map[string]string{"cleanup.policy": "compact"}
	err = topic.Ensure(ctx, admin, wrong)
	if !errors.Is(err, topic.ErrMismatch) {
		t.Fatalf("Ensure on a delete topic expecting compact: %v, want ErrMismatch", err)
	}
	wrong = compacted
	wrong.Configs = nil
	if err := topic.Ensure(ctx, admin, wrong); !errors.Is(err, topic.ErrMismatch) {
		t.Fatalf("Ensure on a compacted topic expecting delete: %v, want ErrMismatch", err)
	}
}
