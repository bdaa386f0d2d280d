package deploy_test

// A secured cluster for real: the local broker's SASL_SSL listener
// (SCRAM-SHA-512 over TLS, the standard authorizer on, nothing allowed
// that no ACL allows), each service a user of its own holding only the
// rights pkg/access lists. Each test has users, topics, groups and ACLs of
// its own, made and removed through the broker's PLAINTEXT listener
// (KAFKA_BROKERS), whose anonymous principal is a super user.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/access"
	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/pkg/systest/expect"
	"github.com/hashtrend/hashtrend/pkg/topic"
)

// secured is one test's corner of the secured broker.
type secured struct {
	t       *testing.T
	base    string // what the test's names start with
	brokers string // the SASL_SSL listener
	ca      string // the CA file the clients trust
	names   access.Names
	rights  []access.Right
	users   map[string]string // by service
	pass    map[string]string // by service
	admin   *kafka.AdminClient
}

var services = []string{access.Ingest, access.Counter, access.Printer}

// securedBroker returns the secured broker's SASL_SSL address
// (KAFKA_SECURE_BROKERS) and its CA file (in KAFKA_SECURE_DIR), or ends
// the test as Unavailable.
func securedBroker(t *testing.T) (brokers, ca string) {
	t.Helper()
	brokers, dir := os.Getenv("KAFKA_SECURE_BROKERS"), os.Getenv("KAFKA_SECURE_DIR")
	if brokers == "" || dir == "" {
		systest.Unavailable(t, "no secured broker: KAFKA_SECURE_BROKERS and KAFKA_SECURE_DIR are not set "+
			"(make test sets them when it starts the local broker with its SASL_SSL listener; see docs/security.md)")
	}
	ca = filepath.Join(dir, "ca.crt")
	if _, err := os.Stat(ca); err != nil {
		systest.Unavailable(t, "no CA of the secured broker: %v", err)
	}
	c, err := net.DialTimeout("tcp", brokers, 5*time.Second)
	if err != nil {
		systest.Unavailable(t, "no secured broker at %s: %v", brokers, err)
	}
	c.Close()
	return brokers, ca
}

// testNames are the names of a test's own topics, groups, transactional
// ids and users, all starting with base.
func testNames(base string) access.Names {
	return access.Names{
		Topics: topic.Names{Tweets: base + ".tweets", TweetsPartitions: 3, DLQ: base + ".dlq", Deltas: base + ".deltas",
			Counts: base + ".counts", Top: base + ".top", Facets: base + ".facets", Positions: base + ".positions"},
		TallyGroup: base + ".tally", RankGroup: base + ".rank", CounterInstances: base + ".counter-",
		IngestTransactions: true, CreateTopics: true,
		Ingest: "User:" + base + "." + access.Ingest, Counter: "User:" + base + "." + access.Counter, Printer: "User:" + base + "." + access.Printer,
	}
}

// nameEnv are the variables that give a service, or grant, names n.
func nameEnv(n access.Names) []string {
	t := n.Topics
	return []string{
		"TOPIC_TWEETS=" + t.Tweets, "TOPIC_TWEETS_PARTITIONS=3", "TOPIC_DLQ=" + t.DLQ, "TOPIC_DELTAS=" + t.Deltas,
		"TOPIC_COUNTS=" + t.Counts, "TOPIC_TOP=" + t.Top, "TOPIC_FACETS=" + t.Facets, "TOPIC_POSITIONS=" + t.Positions,
		"COUNTER_GROUP_TALLY=" + n.TallyGroup, "COUNTER_GROUP_RANK=" + n.RankGroup,
	}
}

