package source

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashtrend/hashtrend/pkg/config"
)

func TestEveryKindKeepsToItsPrefix(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Kinds() {
		if seen[k.Name] {
			t.Fatalf("kind %q registered twice", k.Name)
		}
		seen[k.Name] = true
		s := k.Settings()
		typ := reflect.TypeOf(s).Elem()
		prefix := "INGEST_" + strings.ToUpper(k.Name) + "_"
		vars := map[string]bool{}
		for i := range typ.NumField() {
			f := typ.Field(i)
			name := f.Tag.Get("envconfig")
			if !strings.HasPrefix(name, prefix) {
				t.Errorf("%s: field %s reads %q, not a %s* variable", k.Name, f.Name, name, prefix)
			}
			if f.Tag.Get("desc") == "" {
				t.Errorf("%s: %s has no desc", k.Name, name)
			}
			vars[name] = true
		}
		if r, ok := s.(config.Renamed); ok {
			for old, name := range r.Renames() {
				if !vars[name] {
					t.Errorf("%s: %s is renamed to %s, which it does not read", k.Name, old, name)
				}
			}
		}
	}
}

func TestNamesListsEveryKindForMessages(t *testing.T) {
	got := Names()
	kinds := Kinds()
	for _, k := range kinds[:len(kinds)-1] {
		if !strings.Contains(got, k.Name+", ") && !strings.Contains(got, k.Name+" or ") {
			t.Errorf("Names() = %q lacks %s", got, k.Name)
		}
	}
	if !strings.HasSuffix(got, " or "+kinds[len(kinds)-1].Name) {
		t.Errorf("Names() = %q does not end with the last kind", got)
	}
}

// validateCase is one environment for a kind's settings and the variable
// its Validate must name ("" when the settings are valid).
type validateCase struct {
	name string
	env  map[string]string
	bad  string
}

// checkValidate loads the kind's settings from each case's environment as
// the service does and checks what Validate says.
func checkValidate(t *testing.T, kind string, cases []validateCase) {
	t.Helper()
	var k Kind
	for _, c := range Kinds() {
		if c.Name == kind {
			k = c
		}
	}
	if k.Settings == nil {
		t.Fatalf("no kind %q", kind)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for v, val := range tc.env {
				t.Setenv(v, val)
			}
			s := k.Settings()
			err := config.Load(s)
			var ce *config.Error
			switch {
			case tc.bad == "" && err != nil:
				t.Fatalf("valid settings rejected: %v", err)
			case tc.bad == "":
				if _, err := s.New(Env{}); err != nil {
					t.Fatalf("New: %v", err)
				}
			case !errors.As(err, &ce) || ce.Var != tc.bad:
				t.Fatalf("error %v, want one naming %s", err, tc.bad)
			}
		})
	}
}

func TestXValidate(t *testing.T) {
	ok := map[string]string{"INGEST_X_BEARER_TOKEN": "t", "INGEST_X_TRACK": "#golang"}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for a, b := range ok {
			if a != k {
				m[a] = b
			}
		}
		return m
	}
	checkValidate(t, "x", []validateCase{
		{"a token and a term are enough", ok, ""},
		{"the old INGEST_TRACK still gives the terms", map[string]string{"INGEST_X_BEARER_TOKEN": "t", "INGEST_TRACK": "kafka"}, ""},
		{"no token", with("INGEST_X_BEARER_TOKEN", ""), "INGEST_X_BEARER_TOKEN"},
		{"only commas are no terms", with("INGEST_X_TRACK", " , ,"), "INGEST_X_TRACK"},
		{"a base URL that is not http", with("INGEST_X_BASE_URL", "ftp://api.x.com"), "INGEST_X_BASE_URL"},
		{"a zero stall", with("INGEST_X_STALL", "0s"), "INGEST_X_STALL"},
		{"an unparsable stall", with("INGEST_X_STALL", "soon"), "INGEST_X_STALL"},
	})
}

