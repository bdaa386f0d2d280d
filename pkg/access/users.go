package access

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/config"
)

// Mechanism is the SASL mechanism of the services' users.
const Mechanism = "SCRAM-SHA-512"

// SetUsers creates or updates the SCRAM-SHA-512 credentials of users
// (name to password).
func SetUsers(ctx context.Context, admin *kafka.AdminClient, users map[string]config.Secret) error {
	if len(users) == 0 {
		return nil
	}
	ups := make([]kafka.UserScramCredentialUpsertion, 0, len(users))
	for name, pass := range users {
		ups = append(ups, kafka.UserScramCredentialUpsertion{User: name, Password: []byte(pass.Reveal()),
			ScramCredentialInfo: kafka.ScramCredentialInfo{Mechanism: kafka.ScramMechanismSHA512, Iterations: 8192}})
	}
	res, err := admin.AlterUserScramCredentials(ctx, ups, nil)
	if err != nil {
		return fmt.Errorf("set SCRAM credentials: %w", err)
	}
	return userErrors("set", res.Errors)
}

// DeleteUsers deletes the SCRAM-SHA-512 credentials of the named users.
func DeleteUsers(ctx context.Context, admin *kafka.AdminClient, names ...string) error {
	if len(names) == 0 {
		return nil
	}
	dels := make([]kafka.UserScramCredentialDeletion, len(names))
	for i, n := range names {
		dels[i] = kafka.UserScramCredentialDeletion{User: n, Mechanism: kafka.ScramMechanismSHA512}
	}
	res, err := admin.AlterUserScramCredentials(ctx, nil, dels)
	if err != nil {
		return fmt.Errorf("delete SCRAM credentials: %w", err)
	}
	return userErrors("delete", res.Errors)
}

func userErrors(what string, res map[string]kafka.Error) error {
	names := make([]string, 0, len(res))
	for n := range res {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs []error
	for _, n := range names {
		if e := res[n]; e.Code() != kafka.ErrNoError {
			errs = append(errs, fmt.Errorf("%s SCRAM credentials of %s: %w", what, n, e))
		}
	}
	return errors.Join(errs...)
}
