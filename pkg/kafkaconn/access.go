package kafkaconn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// A secured cluster refuses a client in three ways, and librdkafka takes
// none of them for a reason to give up: a failed SASL authentication and
// a failed TLS handshake are error events, after which it connects again,
// for ever, while every request of the caller just times out; a missing
// ACL is an error on the one request or record it concerns, often one
// that the client retries or that a transaction takes for abortable. No
// retry changes any of them: they are sorted here as Denied, Classify
// calls them fatal, and the services stop with one line that names the
// cause and the resource (an AccessError).

// Denied reports whether err is or holds an AccessError, or a Kafka error
// by which the cluster refuses this client: its SASL authentication
// failed, its TLS handshake failed, or an ACL it needs is missing (on a
// topic, a group, a transactional id or the cluster).
func Denied(err error) bool {
	var ae *AccessError
	return errors.As(err, &ae) || anyKafka(err, func(ke kafka.Error) bool { return deniedCode(ke.Code()) })
}

func deniedCode(c kafka.ErrorCode) bool {
	switch c {
	case kafka.ErrAuthentication, kafka.ErrSaslAuthenticationFailed, kafka.ErrUnsupportedSaslMechanism, kafka.ErrIllegalSaslState,
		kafka.ErrSsl,
		kafka.ErrTopicAuthorizationFailed, kafka.ErrGroupAuthorizationFailed, kafka.ErrClusterAuthorizationFailed,
		kafka.ErrTransactionalIDAuthorizationFailed:
		return true
	}
	return false
}

// AccessError is a refusal by the cluster, in one line: the cause
// (authentication failed, TLS handshake failed, not authorized), what it
// concerns (a user at the brokers, an operation on a resource) and the
// client's or broker's own words. It holds no secret: librdkafka never
// puts a password in an error.
type AccessError struct {
	Cause    string
	Resource string
	Err      error
}

func (e *AccessError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("kafka: %s: %s", e.Cause, e.Resource)
	}
	return fmt.Sprintf("kafka: %s: %s: %v", e.Cause, e.Resource, e.Err)
}

func (e *AccessError) Unwrap() error { return e.Err }

// Causes of an AccessError.
const (
	CauseAuthentication = "authentication failed"
	CauseTLS            = "TLS handshake failed"
	CauseAuthorization  = "not authorized"
)

// Principal is who the brokers take this client for, as ACLs name it:
// User:<KAFKA_SASL_USERNAME> with SASL; with TLS client certificates it
// is the certificate's name, unknown here.
func (c Config) Principal() string {
	if strings.HasPrefix(strings.ToLower(c.SecurityProtocol), "sasl") && c.SASLUsername != "" {
		return "User:" + c.SASLUsername
	}
	return "this client"
}

// Refused turns err into an AccessError about resource (such as "WRITE
// topic tweets" or "WRITE transactional id ingest-x") when it is an
// authorization refusal, and into one about the connection when it is a
// failed authentication or handshake; any other err is returned as it is.
// An error in err's chain that names its resource itself (a method
// Resource() string, as topic.OpError has) names it instead.
func (c Config) Refused(err error, resource string) error {
	var ae *AccessError
	if err == nil || errors.As(err, &ae) || !Denied(err) {
		return err
	}
	var named interface{ Resource() string }
	if errors.As(err, &named) {
		resource = named.Resource()
	}
	// The broker's or the client's own words: the resource says what was
	// being done.
	var refusal kafka.Error
	anyKafka(err, func(ke kafka.Error) bool {
		if deniedCode(ke.Code()) {
			refusal = ke
			return true
		}
		return false
	})
	switch refusal.Code() {
	case kafka.ErrTopicAuthorizationFailed, kafka.ErrGroupAuthorizationFailed, kafka.ErrClusterAuthorizationFailed,
		kafka.ErrTransactionalIDAuthorizationFailed:
		return &AccessError{Cause: CauseAuthorization, Resource: c.Principal() + " may not " + resource, Err: refusal}
	}
	return c.connectionRefused(refusal.Code(), refusal)
}

// connectionRefused is the AccessError of a failed authentication or TLS
// handshake, naming the user or the CA file and the brokers.
func (c Config) connectionRefused(code kafka.ErrorCode, err error) error {
	if code == kafka.ErrSsl {
		res := "brokers " + c.Brokers
		if strings.Contains(err.Error(), "certificate verify failed") {
			ca := "the system's CA certificates"
			if c.SSLCALocation != "" {
				ca = "KAFKA_SSL_CA_LOCATION=" + c.SSLCALocation
			}
			res += ": their certificate is not signed by a CA in " + ca
		}
		return &AccessError{Cause: CauseTLS, Resource: res, Err: err}
	}
	return &AccessError{Cause: CauseAuthentication,
		Resource: fmt.Sprintf("SASL user %q (%s) at brokers %s", c.SASLUsername, c.SASLMechanism, c.Brokers), Err: err}
}

// refusals keeps the first refusal among a client's error events.
type refusals struct {
	once sync.Once
	err  error
	seen chan struct{} // closed once err is set
	down chan struct{} // a "all brokers down" event came (buffered, 1)
}

func newRefusals() *refusals {
	return &refusals{seen: make(chan struct{}), down: make(chan struct{}, 1)}
}

// event notes ev if it is a refusal or says that no broker answers.
func (r *refusals) event(ev kafka.Event) {
	e, ok := ev.(kafka.Error)
	if !ok {
		return
	}
	switch {
	case deniedCode(e.Code()):
		r.once.Do(func() { r.err = e; close(r.seen) })
	case e.Code() == kafka.ErrAllBrokersDown:
		select {
		case r.down <- struct{}{}:
		default:
		}
	}
}

// Refusal is the refusal among the admin client's error events so far
// (an AccessError), nil when there was none: an operation retried while
// the brokers do not answer checks it, lest it wait for brokers that do
// answer, with a refusal.
func (a *Admin) Refusal() error {
	select {
	case <-a.refused.seen:
		return a.kc.connectionRefused(a.refused.err.(kafka.Error).Code(), a.refused.err)
	default:
		return nil
	}
}

// ErrUnreachable says that no broker could be reached when Check asked.
var ErrUnreachable = errors.New("no broker reachable")

// Check asks the cluster for its metadata and returns once the brokers
// answer (nil), refuse the client (an AccessError: its SASL credentials
// or its TLS trust; librdkafka would try again for ever and report nothing
// but brokers being down), or cannot be reached (an error wrapping
// ErrUnreachable: the service then waits for the brokers its own way,
// and a refusal when they come is an error of its clients), or ctx ends.
// A service calls it first, so that a bad credential or CA stops it at
// start.
func (a *Admin) Check(ctx context.Context) error {
	for {
		if err := a.Refusal(); err != nil {
			return err
		}
		_, err := a.GetMetadata(nil, false, 200)
		if err == nil {
			return nil
		}
		select {
		case <-a.refused.seen:
			continue
		case <-a.refused.down:
			// The refusal, if it is one, comes before the client marks
			// the broker down: one more look.
			select {
			case <-a.refused.seen:
				continue
			default:
			}
			return fmt.Errorf("kafka at %s: %w (%v)", a.kc.Brokers, ErrUnreachable, err)
		case <-ctx.Done():
			return fmt.Errorf("kafka at %s: %w", a.kc.Brokers, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
