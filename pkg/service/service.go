// Package service is the common frame of the three programs: it answers -h
// with the table of variables, loads and validates the configuration (a bad
// setting ends the program with one line naming the variable), sets up
// logging, runs the service until SIGINT or SIGTERM and turns the outcome
// into an exit code. Each main.go is a call to Main and nothing more.
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashtrend/hashtrend/pkg/batch"
	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/logging"
)

// Exit codes.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitConfig = 2
)

// Config is what Main needs of a service's settings. Every service runs an
// ops server, so a settings struct without an ops address does not compile
// as a Config: "healthcheck" asks that address.
type Config interface {
	// Logging returns the log settings.
	Logging() logging.Config
	// OpsAddress returns the listen address of the ops server (/metrics,
	// /healthz, /readyz), or "off"; each service names its own variable.
	OpsAddress() string
}

// RunFunc is a service's body: it runs until ctx ends or it fails.
type RunFunc func(ctx context.Context, log *slog.Logger) error

// Main runs a service and exits the process with its exit code.
func Main(name string, cfg Config, run RunFunc) {
	os.Exit(Run(name, cfg, os.Args[1:], os.Stdout, os.Stderr, run))
}

// Run is Main without the exit: it returns the exit code.
func Run(name string, cfg Config, args []string, stdout, stderr io.Writer, run RunFunc) int {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help", "help":
			if err := config.Usage(stdout, cfg); err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", name, err)
				return ExitFailed
			}
			return ExitOK
		case "healthcheck":
			return healthcheck(name, cfg, stderr)
		default:
			fmt.Fprintf(stderr, "%s: unexpected argument %q (settings are environment variables; -h lists them)\n", name, a)
			return ExitConfig
		}
	}
	if err := config.Load(cfg); err != nil {
		fmt.Fprintf(stderr, "%s: bad configuration: %v\n", name, err)
		return ExitConfig
	}
	// Every service reads records through pkg/batch (tally's queue, the
	// partition readers), which reaches into librdkafka past
	// confluent-kafka-go: a build where it cannot stops here, in one line.
	if err := batch.Check(); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitFailed
	}
	log := logging.New(cfg.Logging(), stderr).With("service", name)
	// What logs through slog's default, librdkafka's own lines among them
	// (kafkaconn), does so in the service's format.
	slog.SetDefault(log)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("starting")
	err := run(ctx, log)
	switch {
	case err == nil, errors.Is(err, context.Canceled) && ctx.Err() != nil:
		log.Info("stopped")
		return ExitOK
	default:
		var ce *config.Error
		if errors.As(err, &ce) {
			fmt.Fprintf(stderr, "%s: bad configuration: %v\n", name, ce)
			return ExitConfig
		}
		log.Error("stopped with an error", "err", err)
		return ExitFailed
	}
}

// healthcheck asks the running service's own /healthz, for container
// healthchecks on images without a shell or curl.
func healthcheck(name string, cfg Config, stderr io.Writer) int {
	if err := config.Load(cfg); err != nil {
		fmt.Fprintf(stderr, "%s: bad configuration: %v\n", name, err)
		return ExitConfig
	}
	addr := cfg.OpsAddress()
	if addr == "" || addr == "off" {
		fmt.Fprintf(stderr, "%s: healthcheck: the ops server is off\n", name)
		return ExitFailed
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: healthcheck: %v\n", name, err)
		return ExitFailed
	}
	client := http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get("http://" + net.JoinHostPort("127.0.0.1", port) + "/healthz")
	if err != nil {
		fmt.Fprintf(stderr, "%s: healthcheck: %v\n", name, err)
		return ExitFailed
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "%s: healthcheck: /healthz answered %s\n", name, resp.Status)
		return ExitFailed
	}
	return ExitOK
}

// Base holds the settings every service has: the Kafka connection
// (KAFKA_*) and logging (LOG_*). Services embed it in their Config.
type Base struct {
	Kafka kafkaconn.Config `envconfig:"KAFKA"`
	Log   logging.Config   `envconfig:"LOG"`
}

// Logging returns the log settings.
func (b *Base) Logging() logging.Config { return b.Log }

// Validate checks the Kafka and log settings.
func (b *Base) Validate() error {
	if err := b.Kafka.Validate(); err != nil {
		return err
	}
	return b.Log.Validate("LOG")
}
