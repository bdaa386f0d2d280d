package config_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
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
