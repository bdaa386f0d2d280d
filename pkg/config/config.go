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
	"os"
	"sort"
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

// number is what the range checks below take; time.Duration is one.
type number interface {
	~int | ~int64 | ~float64
}

// Positive is nil when v is above zero, else the error naming the variable
// and the value.
func Positive[T number](name string, v T) error {
	if v > 0 {
		return nil
	}
	return Invalid(name, "must be positive, got %v", v)
}

// NotNegative is nil when v is zero or above, else the error naming the
// variable and the value.
func NotNegative[T number](name string, v T) error {
	if v >= 0 {
		return nil
	}
	return Invalid(name, "must not be negative, got %v", v)
}

// AtLeast is nil when v is least or above, else the error naming the
// variable and the value.
func AtLeast[T number](name string, v, least T) error {
	if v >= least {
		return nil
	}
	return Invalid(name, "must be at least %v, got %v", least, v)
}

// First returns the first of errs that is not nil: a Validate's checks in
// order, of which the first failure is the one to report.
func First(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Parted is implemented by settings with parts known only at run time
// (ingest: one settings struct per source). Load fills every part from the
// environment after spec itself and Usage lists their variables after
// spec's; validating a part is left to spec's Validate, which knows the
// parts that are in use.
type Parted interface {
	Parts() []any
}

// Renamed is implemented by settings that still accept the old names of
// renamed variables: Renames maps an old name to its new one. Load reads an
// old name where the new one is not set; Deprecated lists the old names in
// use, for a warning in the log. An old name set to nothing is ignored.
type Renamed interface {
	Renames() map[string]string
}

// Load fills spec (a pointer to a struct) and its parts from the
// environment and then validates it when it implements Validator.
func Load(spec any) error {
	specs := []any{spec}
	if p, ok := spec.(Parted); ok {
		specs = append(specs, p.Parts()...)
	}
	for _, s := range specs {
		if err := process(s); err != nil {
			return err
		}
	}
	if v, ok := spec.(Validator); ok {
		return v.Validate()
	}
	return nil
}

// process fills one struct, reading renamed variables by their old names
// where only those are set.
func process(spec any) error {
	if r, ok := spec.(Renamed); ok {
		for old, name := range r.Renames() {
			v := os.Getenv(old)
			if _, isNew := os.LookupEnv(name); v == "" || isNew {
				continue
			}
			if err := os.Setenv(name, v); err != nil {
				return err
			}
			defer os.Unsetenv(name)
		}
	}
	if err := envconfig.Process("", spec); err != nil {
		var pe *envconfig.ParseError
		if errors.As(err, &pe) {
			return Invalid(pe.KeyName, "cannot use %q as %s: %v", pe.Value, pe.TypeName, unwrapAll(pe.Err))
		}
		return err
	}
	return nil
}

// Deprecated returns one line for each old variable name of spec (not of
// its parts) that is set in the environment, in name order: "OLD is
// deprecated, use NEW".
func Deprecated(spec any) []string {
	r, ok := spec.(Renamed)
	if !ok {
		return nil
	}
	var out []string
	for old, name := range r.Renames() {
		if os.Getenv(old) != "" {
			out = append(out, fmt.Sprintf("%s is deprecated, use %s", old, name))
		}
	}
	sort.Strings(out)
	return out
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

// Usage writes the table of variables spec and its parts read, with
// types, defaults, whether they are required and what they do.
func Usage(w io.Writer, spec any) error {
	tw := tabwriter.NewWriter(w, 1, 4, 2, ' ', 0)
	if err := envconfig.Usagef("", spec, tw, envconfig.DefaultTableFormat); err != nil {
		return err
	}
	if p, ok := spec.(Parted); ok {
		for _, part := range p.Parts() {
			if err := envconfig.Usagef("", part, tw, usageRows); err != nil {
				return err
			}
		}
	}
	return tw.Flush()
}

// usageRows is envconfig.DefaultTableFormat without its header.
const usageRows = `{{range .}}{{usage_key .}}	{{usage_type .}}	{{usage_default .}}	{{usage_required .}}	{{usage_description .}}
{{end}}`

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
