package source

import (
	"fmt"
	"strings"

	"github.com/hashtrend/hashtrend/pkg/config"
)

// Settings are one kind of source's own settings: a struct whose envconfig
// tags name its INGEST_<NAME>_* variables, loaded with the service's
// configuration.
type Settings interface {
	// Validate checks the settings once, at start, when this kind is the
	// one INGEST_SOURCE names; an error names the variable (config.Invalid).
	Validate() error
	// New builds the source from valid settings.
	New(env Env) (Source, error)
}

// Kind is one kind of source: the name INGEST_SOURCE gives it and a
// function that returns its settings, unloaded (a pointer to a new struct).
type Kind struct {
	Name     string
	Settings func() Settings
}

// Kinds is every kind of source the service knows, in the order -h lists
// their variables.
//
// A new source registers with one line here, {Name: "name", Settings:
// func() Settings { return &NameSettings{} }}, and everything else lives in
// its own file, name.go: NameSettings, a struct whose envconfig tags all
// start with INGEST_NAME_ (with default and desc), with Validate (errors
// from config.Invalid naming the variable) and New(Env), which builds the
// Source; the Source reports its connection through Env.State and counts
// through Env.Metrics. Old variable names still accepted are listed by a
// Renames method (see config.Renamed). TestEveryKindKeepsToItsPrefix checks
// the names; each kind has a table test of its Validate.
func Kinds() []Kind {
	return []Kind{
		{Name: "x", Settings: func() Settings { return &XSettings{} }},
		{Name: "twitter", Settings: func() Settings { return &TwitterSettings{} }},
		{Name: "file", Settings: func() Settings { return &FileSettings{} }},
		{Name: "stdin", Settings: func() Settings { return &StdinSettings{} }},
		{Name: "synthetic", Settings: func() Settings { return &SyntheticSettings{} }},
		{Name: "bluesky", Settings: func() Settings { return &BlueskySettings{} }},
		{Name: "mastodon", Settings: func() Settings { return &MastodonSettings{} }},
	}
}

// Names lists the kinds' names for messages: "x, twitter, file, stdin or
// synthetic".
func Names() string {
	var names []string
	for _, k := range Kinds() {
		names = append(names, k.Name)
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return fmt.Sprintf("%s or %s", strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
}

// splitList splits a comma-separated setting, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// checkURL checks that a base URL setting is an http(s) URL.
func checkURL(name, u string) error {
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return config.Invalid(name, "%q is not an http(s) URL", u)
	}
	return nil
}