// newSecured makes the test's users, with random passwords, and grants
// each the rights of its service on the test's own names; all of it is
// removed when the test ends. Without a secured broker the test is
// Unavailable.
func newSecured(t *testing.T) *secured {
	t.Helper()
	brokers, ca := securedBroker(t)
	s := &secured{t: t, brokers: brokers, ca: ca, admin: kafkatest.Admin(t), users: map[string]string{}, pass: map[string]string{}}
	base := kafkatest.Name(t, "sec")
	s.base, s.names = base, testNames(base)
	for _, svc := range services {
		s.users[svc] = base + "." + svc
		s.pass[svc] = randomSecret()
	}
	s.rights = access.Rights(s.names)
	n := s.names.Topics
	kafkatest.DeleteAfter(t, n.Tweets, n.DLQ, n.Deltas, n.Counts, n.Top, n.Positions)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	creds := map[string]config.Secret{}
	for _, svc := range services {
		creds[s.users[svc]] = config.Secret(s.pass[svc])
	}
	if err := access.SetUsers(ctx, s.admin, creds); err != nil {
		t.Fatal(err)
	}
	if err := access.Apply(ctx, s.admin, access.Bindings(s.rights)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.remove(s.rights, s.users[access.Ingest], s.users[access.Counter], s.users[access.Printer]) })
	return s
}

// remove revokes rs and deletes the users.
func (s *secured) remove(rs []access.Right, users ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := access.Revoke(ctx, s.admin, access.Bindings(rs)); err != nil {
		s.t.Errorf("revoke the test's ACLs: %v", err)
	}
	if err := access.DeleteUsers(ctx, s.admin, users...); err != nil {
		s.t.Errorf("delete the test's users: %v", err)
	}
}

func randomSecret() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// env is what service svc is started with: its user on the SASL_SSL
// listener and the test's names.
func (s *secured) env(svc string) []string {
	n := s.names
	env := append([]string{
		"KAFKA_BROKERS=" + s.brokers, "KAFKA_SECURITY_PROTOCOL=sasl_ssl", "KAFKA_SASL_MECHANISM=" + access.Mechanism,
		"KAFKA_SASL_USERNAME=" + s.users[svc], "KAFKA_SASL_PASSWORD=" + s.pass[svc], "KAFKA_SSL_CA_LOCATION=" + s.ca,
	}, nameEnv(n)...)
	switch svc {
	case access.Ingest:
		env = append(env, "INGEST_SOURCE=synthetic", "INGEST_OPS_ADDR=off")
	case access.Counter:
		env = append(env, "COUNTER_INSTANCE_ID="+n.CounterInstances+"1",
			"COUNTER_WINDOW=500ms", "COUNTER_GRACE=200ms", "COUNTER_TRANSACTION_TIMEOUT=6s", "COUNTER_SESSION_TIMEOUT=6s",
			"COUNTER_OPS_ADDR=off")
	case access.Printer:
		env = append(env, "PRINTER_OPS_ADDR=off")
	}
	return env
}

// start runs service svc as the test's user, env on top.
func (s *secured) start(t *testing.T, svc string, env ...string) *systest.Process {
	return systest.Start(t, svc, bins[svc], append(s.env(svc), env...)...)
}

// refused waits for p to stop on its own with an error, at start, and
// returns the one line of its output that says cause (the start of an
// AccessError: "kafka: authentication failed", ...). It fails the test
// when p goes on running, exits with 0, says it on no line or on several
// (a retry loop would say it again and again), or logs any other error.
func refused(t *testing.T, p *systest.Process, cause string) string {
	t.Helper()
	if err := p.WaitExit(time.Minute); err == nil {
		t.Fatalf("%s exited with 0; want a refusal:\n%s", p.Name, p.Output())
	}
	var lines, errs []string
	for _, l := range strings.Split(p.Output(), "\n") {
		if strings.Contains(l, cause) {
			lines = append(lines, l)
		}
		if strings.Contains(l, "level=ERROR") {
			errs = append(errs, l)
		}
	}
	if len(lines) != 1 || len(errs) != 1 || errs[0] != lines[0] {
		t.Fatalf("%s: %d lines say %q and %d are errors, want the same 1:\n%s", p.Name, len(lines), cause, len(errs), p.Output())
	}
	return lines[0]
}

// noSecret fails the test when any of secrets appears in text (named what).
func noSecret(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s shows a password", what)
		}
	}
}