func TestTwitterValidate(t *testing.T) {
	keys := map[string]string{"INGEST_TWITTER_CONSUMER_KEY": "k", "INGEST_TWITTER_CONSUMER_SECRET": "s",
		"INGEST_TWITTER_ACCESS_TOKEN": "t", "INGEST_TWITTER_ACCESS_SECRET": "a"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for a, b := range keys {
			m[a] = b
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	checkValidate(t, "twitter", []validateCase{
		{"keys and a track term", with("INGEST_TWITTER_TRACK", "iphone"), ""},
		{"keys and locations alone", with("INGEST_TWITTER_LOCATIONS", "-130,-20,100,50"), ""},
		{"the old INGEST_FOLLOW still counts as a filter", with("INGEST_FOLLOW", "12"), ""},
		{"no filter at all", with(), "INGEST_TWITTER_TRACK"},
		{"a language is not a filter", with("INGEST_TWITTER_LANGUAGE", "en"), "INGEST_TWITTER_TRACK"},
		{"a missing access secret", with("INGEST_TWITTER_TRACK", "x", "INGEST_TWITTER_ACCESS_SECRET", ""), "INGEST_TWITTER_ACCESS_SECRET"},
		{"a missing consumer key", with("INGEST_TWITTER_TRACK", "x", "INGEST_TWITTER_CONSUMER_KEY", ""), "INGEST_TWITTER_CONSUMER_KEY"},
		{"a base URL without a scheme", with("INGEST_TWITTER_TRACK", "x", "INGEST_TWITTER_BASE_URL", "stream.twitter.com"), "INGEST_TWITTER_BASE_URL"},
		{"a negative stall", with("INGEST_TWITTER_TRACK", "x", "INGEST_TWITTER_STALL", "-1s"), "INGEST_TWITTER_STALL"},
	})
}

func TestFileValidate(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "rec.jsonl")
	if err := os.WriteFile(rec, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	checkValidate(t, "file", []validateCase{
		{"an existing file", map[string]string{"INGEST_FILE_PATHS": rec}, ""},
		{"a glob that matches", map[string]string{"INGEST_FILE_PATHS": filepath.Join(dir, "*.jsonl"), "INGEST_FILE_SPEED": "10"}, ""},
		{"the old INGEST_FILES still names the files", map[string]string{"INGEST_FILES": rec}, ""},
		{"no files", map[string]string{}, "INGEST_FILE_PATHS"},
		{"a file that is not there", map[string]string{"INGEST_FILE_PATHS": filepath.Join(dir, "nope.jsonl")}, "INGEST_FILE_PATHS"},
		{"a bad glob", map[string]string{"INGEST_FILE_PATHS": filepath.Join(dir, "[")}, "INGEST_FILE_PATHS"},
		{"a negative rate", map[string]string{"INGEST_FILE_PATHS": rec, "INGEST_FILE_RATE": "-1"}, "INGEST_FILE_RATE"},
		{"a negative rate by its old name", map[string]string{"INGEST_FILE_PATHS": rec, "INGEST_RATE": "-1"}, "INGEST_FILE_RATE"},
		{"a negative speed", map[string]string{"INGEST_FILE_PATHS": rec, "INGEST_FILE_SPEED": "-2"}, "INGEST_FILE_SPEED"},
		{"a loop that is not a boolean", map[string]string{"INGEST_FILE_PATHS": rec, "INGEST_FILE_LOOP": "often"}, "INGEST_FILE_LOOP"},
	})
}

func TestStdinValidate(t *testing.T) {
	checkValidate(t, "stdin", []validateCase{
		{"stdin needs nothing", map[string]string{}, ""},
	})
}

func TestSyntheticValidate(t *testing.T) {
	checkValidate(t, "synthetic", []validateCase{
		{"the defaults", map[string]string{}, ""},
		{"a fixed start and count", map[string]string{"INGEST_SYNTHETIC_START": "2025-06-01T00:00:00Z", "INGEST_SYNTHETIC_COUNT": "10"}, ""},
		{"a skew of 1", map[string]string{"INGEST_SYNTHETIC_SKEW": "1"}, "INGEST_SYNTHETIC_SKEW"},
		{"a negative count", map[string]string{"INGEST_SYNTHETIC_COUNT": "-1"}, "INGEST_SYNTHETIC_COUNT"},
		{"a start that is not RFC 3339", map[string]string{"INGEST_SYNTHETIC_START": "June 1st"}, "INGEST_SYNTHETIC_START"},
		{"a negative rate", map[string]string{"INGEST_SYNTHETIC_RATE": "-5"}, "INGEST_SYNTHETIC_RATE"},
		{"a negative rate by its old name", map[string]string{"INGEST_RATE": "-5"}, "INGEST_SYNTHETIC_RATE"},
		{"a history at a rate", map[string]string{"INGEST_SYNTHETIC_HISTORY": "6h20m", "INGEST_SYNTHETIC_RATE": "200"}, ""},
		{"a history with a count, which has none", map[string]string{"INGEST_SYNTHETIC_HISTORY": "1h", "INGEST_SYNTHETIC_COUNT": "10"}, ""},
		{"a history without a rate", map[string]string{"INGEST_SYNTHETIC_HISTORY": "1h"}, "INGEST_SYNTHETIC_HISTORY"},
		{"a history with a fixed start", map[string]string{"INGEST_SYNTHETIC_HISTORY": "1h", "INGEST_SYNTHETIC_RATE": "200", "INGEST_SYNTHETIC_START": "2025-06-01T00:00:00Z"}, "INGEST_SYNTHETIC_HISTORY"},
		{"a negative history", map[string]string{"INGEST_SYNTHETIC_HISTORY": "-1h", "INGEST_SYNTHETIC_RATE": "200"}, "INGEST_SYNTHETIC_HISTORY"},
		{"no networks", map[string]string{"INGEST_SYNTHETIC_NETWORKS": ""}, ""},
		{"a network name in capitals", map[string]string{"INGEST_SYNTHETIC_NETWORKS": "bluesky,Mastodon"}, "INGEST_SYNTHETIC_NETWORKS"},
		{"a network twice", map[string]string{"INGEST_SYNTHETIC_NETWORKS": "x,bluesky,x"}, "INGEST_SYNTHETIC_NETWORKS"},
		{"an author skew of 1", map[string]string{"INGEST_SYNTHETIC_AUTHOR_SKEW": "1"}, "INGEST_SYNTHETIC_AUTHOR_SKEW"},
		{"all authors alike", map[string]string{"INGEST_SYNTHETIC_AUTHOR_SKEW": "0"}, ""},
		{"no authors", map[string]string{"INGEST_SYNTHETIC_AUTHORS": "0"}, "INGEST_SYNTHETIC_AUTHORS"},
		{"a negative rise interval", map[string]string{"INGEST_SYNTHETIC_RISE_EVERY": "-10m"}, "INGEST_SYNTHETIC_RISE_EVERY"},
		{"negative flooders", map[string]string{"INGEST_SYNTHETIC_FLOODERS": "-1"}, "INGEST_SYNTHETIC_FLOODERS"},
	})
}
