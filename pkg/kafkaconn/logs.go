package kafkaconn

import (
	"context"
	"log/slog"
	"sync"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// librdkafka writes its own log lines ("%3|1764...|FAIL|rdkafka#consumer-1|
// ...") to stderr unless a client asks for them as events. Every client
// built from ConfigMap asks, into one channel of the process, and one
// goroutine writes each event through the service's logger (slog's
// default, which service.Run sets): one format, one line per event.
var logEvents = sync.OnceValue(func() chan kafka.LogEvent {
	ch := make(chan kafka.LogEvent, 1024)
	go func() {
		for ev := range ch {
			LogEvent(slog.Default(), ev)
		}
	}()
	return ch
})

// logSettings route a client's log lines to logEvents.
func logSettings() kafka.ConfigMap {
	return kafka.ConfigMap{"go.logs.channel.enable": true, "go.logs.channel": logEvents()}
}

// LogEvent writes one of librdkafka's log lines through log, at the level
// its syslog severity says. A broker connection that failed (facility
// FAIL) also reaches the client as an error event, which the code that
// reads the client's events logs as a warning or an error, and a fatal
// or transactional error (FATAL, TXNERR) is also the error of the call
// that meets it, which the service logs or stops with: those log lines
// are written at debug, so that each failure is said once.
func LogEvent(log *slog.Logger, ev kafka.LogEvent) {
	level := LogLevel(ev.Level)
	switch ev.Tag {
	case "FAIL", "FATAL", "TXNERR":
		level = slog.LevelDebug
	}
	log.Log(context.Background(), level, ev.Message, "kafka_client", ev.Name, "facility", ev.Tag)
}

// LogLevel maps a syslog severity, as librdkafka gives it, to slog's.
func LogLevel(severity int) slog.Level {
	switch {
	case severity <= 3: // emergency, alert, critical, error
		return slog.LevelError
	case severity == 4: // warning
		return slog.LevelWarn
	case severity <= 6: // notice, informational
		return slog.LevelInfo
	default:
		return slog.LevelDebug
	}
}

// Admin is an admin client whose log lines go through the service's logger
// too: confluent-kafka-go's NewAdminClient takes no log channel, so the
// admin client runs on a producer of its own that has one (librdkafka's
// admin clients are producer instances either way). The producer's error
// events are read for the refusals Check reports.
type Admin struct {
	*kafka.AdminClient
	p       *kafka.Producer
	kc      Config
	refused *refusals
	events  chan struct{} // closed when the producer's events are drained
}

// NewAdmin connects an admin client with the connection's settings, extra
// on top.
func (c Config) NewAdmin(clientID string, extra kafka.ConfigMap) (*Admin, error) {
	p, err := kafka.NewProducer(c.ConfigMap(clientID, extra))
	if err != nil {
		return nil, err
	}
	a, err := kafka.NewAdminClientFromProducer(p)
	if err != nil {
		p.Close()
		return nil, err
	}
	ad := &Admin{AdminClient: a, p: p, kc: c, refused: newRefusals(), events: make(chan struct{})}
	go func() {
		defer close(ad.events)
		for ev := range p.Events() {
			ad.refused.event(ev)
		}
	}()
	return ad, nil
}

// Close closes the admin client and the producer it runs on.
func (a *Admin) Close() {
	a.AdminClient.Close()
	a.p.Close()
	<-a.events
}