func (s *secured) passwords() []string {
	return []string{s.pass[access.Ingest], s.pass[access.Counter], s.pass[access.Printer]}
}

// scrape returns the body of GET url ("" when it cannot be read).
func scrape(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestSecuredPipelineCountsEveryPostWithEachServiceHoldingOnlyItsOwnRights(t *testing.T) {
	s := newSecured(t)
	const total = 3000
	ops := systest.FreeAddrs(t, 3)
	// Debug logs too must hold no secret.
	counter := s.start(t, access.Counter, "COUNTER_OPS_ADDR="+ops[1], "LOG_LEVEL=debug")
	printer := s.start(t, access.Printer, "PRINTER_OPS_ADDR="+ops[2], "PRINTER_FORMAT=json", "PRINTER_FROM=beginning", "LOG_LEVEL=debug")
	ingest := s.start(t, access.Ingest, "INGEST_OPS_ADDR="+ops[0], "LOG_LEVEL=debug",
		"INGEST_SYNTHETIC_SEED=31", "INGEST_SYNTHETIC_COUNT=3000", "INGEST_SYNTHETIC_RATE=1500")

	// Every endpoint of every service, while all three run.
	var endpoints strings.Builder
	for i, addr := range ops {
		var metrics string
		systest.Await(t, services[i]+"'s metrics", time.Minute, func() bool {
			metrics = scrape("http://" + addr + "/metrics")
			return strings.Contains(metrics, "hashtrend_")
		})
		endpoints.WriteString(metrics)
		endpoints.WriteString(scrape("http://" + addr + "/healthz"))
		endpoints.WriteString(scrape("http://" + addr + "/readyz"))
	}
	ingest.Wait(2 * time.Minute)

	// What ingest wrote, read as the super user, is what the counts must
	// say.
	var posts []post.Post
	n := s.names.Topics
	for _, m := range kafkatest.ReadAll(t, n.Tweets, time.Minute) {
		p, err := post.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		posts = append(posts, p)
	}
	if len(posts) != total {
		t.Fatalf("%d posts in %s, want the %d ingest generated", len(posts), n.Tweets, total)
	}
	want := expect.Of(posts)
	snaps := kafkatest.AwaitSnapshots(t, kafkatest.Brokers(t), n.Top, "a snapshot with every post", 2*time.Minute, want.AllCounted)
	if err := want.CompareLast(snaps, 10); err != nil {
		t.Fatal(err)
	}

	// The printer, as its own user, shows the same final snapshot.
	var shown snapshot.Snapshot
	systest.Await(t, "the printer showing every post", time.Minute, func() bool {
		for _, l := range strings.Split(printer.Output(), "\n") {
			if sn, err := snapshot.Decode([]byte(l)); err == nil && sn.Posts >= want.Posts {
				shown = sn
				return true
			}
		}
		return false
	}, printer.Output)
	if err := want.Compare(shown, 10); err != nil {
		t.Fatalf("printed: %v", err)
	}

	counter.Stop(time.Minute)
	printer.Stop(time.Minute)
	noSecret(t, "an endpoint", endpoints.String(), s.passwords()...)
	for _, p := range []*systest.Process{ingest, counter, printer} {
		noSecret(t, p.Name+"'s output", p.Output(), s.passwords()...)
	}
}

func TestSecuredWrongPasswordStopsEachServiceAtStartInOneLine(t *testing.T) {
	s := newSecured(t)
	for _, svc := range services {
		t.Run(svc, func(t *testing.T) {
			wrong := "wrong-" + randomSecret()
			p := s.start(t, svc, "KAFKA_SASL_PASSWORD="+wrong, "LOG_LEVEL=debug", "INGEST_SYNTHETIC_COUNT=10")
			line := refused(t, p, "kafka: "+"authentication failed")
			for _, want := range []string{`SASL user \"` + s.users[svc] + `\"`, "SCRAM-SHA-512", "at brokers " + s.brokers} {
				if !strings.Contains(line, want) {
					t.Errorf("the line does not name %s:\n%s", want, line)
				}
			}
			noSecret(t, svc+"'s output", p.Output(), append(s.passwords(), wrong)...)
			t.Logf("%s", line)
		})
	}
}

func TestSecuredUntrustedCAStopsEachServiceAtStartInOneLine(t *testing.T) {
	s := newSecured(t)
	other := otherCA(t)
	for _, svc := range services {
		t.Run(svc, func(t *testing.T) {
			p := s.start(t, svc, "KAFKA_SSL_CA_LOCATION="+other, "LOG_LEVEL=debug", "INGEST_SYNTHETIC_COUNT=10")
			line := refused(t, p, "kafka: TLS handshake failed")
			for _, want := range []string{"brokers " + s.brokers, "not signed by a CA in KAFKA_SSL_CA_LOCATION=" + other, "certificate verify failed"} {
				if !strings.Contains(line, want) {
					t.Errorf("the line does not name %s:\n%s", want, line)
				}
			}
			noSecret(t, svc+"'s output", p.Output(), s.passwords()...)
			t.Logf("%s", line)
		})
	}
}

// otherCA writes the certificate of a CA that signed nothing the broker
// has, and returns its file.
func otherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not the broker's CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other-ca.crt")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSecuredMissingRightStopsItsServiceAtStartInOneLine takes each ACL of
// the table away in turn: the service that needs it stops at start, in
// one line naming the operation and the resource. That each one is
// needed is what makes the table least privilege; that the pipeline runs
// with them all (the test above), that it is enough.
func TestSecuredMissingRightStopsItsServiceAtStartInOneLine(t *testing.T) {
	s := newSecured(t)
	for _, r := range s.rights {
		for _, b := range access.Bindings([]access.Right{r}) {
			kind, name := resourceWords(b)
			t.Run(r.Service+"/"+b.Operation.String()+" "+kind+" "+strings.TrimPrefix(name, s.base+"."), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if err := access.Revoke(ctx, s.admin, kafka.ACLBindings{b}); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					if err := access.Apply(ctx, s.admin, kafka.ACLBindings{b}); err != nil {
						t.Error(err)
					}
				})
				p := s.start(t, r.Service, "INGEST_SYNTHETIC_COUNT=10")
				line := refused(t, p, "kafka: not authorized")
				want := s.names.Ingest
				switch r.Service {
				case access.Counter:
					want = s.names.Counter
				case access.Printer:
					want = s.names.Printer
				}
				want += " may not " + strings.ToUpper(b.Operation.String()) + " " + kind + " " + name
				if !strings.Contains(line, want) {
					t.Errorf("the line does not say %q:\n%s", want, line)
				}
				noSecret(t, r.Service+"'s output", p.Output(), s.passwords()...)
				t.Logf("%s", line)
			})
		}
	}
}

