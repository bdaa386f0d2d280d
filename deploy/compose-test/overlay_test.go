package composetest

// The secured overlay as a file, without Docker (these run in make test):
// what the live run cannot see at a glance, such as a listener left
// without authentication, a password written into the file, or a service
// holding another's user.

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"

	"github.com/hashtrend/hashtrend/pkg/access"
	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
)

const (
	baseFile    = "docker-compose.yml"
	overlayFile = "docker-compose.secured.yml"
)

// passwordVars are the overlay's variables for the passwords, by user.
var passwordVars = map[string]string{"admin": "SECURED_ADMIN_PASSWORD", access.Ingest: "SECURED_INGEST_PASSWORD",
	access.Counter: "SECURED_COUNTER_PASSWORD", access.Printer: "SECURED_PRINTER_PASSWORD"}

// placeholder is what the test sets a user's password variable to.
func placeholder(user string) string { return "placeholder-of-" + user }

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// loadSecured loads docker-compose.yml with the overlay on top, with env
// as the only environment (no .env, no process environment).
func loadSecured(t *testing.T, env []string) (*types.Project, error) {
	t.Helper()
	root := repoRoot(t)
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, baseFile), filepath.Join(root, overlayFile)},
		cli.WithWorkingDirectory(root), cli.WithDiscardEnvFile, cli.WithEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

// secured is the merged project with every password set to its placeholder.
func secured(t *testing.T) *types.Project {
	t.Helper()
	var env []string
	for user, v := range passwordVars {
		env = append(env, v+"="+placeholder(user))
	}
	p, err := loadSecured(t, env)
	if err != nil {
		t.Fatalf("%s with %s does not load: %v", baseFile, overlayFile, err)
	}
	return p
}

func env(t *testing.T, s types.ServiceConfig, name string) string {
	t.Helper()
	v := s.Environment[name]
	if v == nil {
		t.Fatalf("%s sets no %s", s.Name, name)
	}
	return *v
}

func TestSecuredOverlayNeedsEveryPassword(t *testing.T) {
	for _, missing := range passwordVars {
		var env []string
		for user, v := range passwordVars {
			if v != missing {
				env = append(env, v+"="+placeholder(user))
			}
		}
		_, err := loadSecured(t, env)
		if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), ".env.example") {
			t.Errorf("without %s: want an error naming it and .env.example, got %v", missing, err)
		}
	}
}

// listeners parses "NAME://host:port,..." into names.
func listeners(t *testing.T, value string) []string {
	t.Helper()
	var names []string
	for _, l := range strings.Split(value, ",") {
		name, _, ok := strings.Cut(l, "://")
		if !ok {
			t.Fatalf("listener %q is not NAME://host:port", l)
		}
		names = append(names, name)
	}
	return names
}

func TestSecuredBrokerTakesNoClientWithoutAuthentication(t *testing.T) {
	kafka := secured(t).Services["kafka"]
	protocols := map[string]string{}
	for _, m := range strings.Split(env(t, kafka, "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"), ",") {
		name, proto, _ := strings.Cut(m, ":")
		protocols[name] = proto
	}
	all := listeners(t, env(t, kafka, "KAFKA_LISTENERS"))
	for _, name := range all {
		switch protocols[name] {
		case "SASL_SSL":
		case "SSL": // only with a certificate the CA signed, that is the broker's own
			key := "KAFKA_LISTENER_NAME_" + strings.ToUpper(strings.ReplaceAll(name, "_", "__")) + "_SSL_CLIENT_AUTH"
			if v := kafka.Environment[key]; v == nil || *v != "required" {
				t.Errorf("listener %s is SSL without %s=required: any TLS client could connect unauthenticated", name, key)
			}
		default:
			t.Errorf("listener %s is %q: clients would connect there without authentication", name, protocols[name])
		}
	}
	for _, name := range listeners(t, env(t, kafka, "KAFKA_ADVERTISED_LISTENERS")) {
		if !slices.Contains(all, name) {
			t.Errorf("advertised listener %s is not among KAFKA_LISTENERS %v", name, all)
		}
	}
	if ib := env(t, kafka, "KAFKA_INTER_BROKER_LISTENER_NAME"); !slices.Contains(all, ib) {
		t.Errorf("the inter-broker listener %s is not among %v", ib, all)
	}
	for k, want := range map[string]string{
		"KAFKA_AUTHORIZER_CLASS_NAME":          "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND": "false",
		"KAFKA_SUPER_USERS":                    "User:admin;User:CN=kafka",
		"KAFKA_SASL_ENABLED_MECHANISMS":        access.Mechanism,
	} {
		if got := env(t, kafka, k); got != want {
			t.Errorf("kafka %s=%q, want %q", k, got, want)
		}
	}
	// The official image takes the key store from /etc/kafka/secrets only
	// when an advertised listener's name ends in SSL, and a SASL_ one
	// needs KAFKA_OPTS: its configure script, which the stand-in follows.
	adv := env(t, kafka, "KAFKA_ADVERTISED_LISTENERS")
	if !strings.Contains(adv, "SSL://") || !regexp.MustCompile(`SASL_.*://`).MatchString(adv) {
		t.Errorf("KAFKA_ADVERTISED_LISTENERS=%s: the official image reads its key store only for a listener named ...SSL", adv)
	}
	for _, k := range []string{"KAFKA_SSL_KEYSTORE_FILENAME", "KAFKA_SSL_KEYSTORE_CREDENTIALS", "KAFKA_SSL_KEY_CREDENTIALS"} {
		env(t, kafka, k)
	}
	if !strings.Contains(env(t, kafka, "KAFKA_OPTS"), "java.security.auth.login.config=") {
		t.Error("KAFKA_OPTS names no JAAS file: the SASL_SSL listeners have no login module")
	}
	// The port published for the host is an authenticated listener's.
	for _, p := range kafka.Ports {
		found := false
		for _, l := range strings.Split(env(t, kafka, "KAFKA_LISTENERS"), ",") {
			name, addr, _ := strings.Cut(l, "://")
			if strings.HasSuffix(addr, ":"+p.Published) && protocols[name] == "SASL_SSL" {
				found = true
			}
		}
		if !found {
			t.Errorf("kafka publishes port %s, which is no SASL_SSL listener's", p.Published)
		}
	}
}

