// Package config loads a service's settings from environment variables
// through envconfig, validates them once at start and turns every problem
// into one line that names the variable. Services describe their settings
// as a struct with envconfig tags (name, default, desc); nested structs such
// as kafkaconn.Config add their own prefix.
package config

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/kelseyhightower/envconfig"
)

// Validator is implemented by settings that can check themselves after
// loading. Errors should come from Invalid so that they name the variable.
type Validator interface {
	Validate() error
}

// Error is a bad setting: the variable's name and what is wrong with it.
type Error struct {
	Var     string
	Problem string
}

func (e *Error) Error() string { return e.Var + ": " + e.Problem }

// Invalid returns an *Error for variable name.
func Invalid(name, format string, args ...any) error {
	return &Error{Var: name, Problem: fmt.Sprintf(format, args...)}
}

// Load fills spec (a pointer to a struct) from the environment and then
// validates it when it implements Validator.
func Load(spec any) error {
	if err := envconfig.Process("", spec); err != nil {
		var pe *envconfig.ParseError
		if errors.As(err, &pe) {
			return Invalid(pe.KeyName, "cannot use %q as %s: %v", pe.Value, pe.TypeName, unwrapAll(pe.Err))
		}
		return err
	}
	if v, ok := spec.(Validator); ok {
		return v.Validate()
	}
	return nil
}

func unwrapAll(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// Usage writes the table of variables spec reads, with types, defaults,
// whether they are required and what they do.
func Usage(w io.Writer, spec any) error {
	tw := tabwriter.NewWriter(w, 1, 4, 2, ' ', 0)
	if err := envconfig.Usagef("", spec, tw, envconfig.DefaultTableFormat); err != nil {
		return err
	}
	return tw.Flush()
}

// Secret is a setting that must never be shown: it prints as "[redacted]"
// in logs, errors and formatted output. Use Reveal where the value is needed.
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return s.String() }

// MarshalText hides the value from encoders (JSON, slog).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret value itself.
func (s Secret) Reveal() string { return string(s) }
