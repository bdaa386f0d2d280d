package deploy_test

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the README's configuration tables from the services' -h output")

// usageRow is one row of a service's -h table.
type usageRow struct {
	name, def, desc string
	required        bool
}

// usage runs `<service> -h` and returns its rows in order, cutting the
// columns at the header's positions (the table is aligned by tabwriter).
func usage(t *testing.T, service string) []usageRow {
	t.Helper()
	out, err := exec.Command(bins[service], "-h").Output()
	if err != nil {
		t.Fatalf("%s -h: %v", service, err)
	}
	var rows []usageRow
	var typ, def, req, desc = -1, -1, -1, -1
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "KEY ") {
			typ, def, req, desc = strings.Index(line, "TYPE"), strings.Index(line, "DEFAULT"), strings.Index(line, "REQUIRED"), strings.Index(line, "DESCRIPTION")
			continue
		}
		if def < 0 || strings.TrimSpace(line) == "" {
			continue
		}
		cut := func(from, to int) string {
			if from >= len(line) {
				return ""
			}
			return strings.TrimSpace(line[from:min(to, len(line))])
		}
		rows = append(rows, usageRow{name: cut(0, typ), def: cut(def, req), required: cut(req, desc) == "true", desc: cut(desc, len(line))})
	}
	if len(rows) == 0 {
		t.Fatalf("%s -h printed no table:\n%s", service, out)
	}
	return rows
}

func table(rows []usageRow) string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning |\n|---|---|---|\n")
	for _, r := range rows {
		def := r.def
		if def != "" {
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", r.name, def, strings.ReplaceAll(r.desc, "|", `\|`))
	}
	return b.String()
}

// TestREADMEConfigTablesMatchTheServices keeps the README's configuration
// tables equal to what the services themselves say they read.
func TestREADMEConfigTablesMatchTheServices(t *testing.T) {
	path := filepath.Join(rootDir(), "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, svc := range []string{"ingest", "counter", "printer"} {
		begin, end := "<!-- config:"+svc+" -->\n", "<!-- /config:"+svc+" -->"
		i, j := strings.Index(readme, begin), strings.Index(readme, end)
		if i < 0 || j < i {
			t.Fatalf("README.md has no %s ... %s block", begin, end)
		}
		want := table(usage(t, svc))
		if got := readme[i+len(begin) : j]; got != want {
			if !*update {
				t.Errorf("README.md's %s table is out of date (go test ./deploy -run README -update):\n--- README\n%s\n--- %s -h\n%s", svc, got, svc, want)
				continue
			}
			readme = readme[:i+len(begin)] + want + readme[j:]
		}
	}
	if *update {
		if err := os.WriteFile(path, []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