// kafkaconnVariables are the KAFKA_* variables every service reads.
func kafkaconnVariables() []string {
	var names []string
	ty := reflect.TypeFor[kafkaconn.Config]()
	for i := range ty.NumField() {
		if tag := ty.Field(i).Tag.Get("envconfig"); tag != "" {
			names = append(names, "KAFKA_"+tag)
		}
	}
	return names
}

func TestSecuredServicesAreEachTheirOwnUser(t *testing.T) {
	p := secured(t)
	base, err := loadSecuredBase(t)
	if err != nil {
		t.Fatal(err)
	}
	read := kafkaconnVariables()
	for _, name := range []string{access.Ingest, access.Counter, access.Printer} {
		s := p.Services[name]
		for k, want := range map[string]string{
			"KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
			"KAFKA_SASL_MECHANISM":    access.Mechanism,
			"KAFKA_SASL_USERNAME":     name, // the user of its principal in pkg/access, User:<service>
			"KAFKA_SASL_PASSWORD":     placeholder(name),
		} {
			if got := env(t, s, k); got != want {
				t.Errorf("%s %s=%q, want %q", name, k, got, want)
			}
		}
		// Only what the overlay adds is checked here; the base file's own
		// variables are checked against the services by deploy's tests.
		for k := range s.Environment {
			if _, inBase := base.Services[name].Environment[k]; !inBase && !slices.Contains(read, k) {
				t.Errorf("%s sets %s, which no service reads", name, k)
			}
		}
		if c := s.DependsOn["grant"].Condition; c != types.ServiceConditionCompletedSuccessfully {
			t.Errorf("%s depends on grant with %q, want %q: it would start before its user exists", name, c, types.ServiceConditionCompletedSuccessfully)
		}
		if ca := env(t, s, "KAFKA_SSL_CA_LOCATION"); !mountedFrom(s, "kafka-trust", ca) {
			t.Errorf("%s trusts %s, which is not on the kafka-trust volume", name, ca)
		}
		if mountedFrom(s, "kafka-secrets", "/") {
			t.Errorf("%s mounts kafka-secrets, the broker's key", name)
		}
	}
	if v := p.Services[access.Counter].Environment["COUNTER_INSTANCE_ID"]; v != nil {
		t.Errorf("counter sets COUNTER_INSTANCE_ID=%q: every replica would share one transactional id", *v)
	}
}

// loadSecuredBase is docker-compose.yml alone.
func loadSecuredBase(t *testing.T) (*types.Project, error) {
	t.Helper()
	root := repoRoot(t)
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, baseFile)}, cli.WithWorkingDirectory(root), cli.WithDiscardEnvFile)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(context.Background())
}

// mountedFrom says whether path in s lies on the named volume.
func mountedFrom(s types.ServiceConfig, volume, path string) bool {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeVolume && v.Source == volume &&
			(path == "/" || path == v.Target || strings.HasPrefix(path, strings.TrimSuffix(v.Target, "/")+"/")) {
			return true
		}
	}
	return false
}

