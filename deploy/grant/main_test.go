package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/access"
	"github.com/hashtrend/hashtrend/pkg/config"
)

// load reads the configuration from env alone, as grant does at start.
func load(t *testing.T, env map[string]string) (Config, error) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var cfg Config
	return cfg, config.Load(&cfg)
}

func TestTheServicesPasswordsMakeTheirPrincipalsUsers(t *testing.T) {
	cfg, err := load(t, map[string]string{"GRANT_INGEST_PASSWORD": "p-ingest", "GRANT_PRINTER_PASSWORD": "p-printer",
		"GRANT_PRINTER_PRINCIPAL": "User:reader"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, u := range cfg.serviceUsers() {
		got[u.principal] = u.password.Reveal()
	}
	want := map[string]string{"User:ingest": "p-ingest", "User:reader": "p-printer"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("users %v, want %v (the counter's password is not set)", got, want)
	}
}

func TestAPasswordForAPrincipalThatIsNoUserIsRefused(t *testing.T) {
	_, err := load(t, map[string]string{"GRANT_COUNTER_PASSWORD": "secret-value", "GRANT_COUNTER_PRINCIPAL": "Group:counters"})
	if err == nil || !strings.Contains(err.Error(), "GRANT_COUNTER_PASSWORD") || strings.Contains(err.Error(), "secret-value") {
		t.Fatalf("want an error naming GRANT_COUNTER_PASSWORD, without the password; got %v", err)
	}
}

// hexHostname is a hostname as Docker gives a container: 12 hex digits.
func hexHostname(r *rand.Rand) string {
	return fmt.Sprintf("%012x", r.Uint64()>>16)
}

// allowed says whether the counter's transactional-id rights in rs allow id.
func allowed(rs []access.Right, id string) bool {
	for _, r := range rs {
		if r.Service != access.Counter || r.Type != access.TransactionalID {
			continue
		}
		if r.Pattern == kafka.ResourcePatternTypePrefixed && strings.HasPrefix(id, r.Name) ||
			r.Pattern == kafka.ResourcePatternTypeLiteral && id == r.Name {
			return true
		}
	}
	return false
}

func TestHostnameRightsHoldEveryContainersIdsAndNoneOfIngests(t *testing.T) {
	cfg, err := load(t, map[string]string{"GRANT_COUNTER_HOSTNAME_IDS": "true"})
	if err != nil {
		t.Fatal(err)
	}
	rs := hostnameRights(cfg.Names)
	if len(rs) != 16 {
		t.Fatalf("%d rights, want one per hex digit", len(rs))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		h := hexHostname(r)
		for _, stage := range []string{"-tally", "-rank"} {
			if !allowed(rs, h+stage) {
				t.Fatalf("the counter with hostname %s may not use %s%s", h, h, stage)
			}
		}
	}
	for _, id := range []string{"ingest-synthetic-d1ed34469b6f0dd4", "ingest-bluesky-0123456789abcdef", access.IngestTxnPrefix} {
		if allowed(rs, id) {
			t.Errorf("the counter may use ingest's transactional id %s", id)
		}
	}
	// Without the setting, a container's ids are not the counter's.
	if allowed(access.Rights(cfg.Names), hexHostname(r)+"-tally") {
		t.Error("the default rights already hold a container's ids: the setting is needless")
	}
}

func TestHostnameIDsRefuseAnIngestIDTheyWouldHold(t *testing.T) {
	_, err := load(t, map[string]string{"GRANT_COUNTER_HOSTNAME_IDS": "true", "INGEST_TRANSACTIONAL_ID": "b7-ingest"})
	if err == nil || !strings.Contains(err.Error(), "GRANT_COUNTER_HOSTNAME_IDS") || !strings.Contains(err.Error(), "b7-ingest") {
		t.Fatalf("want an error naming GRANT_COUNTER_HOSTNAME_IDS and the id, got %v", err)
	}
	if _, err := load(t, map[string]string{"GRANT_COUNTER_HOSTNAME_IDS": "true", "INGEST_TRANSACTIONAL_ID": "ingest-1"}); err != nil {
		t.Fatalf("an id that starts with no hex digit: %v", err)
	}
}

func TestTheTableShowsTheHostnameRights(t *testing.T) {
	t.Setenv("GRANT_COUNTER_HOSTNAME_IDS", "true")
	var out, errs bytes.Buffer
	if code := run([]string{"table"}, &out, &errs); code != 0 {
		t.Fatalf("grant table: exit %d: %s", code, errs.String())
	}
	for _, d := range "0123456789abcdef" {
		if row := "transactional ids `" + string(d) + "*` (prefixed) | WRITE"; !strings.Contains(out.String(), row) {
			t.Errorf("no row %q in:\n%s", row, out.String())
		}
	}
}
