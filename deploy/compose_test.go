package deploy_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/hashtrend/hashtrend/pkg/systest"
	"gopkg.in/yaml.v3"
)

// apps are the project's own services and the ops port each serves.
var apps = map[string]string{"ingest": "9101", "counter": "9102", "printer": "9103"}

// bins are the three services and the grant command, built once in
// TestMain.
var bins = map[string]string{}

func TestMain(m *testing.M) {
	var cleanups []func()
	dirs := map[string]string{"grant": filepath.Join(rootDir(), "deploy", "grant")}
	for name := range apps {
		dirs[name] = filepath.Join(rootDir(), "services", name)
	}
	for name, dir := range dirs {
		bin, cleanup, err := systest.Build(dir, name)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		bins[name], cleanups = bin, append(cleanups, cleanup)
	}
	code := m.Run()
	for _, c := range cleanups {
		c()
	}
	os.Exit(code)
}

func rootDir() string {
	wd, _ := os.Getwd()
	return filepath.Dir(wd)
}

// variables returns the variables a service reads, by name.
func variables(t *testing.T, service string) map[string]usageRow {
	t.Helper()
	vars := map[string]usageRow{}
	for _, r := range usage(t, service) {
		vars[r.name] = r
	}
	return vars
}

func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(rootDir(), "docker-compose.yml")},
		cli.WithWorkingDirectory(rootDir()), cli.WithDiscardEnvFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

func TestComposeRunsTheWholePipeline(t *testing.T) {
	p := loadCompose(t)
	for _, name := range []string{"kafka", "ingest", "counter", "printer", "prometheus", "grafana"} {
		if _, ok := p.Services[name]; !ok {
			t.Errorf("no %s service", name)
		}
	}
	kafka := p.Services["kafka"]
	if !strings.HasPrefix(kafka.Image, "apache/kafka:4.") {
		t.Errorf("kafka image %q is not the official apache/kafka 4.x", kafka.Image)
	}
	if kafka.HealthCheck == nil || len(kafka.HealthCheck.Test) == 0 {
		t.Error("kafka has no healthcheck: the services cannot wait for it")
	}
	for _, k := range []string{"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"} {
		if v := kafka.Environment[k]; v == nil || *v != "1" {
			t.Errorf("kafka %s must be 1 on a single node", k)
		}
	}
	if !slices.ContainsFunc(kafka.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Type == types.VolumeTypeVolume }) {
		t.Error("kafka data is not on a named volume")
	}
}

func TestComposeServicesDependOnlyOnAHealthyKafka(t *testing.T) {
	p := loadCompose(t)
	for name := range apps {
		s := p.Services[name]
		if len(s.DependsOn) != 1 || s.DependsOn["kafka"].Condition != types.ServiceConditionHealthy {
			t.Errorf("%s depends on %v; want only kafka, service_healthy, so it stops and starts on its own", name, s.DependsOn)
		}
		if s.Build == nil || s.Build.Args["SERVICE"] == nil || *s.Build.Args["SERVICE"] != name {
			t.Errorf("%s is not built with SERVICE=%s", name, name)
			continue
		}
		if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
			t.Errorf("%s: Dockerfile: %v", name, err)
		}
	}
}

func TestComposeCounterScales(t *testing.T) {
	s := loadCompose(t).Services["counter"]
	if s.ContainerName != "" {
		t.Errorf("counter has container_name %q: --scale needs it unset", s.ContainerName)
	}
	for _, port := range s.Ports {
		if port.Published != "" {
			t.Errorf("counter publishes host port %s: replicas would collide", port.Published)
		}
	}
	if v := s.Environment["COUNTER_INSTANCE_ID"]; v != nil {
		t.Errorf("counter sets COUNTER_INSTANCE_ID=%q: every replica would share one transactional id", *v)
	}
}

func TestComposeSetsOnlyVariablesTheServicesRead(t *testing.T) {
	p := loadCompose(t)
	for name := range apps {
		vars := variables(t, name)
		env := p.Services[name].Environment
		for k := range env {
			if _, ok := vars[k]; !ok {
				t.Errorf("%s sets %s, which its configuration does not read", name, k)
			}
		}
		for _, v := range vars {
			if v.required && env[v.name] == nil {
				t.Errorf("%s requires %s and the compose file does not set it", name, v.name)
			}
		}
	}
}

func TestPrometheusScrapesEveryServiceOnItsOpsPort(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(rootDir(), "deploy", "prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ScrapeConfigs []struct {
			JobName      string `yaml:"job_name"`
			DNSSDConfigs []struct {
				Names []string `yaml:"names"`
				Port  int      `yaml:"port"`
			} `yaml:"dns_sd_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	p := loadCompose(t)
	seen := map[string]bool{}
	for _, sc := range cfg.ScrapeConfigs {
		for _, sd := range sc.DNSSDConfigs {
			for _, host := range sd.Names {
				port, ok := apps[host]
				if !ok {
					t.Errorf("job %s scrapes %s, which is not a service", sc.JobName, host)
					continue
				}
				seen[host] = true
				addr := p.Services[host].Environment[strings.ToUpper(host)+"_OPS_ADDR"]
				if addr == nil {
					t.Errorf("%s: no %s_OPS_ADDR in the compose file", host, strings.ToUpper(host))
					continue
				}
				if _, p, _ := net.SplitHostPort(*addr); p != port || strconv.Itoa(sd.Port) != port {
					t.Errorf("%s serves metrics on %s; prometheus scrapes port %d", host, *addr, sd.Port)
				}
			}
		}
	}
	for name := range apps {
		if !seen[name] {
			t.Errorf("prometheus does not scrape %s", name)
		}
	}
}

func TestComposePublishesThePrintersPage(t *testing.T) {
	printer := loadCompose(t).Services["printer"]
	addr := printer.Environment["PRINTER_HTTP_ADDR"]
	if addr == nil {
		t.Fatal("printer: no PRINTER_HTTP_ADDR: the page is off")
	}
	_, port, err := net.SplitHostPort(*addr)
	if err != nil {
		t.Fatalf("PRINTER_HTTP_ADDR %q: %v", *addr, err)
	}
	for _, p := range printer.Ports {
		if strconv.Itoa(int(p.Target)) == port && p.Published == port {
			return
		}
	}
	t.Fatalf("printer serves its page on %s but publishes %+v", *addr, printer.Ports)
}