// resourceWords names an ACL's resource as the services' lines do: its
// kind and its name (a prefix: the start of the name).
func resourceWords(b kafka.ACLBinding) (kind, name string) {
	switch b.Type {
	case kafka.ResourceTopic:
		return "topic", b.Name
	case kafka.ResourceGroup:
		return "group", b.Name
	case access.TransactionalID:
		return "transactional id", b.Name
	}
	return b.Type.String(), b.Name
}

// TestSecurityDocShowsTheRightsAsGrantGrantsThem keeps the table of
// docs/security.md equal to what grant prints for the default names.
func TestSecurityDocShowsTheRightsAsGrantGrantsThem(t *testing.T) {
	cmd := exec.Command(bins["grant"], "table")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // the defaults, whatever the test's environment
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("grant table: %v", err)
	}
	path := filepath.Join(rootDir(), "docs", "security.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	begin, end := "<!-- rights -->\n", "<!-- /rights -->"
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("docs/security.md has no %s ... %s block", begin, end)
	}
	if got := doc[i+len(begin) : j]; got != string(out) {
		if !*update {
			t.Fatalf("docs/security.md's rights are out of date (go test ./deploy -run SecurityDoc -update):\n--- doc\n%s\n--- grant table\n%s", got, out)
		}
		if err := os.WriteFile(path, []byte(doc[:i+len(begin)]+string(out)+doc[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGrantNamesItsVariablesAsTheServicesDo holds grant to the services:
// each variable both read has the same default.
func TestGrantNamesItsVariablesAsTheServicesDo(t *testing.T) {
	shared := 0
	for _, g := range usage(t, "grant") {
		for _, svc := range services {
			if v, ok := variables(t, svc)[g.name]; ok {
				shared++
				if v.def != g.def {
					t.Errorf("%s: grant's default %q, %s's %q", g.name, g.def, svc, v.def)
				}
			}
		}
	}
	if shared == 0 {
		t.Fatal("grant reads no variable of the services")
	}
}

// TestGrantCreatesTheUsersAndTheirRights runs grant as the local broker's
// script does, twice, on a test's own names and users: each user then
// authenticates on the SASL_SSL listener and holds exactly the ACLs of
// its service's rows.
func TestGrantCreatesTheUsersAndTheirRights(t *testing.T) {
	brokers, ca := securedBroker(t)
	s := &secured{t: t, admin: kafkatest.Admin(t)}
	base := kafkatest.Name(t, "grant")
	names := testNames(base)
	rights := access.Rights(names)
	users, pass := map[string]string{}, map[string]string{}
	var file strings.Builder
	for _, svc := range services {
		users[svc], pass[svc] = base+"."+svc, randomSecret()
		file.WriteString(users[svc] + " " + pass[svc] + "\n")
	}
	usersFile := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(usersFile, []byte(file.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.remove(rights, users[access.Ingest], users[access.Counter], users[access.Printer]) })
	env := append(nameEnv(names), "KAFKA_BROKERS="+kafkatest.Brokers(t), "KAFKA_SECURITY_PROTOCOL=plaintext",
		"GRANT_USERS="+usersFile, "GRANT_COUNTER_INSTANCE_PREFIX="+names.CounterInstances,
		"GRANT_INGEST_PRINCIPAL="+names.Ingest, "GRANT_COUNTER_PRINCIPAL="+names.Counter, "GRANT_PRINTER_PRINCIPAL="+names.Printer)
	for range 2 {
		cmd := exec.Command(bins["grant"])
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("grant: %v\n%s", err, out)
		}
		noSecret(t, "grant's output", string(out), pass[access.Ingest], pass[access.Counter], pass[access.Printer])
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, svc := range services {
		want := access.Bindings(access.Of(svc, rights))
		res, err := s.admin.DescribeACLs(ctx, kafka.ACLBindingFilter{Type: kafka.ResourceAny, ResourcePatternType: kafka.ResourcePatternTypeAny,
			Principal: "User:" + users[svc], Operation: kafka.ACLOperationAny, PermissionType: kafka.ACLPermissionTypeAny})
		if err != nil || res.Error.Code() != kafka.ErrNoError {
			t.Fatalf("describe the ACLs of %s: %v %v", users[svc], err, res.Error)
		}
		if len(res.ACLBindings) != len(want) {
			t.Errorf("%s holds %d ACLs, want %d: %v", users[svc], len(res.ACLBindings), len(want), res.ACLBindings)
		}
		for _, b := range want {
			if !slices.Contains(res.ACLBindings, b) {
				t.Errorf("%s lacks %s", users[svc], access.Describe(b))
			}
		}
		kc := kafkaconn.Config{Brokers: brokers, SecurityProtocol: "sasl_ssl", SASLMechanism: access.Mechanism,
			SASLUsername: users[svc], SASLPassword: config.Secret(pass[svc]), SSLCALocation: ca}
		admin, err := kc.NewAdmin("grant-test", nil)
		if err != nil {
			t.Fatal(err)
		}
		err = admin.Check(ctx)
		admin.Close()
		if err != nil {
			t.Errorf("%s: %v", users[svc], err)
		}
	}
}
