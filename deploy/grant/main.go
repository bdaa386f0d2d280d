// Command grant gives the services their rights on a secured cluster: it
// creates or updates the SCRAM-SHA-512 credentials of the users listed in
// GRANT_USERS and creates the ACLs of package access (pkg/access) for the names the
// environment gives (TOPIC_*, COUNTER_GROUP_*, INGEST_TRANSACTIONAL_ID,
// GRANT_*), connecting with the KAFKA_* settings of a principal that may
// (a super user, or one with ALTER and ALTER_CONFIGS on the cluster).
// Running it again changes nothing. -h lists the variables; "table"
// prints the rights as docs/security.md shows them.
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
}

// Validate checks the settings.
func (c *Config) Validate() error {
	if err := c.Kafka.Validate(); err != nil {
		return err
	}
	return c.Names.Validate()
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
	if table {
		fmt.Fprint(stdout, access.Table(rights))
		return 0
	}
	users, err := readUsers(cfg.Users)
	if err != nil {
		fmt.Fprintln(stderr, "grant:", err)
		return 2
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
	creds := make(map[string]config.Secret, len(users))
	for _, u := range users {
		creds[u.name] = u.password
	}
	if err := access.SetUsers(ctx, admin.AdminClient, creds); err != nil {
		return err
	}
	return access.Apply(ctx, admin.AdminClient, access.Bindings(rights))
}
