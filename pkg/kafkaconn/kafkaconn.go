// Package kafkaconn holds what every service needs to talk to Kafka: the
// connection settings read from KAFKA_* variables (brokers, client id and
// the SASL/SSL security settings passed through to librdkafka), the client
// configuration built from them, and the one place where Kafka errors are
// sorted into retry, abort and stop.
package kafkaconn

import (
	"errors"
	"maps"
	"strings"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/config"
)

// Config is the connection to the cluster. Loaded with the prefix KAFKA.
type Config struct {
	Brokers          string        `envconfig:"BROKERS" default:"127.0.0.1:9092" desc:"bootstrap brokers, host:port, comma separated"`
	ClientID         string        `envconfig:"CLIENT_ID" desc:"client.id sent to the brokers (default: the service name)"`
	SecurityProtocol string        `envconfig:"SECURITY_PROTOCOL" default:"plaintext" desc:"plaintext, ssl, sasl_plaintext or sasl_ssl"`
	SASLMechanism    string        `envconfig:"SASL_MECHANISM" desc:"PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"`
	SASLUsername     string        `envconfig:"SASL_USERNAME" desc:"SASL user name"`
	SASLPassword     config.Secret `envconfig:"SASL_PASSWORD" desc:"SASL password (never logged)"`
	SSLCALocation    string        `envconfig:"SSL_CA_LOCATION" desc:"CA certificate file for verifying the brokers"`
	SSLCertLocation  string        `envconfig:"SSL_CERTIFICATE_LOCATION" desc:"client certificate file"`
	SSLKeyLocation   string        `envconfig:"SSL_KEY_LOCATION" desc:"client private key file"`
	SSLKeyPassword   config.Secret `envconfig:"SSL_KEY_PASSWORD" desc:"client private key password (never logged)"`
	CreateTopics     bool          `envconfig:"CREATE_TOPICS" default:"true" desc:"create the topics this service writes when missing"`
	Replication      int           `envconfig:"REPLICATION_FACTOR" default:"1" desc:"replication factor of topics this service creates"`
}

// Validate checks the settings; variables are named with the KAFKA prefix.
func (c Config) Validate() error {
	if strings.TrimSpace(c.Brokers) == "" {
		return config.Invalid("KAFKA_BROKERS", "must name at least one broker")
	}
	for _, b := range strings.Split(c.Brokers, ",") {
		if !strings.Contains(strings.TrimSpace(b), ":") {
			return config.Invalid("KAFKA_BROKERS", "%q is not host:port", b)
		}
	}
	switch strings.ToLower(c.SecurityProtocol) {
	case "plaintext", "ssl":
	case "sasl_plaintext", "sasl_ssl":
		if c.SASLMechanism == "" {
			return config.Invalid("KAFKA_SASL_MECHANISM", "required when KAFKA_SECURITY_PROTOCOL is %s", c.SecurityProtocol)
		}
	default:
		return config.Invalid("KAFKA_SECURITY_PROTOCOL", "%q is not plaintext, ssl, sasl_plaintext or sasl_ssl", c.SecurityProtocol)
	}
	return config.AtLeast("KAFKA_REPLICATION_FACTOR", c.Replication, 1)
}

// ConfigMap returns the librdkafka configuration for this connection with
// the given client-specific settings layered on top. The client's own log
// lines go through the service's logger (logs.go).
func (c Config) ConfigMap(clientID string, extra kafka.ConfigMap) *kafka.ConfigMap {
	if c.ClientID != "" {
		clientID = c.ClientID
	}
	m := logSettings()
	m["bootstrap.servers"] = c.Brokers
	m["client.id"] = clientID
	m["security.protocol"] = strings.ToLower(c.SecurityProtocol)
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("sasl.mechanisms", c.SASLMechanism)
	set("sasl.username", c.SASLUsername)
	set("sasl.password", c.SASLPassword.Reveal())
	set("ssl.ca.location", c.SSLCALocation)
	set("ssl.certificate.location", c.SSLCertLocation)
	set("ssl.key.location", c.SSLKeyLocation)
	set("ssl.key.password", c.SSLKeyPassword.Reveal())
	for k, v := range extra {
		m[k] = v
	}
	return &m
}

