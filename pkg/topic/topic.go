// Package topic provisions the topics a service writes: it creates them
// idempotently with their partition count, replication factor and configs,
// and refuses to run on an existing topic whose cleanup policy differs from
// the one the service's semantics depend on (a compacted state topic that is
// really a delete topic would silently lose state). It also reads a topic's
// partitions to their end offsets, the one way a restore, a check or a test
// takes in everything a topic holds.
package topic

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/retry"
)

// Spec describes one topic.
type Spec struct {
	Name              string
	Partitions        int
	ReplicationFactor int
	// Configs are topic-level settings such as cleanup.policy and
	// retention.ms. cleanup.policy defaults to delete.
	Configs map[string]string
}

// ErrMismatch marks an existing topic that does not fit its Spec.
var ErrMismatch = errors.New("topic does not match its specification")

// OpError is the cluster's error about one topic in an answer about
// several: Op is the operation as an ACL names it (CREATE,
// DESCRIBE_CONFIGS), so that a refusal can say what is missing.
type OpError struct {
	Op    string
	Topic string
	Err   error
}

func (e *OpError) Error() string {
	verb := map[string]string{"CREATE": "create", "DESCRIBE_CONFIGS": "describe"}[e.Op]
	return fmt.Sprintf("%s topic %s: %v", verb, e.Topic, e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }

// Resource is the operation and the topic: "CREATE topic tweets".
func (e *OpError) Resource() string { return e.Op + " topic " + e.Topic }

func (s Spec) cleanupPolicy() string {
	if p, ok := s.Configs["cleanup.policy"]; ok {
		return p
	}
	return "delete"
}

// Ensure creates the topics that are missing and checks the cleanup policy of
// those that exist. Calling it again with the same specs changes nothing.
func Ensure(ctx context.Context, admin *kafka.AdminClient, specs ...Spec) error {
	if len(specs) == 0 {
		return nil
	}
	req := make([]kafka.TopicSpecification, len(specs))
	for i, s := range specs {
		if s.Partitions < 1 || s.ReplicationFactor < 1 {
			return fmt.Errorf("topic %s: partitions %d and replication factor %d must be at least 1", s.Name, s.Partitions, s.ReplicationFactor)
		}
		cfg := map[string]string{"cleanup.policy": s.cleanupPolicy()}
		for k, v := range s.Configs {
			cfg[k] = v
		}
		req[i] = kafka.TopicSpecification{Topic: s.Name, NumPartitions: s.Partitions, ReplicationFactor: s.ReplicationFactor, Config: cfg}
	}
	res, err := admin.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	for _, r := range res {
		switch r.Error.Code() {
		case kafka.ErrNoError, kafka.ErrTopicAlreadyExists:
		default:
			return &OpError{Op: "CREATE", Topic: r.Topic, Err: r.Error}
		}
	}
	return checkPolicies(ctx, admin, specs)
}

func checkPolicies(ctx context.Context, admin *kafka.AdminClient, specs []Spec) error {
	rs := make([]kafka.ConfigResource, len(specs))
	for i, s := range specs {
		rs[i] = kafka.ConfigResource{Type: kafka.ResourceTopic, Name: s.Name}
	}
	got, err := describe(ctx, admin, rs)
	if err != nil {
		return err
	}
	for i, r := range got {
		want := specs[i].cleanupPolicy()
		have := r.Config["cleanup.policy"].Value
		if !samePolicy(have, want) {
			return fmt.Errorf("%w: %s has cleanup.policy=%s, want %s", ErrMismatch, r.Name, have, want)
		}
	}
	return nil
}

func samePolicy(a, b string) bool {
	norm := func(s string) string {
		parts := strings.Split(strings.ReplaceAll(s, " ", ""), ",")
		if len(parts) == 2 && parts[0] > parts[1] {
			parts[0], parts[1] = parts[1], parts[0]
		}
		return strings.Join(parts, ",")
	}
	return norm(a) == norm(b)
}

// describe reads the topics' configs. A topic created a moment ago may not
// have reached the metadata of the broker that answers yet: that answer
// (unknown topic) is retried until ctx ends.
func describe(ctx context.Context, admin *kafka.AdminClient, rs []kafka.ConfigResource) ([]kafka.ConfigResourceResult, error) {
	wait := 50 * time.Millisecond
	for {
		got, err := admin.DescribeConfigs(ctx, rs)
		if err != nil {
			return nil, fmt.Errorf("describe topics: %w", err)
		}
		unknown := false
		for _, r := range got {
			switch r.Error.Code() {
			case kafka.ErrNoError:
			case kafka.ErrUnknownTopicOrPart, kafka.ErrUnknownTopic:
				unknown = true
			default:
				return nil, &OpError{Op: "DESCRIBE_CONFIGS", Topic: r.Name, Err: r.Error}
			}
		}
		if !unknown {
			return got, nil
		}
		if err := retry.Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("describe topics: not known to the broker yet: %w", err)
		}
		wait = min(2*wait, time.Second)
	}
}

// Retention is the retention.ms of an existing topic; negative means
// forever.
func Retention(ctx context.Context, admin *kafka.AdminClient, name string) (time.Duration, error) {
	got, err := describe(ctx, admin, []kafka.ConfigResource{{Type: kafka.ResourceTopic, Name: name}})
	if err != nil {
		return 0, err
	}
	v := got[0].Config["retention.ms"].Value
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("topic %s: retention.ms %q: %w", name, v, err)
	}
	if ms < 0 {
		return -1, nil
	}
	return time.Duration(ms) * time.Millisecond, nil
}
