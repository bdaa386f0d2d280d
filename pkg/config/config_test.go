package config_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/config"
)

type inner struct {
	Port int `envconfig:"PORT" default:"9100" desc:"a port"`
}

type spec struct {
	Name   string        `envconfig:"APP_NAME" default:"demo" desc:"the name"`
	Window time.Duration `envconfig:"APP_WINDOW" default:"2s" desc:"window length"`
	Token  config.Secret `envconfig:"APP_TOKEN" desc:"a secret"`
	Ops    inner         `envconfig:"APP_OPS"`
}

func (s *spec) Validate() error {
	if s.Window <= 0 {
		return config.Invalid("APP_WINDOW", "must be positive, got %s", s.Window)
	}
	return nil
}

func TestLoadAppliesDefaultsAndNestedPrefixes(t *testing.T) {
	var s spec
	if err := config.Load(&s); err != nil {
		t.Fatal(err)
	}
	if s.Name != "demo" || s.Window != 2*time.Second || s.Ops.Port != 9100 {
		t.Fatalf("defaults not applied: %+v", s)
	}
	t.Setenv("APP_OPS_PORT", "9200")
	if err := config.Load(&s); err != nil {
		t.Fatal(err)
	}
	if s.Ops.Port != 9200 {
		t.Fatalf("APP_OPS_PORT not read: %d", s.Ops.Port)
	}
}

func TestLoadErrorsNameTheVariable(t *testing.T) {
	for _, tc := range []struct {
		name, env, value, want string
	}{
		{"an unparsable duration names the variable", "APP_WINDOW", "soon", "APP_WINDOW: cannot use \"soon\""},
		{"an unparsable nested int names the full variable", "APP_OPS_PORT", "x1", "APP_OPS_PORT: cannot use \"x1\""},
		{"a value that fails validation names the variable", "APP_WINDOW", "-1s", "APP_WINDOW: must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(tc.env, tc.value)
			var s spec
			err := config.Load(&s)
			if err == nil {
				t.Fatal("no error")
			}
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Var != tc.env {
				t.Fatalf("error %v does not name %s", err, tc.env)
			}
			if !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: want one line starting %q", err, tc.want)
			}
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	const token = "s3cr3t-value"
	t.Setenv("APP_TOKEN", token)
	var s spec
	if err := config.Load(&s); err != nil {
		t.Fatal(err)
	}
	if s.Token.Reveal() != token {
		t.Fatalf("Reveal = %q", s.Token.Reveal())
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("cfg", "cfg", s, "token", s.Token)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("cfg", "cfg", s, "token", s.Token)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), fmt.Sprintf("%v", s.Token), logs.String()} {
		if strings.Contains(out, token) {
			t.Fatalf("secret leaked: %s", out)
		}
	}
}

func TestUsageListsEveryVariable(t *testing.T) {
	var buf bytes.Buffer
	if err := config.Usage(&buf, &spec{}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"APP_NAME", "APP_WINDOW", "APP_TOKEN", "APP_OPS_PORT", "window length"} {
		if !strings.Contains(buf.String(), v) {
			t.Errorf("usage lacks %s:\n%s", v, buf.String())
		}
	}
}

// parted is settings with a part, as ingest has one per source; the part
// renamed one of its variables.
type parted struct {
	Kind string `envconfig:"APP_KIND" default:"a" desc:"which part"`
	a    *partA
}

type partA struct {
	Size int `envconfig:"APP_A_SIZE" default:"1" desc:"the part's size"`
}

func (p *partA) Renames() map[string]string { return map[string]string{"APP_SIZE": "APP_A_SIZE"} }

func (p *parted) Parts() []any {
	if p.a == nil {
		p.a = &partA{}
	}
	return []any{p.a}
}

func (p *parted) Validate() error {
	if p.a.Size < 1 {
		return config.Invalid("APP_A_SIZE", "must be at least 1")
	}
	return nil
}

func TestLoadFillsThePartsBeforeValidating(t *testing.T) {
	t.Setenv("APP_A_SIZE", "7")
	var p parted
	if err := config.Load(&p); err != nil {
		t.Fatal(err)
	}
	if p.Kind != "a" || p.a.Size != 7 {
		t.Fatalf("loaded %+v, part %+v", p, p.a)
	}
	t.Setenv("APP_A_SIZE", "0")
	if err := config.Load(&parted{}); err == nil || !strings.HasPrefix(err.Error(), "APP_A_SIZE: ") {
		t.Fatalf("a bad part's value gave %v", err)
	}
}

func TestAnOldNameIsReadWhereTheNewOneIsNotSetAndReportedAsDeprecated(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      map[string]string
		want     int
		warnings int
	}{
		{"the old name alone is read", map[string]string{"APP_SIZE": "5"}, 5, 1},
		{"the new name wins over the old one", map[string]string{"APP_SIZE": "5", "APP_A_SIZE": "6"}, 6, 1},
		{"an old name set to nothing is ignored", map[string]string{"APP_SIZE": ""}, 1, 0},
		{"without the old name nothing is deprecated", map[string]string{"APP_A_SIZE": "3"}, 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var p parted
			if err := config.Load(&p); err != nil {
				t.Fatal(err)
			}
			if p.a.Size != tc.want {
				t.Fatalf("APP_A_SIZE = %d, want %d", p.a.Size, tc.want)
			}
			d := config.Deprecated(p.a)
			if len(d) != tc.warnings || (len(d) == 1 && d[0] != "APP_SIZE is deprecated, use APP_A_SIZE") {
				t.Fatalf("deprecations %q, want %d", d, tc.warnings)
			}
			if _, set := os.LookupEnv("APP_A_SIZE"); set != (tc.env["APP_A_SIZE"] != "") {
				t.Fatal("Load left the new name in the environment")
			}
		})
	}
}

func TestUsageListsThePartsInTheSameTable(t *testing.T) {
	var buf bytes.Buffer
	if err := config.Usage(&buf, &parted{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Count(out, "KEY") != 1 || !strings.Contains(out, "APP_KIND") || !strings.Contains(out, "APP_A_SIZE") {
		t.Fatalf("usage:\n%s", out)
	}
	// One table: the part's row is aligned with the spec's.
	var cols []int
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "APP_") {
			i := strings.Index(l, "the part's size")
			if i < 0 {
				i = strings.Index(l, "which part")
			}
			cols = append(cols, i)
		}
	}
	if len(cols) != 2 || cols[0] != cols[1] {
		t.Fatalf("description columns %v are not aligned:\n%s", cols, out)
	}
}

func TestRangeChecksNameTheVariableAndTheValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string // "" for nil
	}{
		{"a positive duration is positive", config.Positive("A", time.Second), ""},
		{"zero is not positive", config.Positive("A", 0), "A: must be positive, got 0"},
		{"a negative duration is not positive", config.Positive("A", -time.Second), "A: must be positive, got -1s"},
		{"zero is not negative", config.NotNegative("B", 0.0), ""},
		{"a negative rate is negative", config.NotNegative("B", -0.5), "B: must not be negative, got -0.5"},
		{"the least is at least itself", config.AtLeast("C", 1, 1), ""},
		{"below the least", config.AtLeast("C", 0, 1), "C: must be at least 1, got 0"},
		{"a duration below its least", config.AtLeast("C", 500*time.Millisecond, time.Second), "C: must be at least 1s, got 500ms"},
		{"First is the first failure", config.First(nil, config.Positive("D", 0), config.Positive("E", 0)), "D: must be positive, got 0"},
		{"First of none failing is nil", config.First(nil, nil), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if tc.err != nil {
				got = tc.err.Error()
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