// ReconnectBackoffMax caps librdkafka's back-off between attempts to
// reach a broker, in ms (10 s by default, doubling from 100 ms): after a
// broker restart of 20 s the counter's stage clients would otherwise
// reconnect up to 10 s after the broker answers again, and a reader opened
// while the broker was down read nothing for up to half a second after it
// came back. The stages' clients, the partition readers and their admin
// clients use it.
const ReconnectBackoffMax = 250

// Fetch is the fetch tuning of every hashtrend consumer, chosen by
// measurement on a 1,000,000-post topic (docs/benchmarks.md, "Fetch
// settings"). librdkafka (since 2.3) stops fetching a partition for
// fetch.queue.backoff.ms, 1000 by default, each time its local queue holds
// queued.min.messages: a consumer that keeps up then waits a second at a
// time and reads about half as fast as it could. 1 ms keeps the fetcher
// going without spinning (0 costs 40 % more CPU and is slower); a deeper
// queue (queued.min.messages) was slower and held more memory, and larger
// queues in bytes or partition fetches were no faster, so those keep
// librdkafka's defaults.
func Fetch() kafka.ConfigMap {
	return kafka.ConfigMap{"fetch.queue.backoff.ms": 1}
}

// ConsumerConfigMap is ConfigMap for a consumer: Fetch, then extra on top.
func (c Config) ConsumerConfigMap(clientID string, extra kafka.ConfigMap) *kafka.ConfigMap {
	m := Fetch()
	maps.Copy(m, extra)
	return c.ConfigMap(clientID, m)
}

// Class says what to do about a Kafka error.
type Class int

const (
	// Retriable errors go away by themselves: retry the operation.
	Retriable Class = iota
	// Abortable errors spoil the open transaction: abort it, rewind to the
	// committed offsets and drop the state built since.
	Abortable
	// Fatal errors (a fenced producer and a refusal by the cluster, Denied,
	// included) end the client: stop the stage and exit non-zero so that
	// the orchestrator restarts it.
	Fatal
)

func (c Class) String() string {
	switch c {
	case Retriable:
		return "retriable"
	case Abortable:
		return "abortable"
	default:
		return "fatal"
	}
}

// Classify sorts err. Errors that are not Kafka errors are fatal.
func Classify(err error) Class {
	var ke kafka.Error
	if !errors.As(err, &ke) {
		return Fatal
	}
	switch {
	case ke.IsFatal(), ke.Code() == kafka.ErrFatal: // the latter: a call refused by a client already fatal
		return Fatal
	case deniedCode(ke.Code()): // no retry or abort grants what the cluster refuses (access.go)
		return Fatal
	case ke.Code() == kafka.ErrFenced, ke.Code() == kafka.ErrProducerFenced, ke.Code() == kafka.ErrInvalidProducerEpoch:
		return Fatal
	case ke.TxnRequiresAbort():
		return Abortable
	case ke.IsRetriable(), ke.IsTimeout():
		return Retriable
	default:
		return Abortable
	}
}

// IsFatal reports whether err ends the client (Classify).
func IsFatal(err error) bool { return Classify(err) == Fatal }

// QueueFull reports whether err is a produce refused because the client's
// local queue is full: wait for deliveries and produce again.
func QueueFull(err error) bool {
	var ke kafka.Error
	return errors.As(err, &ke) && ke.Code() == kafka.ErrQueueFull
}

// Fenced reports whether err holds a Kafka error saying that another
// producer with the same transactional.id has taken over: this process is
// a zombie and must stop, not try again.
func Fenced(err error) bool {
	return anyKafka(err, func(ke kafka.Error) bool {
		switch ke.Code() {
		case kafka.ErrFenced, kafka.ErrProducerFenced, kafka.ErrTransactionalIDAuthorizationFailed:
			return true
		}
		return false
	})
}

// anyKafka reports whether some Kafka error in err's tree satisfies f;
// unlike errors.As it looks past the first one (an error joined from the
// failure and the failed abort that followed it holds two).
func anyKafka(err error, f func(kafka.Error) bool) bool {
	if err == nil {
		return false
	}
	if ke, ok := err.(kafka.Error); ok && f(ke) {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return anyKafka(u.Unwrap(), f)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if anyKafka(e, f) {
				return true
			}
		}
	}
	return false
}
