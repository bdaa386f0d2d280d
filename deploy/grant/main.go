// Command grant gives the services their rights on a secured cluster: it
// creates or updates the SCRAM-SHA-512 credentials of the users listed in
// GRANT_USERS, and of the services' own users whose passwords
// GRANT_<SERVICE>_PASSWORD give, and creates the ACLs of package access
// (pkg/access) for the names the environment gives (TOPIC_*,
// COUNTER_GROUP_*, INGEST_TRANSACTIONAL_ID, GRANT_*), connecting with the
// KAFKA_* settings of a principal that may (a super user, or one with
// ALTER and ALTER_CONFIGS on the cluster). Running it again changes
// nothing. -h lists the variables; "table" prints the rights as
// docs/security.md shows them.
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hashtrend/hashtrend/pkg/access"
	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
)

// Config is what grant reads from the environment.
type Config struct {
	Kafka kafkaconn.Config `envconfig:"KAFKA"`
	access.Names
	Users string `envconfig:"GRANT_USERS" desc:"file of users whose SCRAM-SHA-512 credentials to set, one \"name password\" line each (empty: none)"`
	// The services' own users, when their passwords come from the
	// environment (the secured Compose overlay) rather than a file.
	IngestPassword  config.Secret `envconfig:"GRANT_INGEST_PASSWORD" desc:"password of ingest's user, the name of GRANT_INGEST_PRINCIPAL: its SCRAM-SHA-512 credentials are set (empty: not set; never logged)"`
	CounterPassword config.Secret `envconfig:"GRANT_COUNTER_PASSWORD" desc:"password of the counter's user, the name of GRANT_COUNTER_PRINCIPAL (empty: not set; never logged)"`
	PrinterPassword config.Secret `envconfig:"GRANT_PRINTER_PASSWORD" desc:"password of the printer's user, the name of GRANT_PRINTER_PRINCIPAL (empty: not set; never logged)"`
	// HostnameIDs: see hostnameRights.
	HostnameIDs bool `envconfig:"GRANT_COUNTER_HOSTNAME_IDS" default:"false" desc:"counters run in containers without COUNTER_INSTANCE_ID (docker compose --scale), so their instance ids are Docker's hostnames, 12 hex digits: grant their transactional ids by the prefixes 0-9 and a-f, which none of ingest's starts with"`
}

// Validate checks the settings.
func (c *Config) Validate() error {
	if err := c.Kafka.Validate(); err != nil {
		return err
	}
	if err := c.Names.Validate(); err != nil {
		return err
	}
	for _, u := range c.serviceUsers() {
		if _, ok := strings.CutPrefix(u.principal, "User:"); !ok {
			return config.Invalid(u.variable, "is set, but %s is %q, not a user (User:name)", u.principalVariable, u.principal)
		}
	}
	if id := c.IngestTransactionalID; c.HostnameIDs && c.IngestTransactions && id != "" && strings.ContainsRune(hexDigits, rune(id[0])) {
		return config.Invalid("GRANT_COUNTER_HOSTNAME_IDS", "the counters could take over ingest's transactions: INGEST_TRANSACTIONAL_ID %q starts with a hex digit", id)
	}
	return nil
}

// serviceUser is a service's user whose password the environment gives.
type serviceUser struct {
	variable, principalVariable string
	principal                   string
	password                    config.Secret
}

// serviceUsers are the services' users whose passwords are set.
func (c *Config) serviceUsers() []serviceUser {
	var us []serviceUser
	for _, u := range []serviceUser{
		{"GRANT_INGEST_PASSWORD", "GRANT_INGEST_PRINCIPAL", c.Ingest, c.IngestPassword},
		{"GRANT_COUNTER_PASSWORD", "GRANT_COUNTER_PRINCIPAL", c.Counter, c.CounterPassword},
		{"GRANT_PRINTER_PASSWORD", "GRANT_PRINTER_PRINCIPAL", c.Printer, c.PrinterPassword},
	} {
		if u.password != "" {
			us = append(us, u)
		}
	}
	return us
}

