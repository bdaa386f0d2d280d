package kafkaconn_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/topic"
)

func TestDeniedKnowsEachWayTheClusterRefusesAClient(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"a failed SASL authentication", kafka.NewError(kafka.ErrAuthentication, "SASL authentication error", false), true},
		{"a failed TLS handshake", kafka.NewError(kafka.ErrSsl, "SSL handshake failed", false), true},
		{"a missing topic ACL, wrapped", fmt.Errorf("produce: %w", kafka.NewError(kafka.ErrTopicAuthorizationFailed, "denied", false)), true},
		{"a missing group ACL", kafka.NewError(kafka.ErrGroupAuthorizationFailed, "denied", false), true},
		{"a missing transactional id ACL", kafka.NewError(kafka.ErrTransactionalIDAuthorizationFailed, "denied", true), true},
		{"a missing cluster ACL", kafka.NewError(kafka.ErrClusterAuthorizationFailed, "denied", false), true},
		{"an access error of its own", fmt.Errorf("start: %w", &kafkaconn.AccessError{Cause: kafkaconn.CauseAuthorization, Resource: "x"}), true},
		{"a broker that is down", kafka.NewError(kafka.ErrAllBrokersDown, "1/1 brokers are down", false), false},
		{"a timeout", kafka.NewError(kafka.ErrTimedOut, "timed out", false), false},
		{"a fenced producer", kafka.NewError(kafka.ErrProducerFenced, "fenced", true), false},
		{"nil", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := kafkaconn.Denied(tc.err); got != tc.want {
				t.Fatalf("Denied(%v) = %v, want %v", tc.err, got, tc.want)
			}
			if tc.want && kafkaconn.Classify(tc.err) != kafkaconn.Fatal {
				t.Fatalf("Classify(%v) = %v: a refusal is retried or aborted", tc.err, kafkaconn.Classify(tc.err))
			}
		})
	}
}

func TestRefusedSaysInOneLineWhatWasRefusedAndNeverThePassword(t *testing.T) {
	const password = "s3cret-Pa55word"
	kc := kafkaconn.Config{Brokers: "broker-1:9096", SecurityProtocol: "SASL_SSL", SASLMechanism: "SCRAM-SHA-512",
		SASLUsername: "ingest", SASLPassword: password, SSLCALocation: "/etc/hashtrend/ca.crt"}
	topicDenied := kafka.NewError(kafka.ErrTopicAuthorizationFailed, "Broker: Topic authorization failed", false)
	for _, tc := range []struct {
		name     string
		err      error
		resource string
		want     string
	}{
		{"a missing ACL names the principal, the operation and the resource",
			fmt.Errorf("commit: %w", topicDenied), "WRITE topic tweets",
			"kafka: not authorized: User:ingest may not WRITE topic tweets: Broker: Topic authorization failed"},
		{"an error that names its own resource names it instead",
			fmt.Errorf("topics: %w", &topic.OpError{Op: "CREATE", Topic: "ingest-positions", Err: topicDenied}), "create the topics it writes",
			"kafka: not authorized: User:ingest may not CREATE topic ingest-positions: Broker: Topic authorization failed"},
		{"a failed authentication names the user, the mechanism and the brokers",
			kafka.NewError(kafka.ErrAuthentication, "SASL authentication error: Authentication failed", false), "WRITE topic tweets",
			`kafka: authentication failed: SASL user "ingest" (SCRAM-SHA-512) at brokers broker-1:9096: SASL authentication error: Authentication failed`},
		{"an untrusted certificate names the CA file",
			kafka.NewError(kafka.ErrSsl, "SSL handshake failed: certificate verify failed", false), "WRITE topic tweets",
			"kafka: TLS handshake failed: brokers broker-1:9096: their certificate is not signed by a CA in KAFKA_SSL_CA_LOCATION=/etc/hashtrend/ca.crt: SSL handshake failed: certificate verify failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := kc.Refused(tc.err, tc.resource)
			var ae *kafkaconn.AccessError
			if !errors.As(err, &ae) {
				t.Fatalf("Refused(%v) = %v, not an AccessError", tc.err, err)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if strings.Contains(err.Error(), password) || strings.Contains(fmt.Sprintf("%+v %#v", err, kc), password) {
				t.Error("the password shows")
			}
		})
	}
	other := kafka.NewError(kafka.ErrTimedOut, "timed out", false)
	if got := kc.Refused(other, "WRITE topic tweets"); got != other {
		t.Errorf("Refused(%v) = %v, want it as it is", other, got)
	}
}

func TestCheckPassesWhenTheBrokerAnswers(t *testing.T) {
	admin, err := kafkaconn.Config{Brokers: kafkatest.Brokers(t), SecurityProtocol: "plaintext"}.NewAdmin("check-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := admin.Check(ctx); err != nil {
		t.Fatal(err)
	}
}

// With no broker listening, Check says so as soon as the client has tried
// them all, rather than when ctx ends: the service then waits for the
// brokers its own way.
func TestCheckSaysWhenNoBrokerCanBeReached(t *testing.T) {
	admin, err := kafkaconn.Config{Brokers: kafkatest.Unreachable(t), SecurityProtocol: "plaintext"}.NewAdmin("check-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = admin.Check(ctx)
	if !errors.Is(err, kafkaconn.ErrUnreachable) || kafkaconn.Denied(err) {
		t.Fatalf("Check = %v, want ErrUnreachable", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Check waited for the context to end")
	}
}