func TestSecuredGrantGivesEachServiceItsUser(t *testing.T) {
	p := secured(t)
	g := p.Services["grant"]
	if g.Build == nil || g.Build.Args["SERVICE"] == nil || *g.Build.Args["SERVICE"] != "grant" {
		t.Fatalf("grant is not built with SERVICE=grant: %+v", g.Build)
	}
	if c := g.DependsOn["kafka"].Condition; c != types.ServiceConditionHealthy {
		t.Errorf("grant depends on kafka with %q, want %q", c, types.ServiceConditionHealthy)
	}
	for k, want := range map[string]string{
		"KAFKA_SASL_USERNAME":        "admin",
		"KAFKA_SASL_PASSWORD":        placeholder("admin"),
		"GRANT_INGEST_PASSWORD":      placeholder(access.Ingest),
		"GRANT_COUNTER_PASSWORD":     placeholder(access.Counter),
		"GRANT_PRINTER_PASSWORD":     placeholder(access.Printer),
		"GRANT_COUNTER_HOSTNAME_IDS": "true", // the counters are named by Docker (TestSecuredServicesAreEachTheirOwnUser)
	} {
		if got := env(t, g, k); got != want {
			t.Errorf("grant %s=%q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"KAFKA_BROKERS", "KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM", "KAFKA_SSL_CA_LOCATION"} {
		if got, want := env(t, g, k), env(t, p.Services[access.Ingest], k); got != want {
			t.Errorf("grant %s=%q, the services' %q", k, got, want)
		}
	}
	// Every variable set is one grant reads.
	bin := filepath.Join(t.TempDir(), "grant")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join(repoRoot(t), "deploy", "grant")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build grant: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "-h").Output()
	if err != nil {
		t.Fatalf("grant -h: %v", err)
	}
	read := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 0 {
			read[f[0]] = true
		}
	}
	for k := range g.Environment {
		if !read[k] {
			t.Errorf("grant sets %s, which grant does not read (grant -h)", k)
		}
	}
}

func TestSecuredInitFormatsTheBrokersOwnStorage(t *testing.T) {
	p := secured(t)
	kafka, initc := p.Services["kafka"], p.Services["kafka-init"]
	if initc.Image != kafka.Image {
		t.Errorf("kafka-init runs %s, kafka %s: keytool and kafka-storage.sh must be the broker's", initc.Image, kafka.Image)
	}
	if c := kafka.DependsOn["kafka-init"].Condition; c != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("kafka depends on kafka-init with %q, want %q", c, types.ServiceConditionCompletedSuccessfully)
	}
	for initVar, kafkaVar := range map[string]string{"CLUSTER_ID": "CLUSTER_ID", "NODE_ID": "KAFKA_NODE_ID",
		"LOG_DIRS": "KAFKA_LOG_DIRS", "CONTROLLER_QUORUM_VOTERS": "KAFKA_CONTROLLER_QUORUM_VOTERS"} {
		if got, want := env(t, initc, initVar), env(t, kafka, kafkaVar); got != want {
			t.Errorf("kafka-init formats with %s=%q, the broker has %s=%q", initVar, got, kafkaVar, want)
		}
	}
	if got := env(t, initc, "SECURED_ADMIN_PASSWORD"); got != placeholder("admin") {
		t.Errorf("kafka-init SECURED_ADMIN_PASSWORD=%q, want the admin's", got)
	}
	// Both see the same volumes where it writes and the broker reads.
	for _, target := range []string{env(t, kafka, "KAFKA_LOG_DIRS"), "/etc/kafka/secrets"} {
		var src []string
		for _, s := range []types.ServiceConfig{initc, kafka} {
			for _, v := range s.Volumes {
				if v.Target == target && v.Type == types.VolumeTypeVolume {
					src = append(src, v.Source)
				}
			}
		}
		if len(src) != 2 || src[0] != src[1] {
			t.Errorf("%s: kafka-init and kafka mount %v, want one named volume in both", target, src)
		}
	}
	// The secured broker's data is its own, not the plain one's, which
	// has no admin and no ACLs.
	base, err := loadSecuredBase(t)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range base.Services["kafka"].Volumes {
		if mountedFrom(kafka, v.Source, v.Target) {
			t.Errorf("the secured kafka mounts the plain one's volume %s", v.Source)
		}
	}
}

// TestSecuredOverlayHoldsNoPassword reads the file as written: every
// password is a reference to a required variable, never a value.
func TestSecuredOverlayHoldsNoPassword(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), overlayFile))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	ref := regexp.MustCompile(`^\$\{SECURED_[A-Z]+_PASSWORD:\?[^}]*\}$`)
	seen := 0
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if strings.HasSuffix(k.Value, "PASSWORD") && v.Kind == yaml.ScalarNode {
					seen++
					if !ref.MatchString(v.Value) {
						t.Errorf("line %d: %s is %q, not ${SECURED_..._PASSWORD:?...}", v.Line, k.Value, v.Value)
					}
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	if seen == 0 {
		t.Fatal("no password variable found in the overlay")
	}
}

// TestEnvExampleListsTheSecuredPasswords: .env.example names each
// password variable, with no value (the overlay refuses an empty one).
func TestEnvExampleListsTheSecuredPasswords(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range passwordVars {
		if !regexp.MustCompile(`(?m)^` + v + `=$`).Match(b) {
			t.Errorf(".env.example has no empty line %s=", v)
		}
	}
}