const hexDigits = "0123456789abcdef"

// hostnameRights are the counter's rights on the transactional ids of
// instances that Docker names: without COUNTER_INSTANCE_ID a counter's
// instance id is its hostname, which for a container is the first 12 hex
// digits of its id, different for every replica and every new container,
// so no one prefix holds them. The 16 prefixes of one hex digit do, and
// none of them starts an id of ingest's ("ingest-...", or an
// INGEST_TRANSACTIONAL_ID that Validate checks), so the counter still
// cannot take over ingest's transactions.
func hostnameRights(n access.Names) []access.Right {
	var rs []access.Right
	for _, d := range hexDigits {
		n.CounterInstances = string(d)
		for _, r := range access.Of(access.Counter, access.Rights(n)) {
			if r.Type == access.TransactionalID {
				r.Why = "the stages' transactions when the instance id is a container's hostname (GRANT_COUNTER_HOSTNAME_IDS)"
				rs = append(rs, r)
			}
		}
	}
	return rs
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	var cfg Config
	table := false
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help", "help":
			if err := config.Usage(stdout, &cfg); err != nil {
				fmt.Fprintln(stderr, "grant:", err)
				return 1
			}
			return 0
		case "table":
			table = true
		default:
			fmt.Fprintf(stderr, "grant: unexpected argument %q (settings are environment variables; -h lists them)\n", a)
			return 2
		}
	}
	if err := config.Load(&cfg); err != nil {
		fmt.Fprintln(stderr, "grant: bad configuration:", err)
		return 2
	}
	rights := access.Rights(cfg.Names)
	if cfg.HostnameIDs {
		rights = append(rights, hostnameRights(cfg.Names)...)
	}
	if table {
		fmt.Fprint(stdout, access.Table(rights))
		return 0
	}
	users, err := readUsers(cfg.Users)
	if err != nil {
		fmt.Fprintln(stderr, "grant:", err)
		return 2
	}
	for _, u := range cfg.serviceUsers() {
		name, _ := strings.CutPrefix(u.principal, "User:")
		users = append(users, user{name: name, password: u.password})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := grant(ctx, cfg.Kafka, users, rights); err != nil {
		fmt.Fprintln(stderr, "grant:", err)
		return 1
	}
	fmt.Fprintf(stderr, "grant: %d users, %d ACLs on %s\n", len(users), len(access.Bindings(rights)), cfg.Kafka.Brokers)
	return 0
}

// user is one line of the users file.
type user struct {
	name     string
	password config.Secret
}

// readUsers reads the users file: "name password" lines, # comments.
func readUsers(path string) ([]user, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, config.Invalid("GRANT_USERS", "%v", err)
	}
	defer f.Close()
	var us []user
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, pass, ok := strings.Cut(line, " ")
		if pass = strings.TrimSpace(pass); !ok || name == "" || pass == "" {
			return nil, config.Invalid("GRANT_USERS", "%s line %d is not \"name password\"", path, n)
		}
		us = append(us, user{name: name, password: config.Secret(pass)})
	}
	if err := sc.Err(); err != nil {
		return nil, config.Invalid("GRANT_USERS", "%v", err)
	}
	return us, nil
}

func grant(ctx context.Context, kc kafkaconn.Config, users []user, rights []access.Right) error {
	admin, err := kc.NewAdmin("grant", nil)
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	defer admin.Close()
	// A wrong password or CA is said in one line naming it, rather than
	// librdkafka's retries until the deadline.
	if err := admin.Check(ctx); err != nil {
		return err
	}
	creds := make(map[string]config.Secret, len(users))
	for _, u := range users {
		creds[u.name] = u.password
	}
	if err := access.SetUsers(ctx, admin.AdminClient, creds); err != nil {
		return err
	}
	return access.Apply(ctx, admin.AdminClient, access.Bindings(rights))
}
