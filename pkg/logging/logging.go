// Package logging builds the log/slog logger every service uses, from the
// LOG_FORMAT and LOG_LEVEL settings.
package logging

import (
	"io"
	"log/slog"
	"strings"

	"github.com/hashtrend/hashtrend/pkg/config"
)

// Config selects the log format and level.
type Config struct {
	Format string `envconfig:"FORMAT" default:"text" desc:"log format: text or json"`
	Level  string `envconfig:"LEVEL" default:"info" desc:"log level: debug, info, warn or error"`
}

// Validate checks format and level; prefix is the variables' prefix (LOG).
func (c Config) Validate(prefix string) error {
	switch c.Format {
	case "text", "json":
	default:
		return config.Invalid(prefix+"_FORMAT", "%q is not text or json", c.Format)
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.Level)); err != nil {
		return config.Invalid(prefix+"_LEVEL", "%q is not debug, info, warn or error", c.Level)
	}
	return nil
}

// New returns a logger writing to w; it assumes c has been validated.
func New(c Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(c.Level)))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
