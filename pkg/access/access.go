// Package access is the one list of the rights each service needs on a
// secured cluster (an authorizer on, nothing allowed that no ACL allows):
// the topics it reads and writes, its consumer groups, its transactional
// ids, and the creation of the topics it writes when it creates them.
// Rights turns the names a deployment uses (the TOPIC_*, COUNTER_GROUP_*
// and INGEST_* variables the services read) into that list.
//
// Three things are made of it: the ACLs an operator creates (Apply, by the
// grant command in deploy/grant, which the local broker's script runs),
// the table of docs/security.md (Table, kept in step by a test), and each
// service's check at start (Verify): it asks the cluster which operations
// it may do on its topics and groups and stops, in one line naming the
// operation and the resource, when one is missing, rather than failing on
// the first record that needs it, hours later.
package access

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/retry"
	"github.com/hashtrend/hashtrend/pkg/topic"
)

// The services, as Right.Service names them.
const (
	Ingest  = "ingest"
	Counter = "counter"
	Printer = "printer"
)

// Names are what a deployment calls the resources the services use, and
// who the services are. Loaded from the environment (the grant command):
// the variables the services read keep their names and defaults here (a
// test compares them with the services' own), GRANT_* are the grant's.
// A service fills in what it knows of itself for Verify.
type Names struct {
	Topics     topic.Names `envconfig:"TOPIC"`
	TallyGroup string      `envconfig:"COUNTER_GROUP_TALLY" default:"counter-tally" desc:"consumer group of the counter's tally stage"`
	RankGroup  string      `envconfig:"COUNTER_GROUP_RANK" default:"counter-rank" desc:"consumer group of the counter's rank stage"`
	// CounterInstances is the prefix of every counter's COUNTER_INSTANCE_ID:
	// a counter's transactional ids are its instance id and -tally, -rank.
	CounterInstances string `envconfig:"GRANT_COUNTER_INSTANCE_PREFIX" default:"counter-" desc:"prefix of every counter's COUNTER_INSTANCE_ID; a counter's transactional ids are <instance>-tally and <instance>-rank"`
	// IngestTransactions is INGEST_TRANSACTIONS: without transactions
	// ingest writes no positions and has no transactional id.
	IngestTransactions bool `envconfig:"INGEST_TRANSACTIONS" default:"true" desc:"whether ingest writes in transactions, with its positions"`
	// IngestTransactionalID is ingest's transactional id when it is set;
	// otherwise ingest derives one that starts with IngestTxnPrefix.
	IngestTransactionalID string `envconfig:"INGEST_TRANSACTIONAL_ID" desc:"ingest's transactional id, when it is set (empty: the ids ingest derives, which start with ingest-)"`
	// CreateTopics grants each service the creation of the topics it
	// writes, as the services do at start unless KAFKA_CREATE_TOPICS=false.
	CreateTopics bool   `envconfig:"GRANT_CREATE_TOPICS" default:"true" desc:"let each service create the topics it writes and check their cleanup policy (false: an operator creates them, and the services run with KAFKA_CREATE_TOPICS=false)"`
	Ingest       string `envconfig:"GRANT_INGEST_PRINCIPAL" default:"User:ingest" desc:"principal of ingest"`
	Counter      string `envconfig:"GRANT_COUNTER_PRINCIPAL" default:"User:counter" desc:"principal of the counter"`
	Printer      string `envconfig:"GRANT_PRINTER_PRINCIPAL" default:"User:printer" desc:"principal of the printer"`
}

// IngestTxnPrefix starts every transactional id ingest derives.
const IngestTxnPrefix = "ingest-"

// Validate checks the names; variables are named as they are read.
func (n *Names) Validate() error {
	if err := n.Topics.Validate(); err != nil {
		return err
	}
	for _, v := range []struct{ name, value string }{{"COUNTER_GROUP_TALLY", n.TallyGroup}, {"COUNTER_GROUP_RANK", n.RankGroup},
		{"GRANT_COUNTER_INSTANCE_PREFIX", n.CounterInstances}} {
		if v.value == "" {
			return config.Invalid(v.name, "must not be empty")
		}
	}
	for _, v := range []struct{ name, value string }{{"GRANT_INGEST_PRINCIPAL", n.Ingest}, {"GRANT_COUNTER_PRINCIPAL", n.Counter},
		{"GRANT_PRINTER_PRINCIPAL", n.Printer}} {
		if kind, name, ok := strings.Cut(v.value, ":"); !ok || kind == "" || name == "" {
			return config.Invalid(v.name, "%q is not a principal such as User:name", v.value)
		}
	}
	return nil
}

// Right is what one service may do with one resource, and why.
type Right struct {
	Service   string // Ingest, Counter or Printer
	Principal string
	Type      kafka.ResourceType
	Pattern   kafka.ResourcePatternType
	Name      string
	Ops       []kafka.ACLOperation
	Why       string
}

// TransactionalID is the resource type of transactional ids, which
// librdkafka knows (RD_KAFKA_RESOURCE_TRANSACTIONAL_ID = 5) and
// confluent-kafka-go has no name for.
const TransactionalID kafka.ResourceType = 5

const (
	read            = kafka.ACLOperationRead
	write           = kafka.ACLOperationWrite
	create          = kafka.ACLOperationCreate
	describeConfigs = kafka.ACLOperationDescribeConfigs
)

// Rights is every right of the three services under names n, in the
// order of the table. Reading or writing a topic implies describing it,
// which every client needs for metadata and offsets. No service needs a
// right on the cluster: transactional producers are authorized by their
// transactional id, and an idempotent producer by its right to write a
// topic.
func Rights(n Names) []Right {
	t := n.Topics
	// writes are the rights of the service that writes a topic: to
	// write, and to create it and check its cleanup policy when it may.
	writes := func(more ...kafka.ACLOperation) []kafka.ACLOperation {
		o := append(more, write)
		if n.CreateTopics {
			o = append(o, create, describeConfigs)
		}
		return ops(o...)
	}
	created := ""
	if n.CreateTopics {
		created = "; creates it and checks its cleanup policy"
	}
	var rs []Right
	if n.IngestTransactions {
		txn := Right{Service: Ingest, Principal: n.Ingest, Type: TransactionalID, Pattern: kafka.ResourcePatternTypePrefixed,
			Name: IngestTxnPrefix, Ops: ops(write), Why: "its transactions, under the ids it derives from its input and topic"}
		if n.IngestTransactionalID != "" {
			txn.Pattern, txn.Name, txn.Why = kafka.ResourcePatternTypeLiteral, n.IngestTransactionalID, "its transactions (INGEST_TRANSACTIONAL_ID)"
		}
		rs = append(rs,
			topicRight(Ingest, n.Ingest, t.Tweets, writes(), "writes the posts in its transactions"+created),
			topicRight(Ingest, n.Ingest, t.Positions, writes(read), "reads its committed position at start, writes one in each transaction"+created),
			txn)
	} else {
		rs = append(rs, topicRight(Ingest, n.Ingest, t.Tweets, writes(), "writes the posts, idempotent"+created))
	}
	rs = append(rs,
		topicRight(Counter, n.Counter, t.Tweets, ops(read), "tally consumes the posts and reads them again for its dedupe horizon"),
		topicRight(Counter, n.Counter, t.DLQ, writes(), "tally writes the undecodable posts"+created),
		topicRight(Counter, n.Counter, t.Deltas, ops(append(writes(read), describeConfigs)...),
			"tally writes the deltas, rank consumes them and reads them again for trending; checks their retention"+created),
		topicRight(Counter, n.Counter, t.Counts, writes(read), "rank writes its running totals and restores them"+created),
		topicRight(Counter, n.Counter, t.Top, writes(), "rank writes a snapshot per window"+created),
		topicRight(Counter, n.Counter, t.Facets, writes(), "rank writes each facet's lists when they change"+created),
		groupRight(Counter, n.Counter, n.TallyGroup, "tally's group, its offsets committed in its transactions"),
		groupRight(Counter, n.Counter, n.RankGroup, "rank's group, its offsets committed in its transactions"),
		Right{Service: Counter, Principal: n.Counter, Type: TransactionalID, Pattern: kafka.ResourcePatternTypePrefixed,
			Name: n.CounterInstances, Ops: ops(write), Why: "the stages' transactions, `<instance>-tally` and `<instance>-rank`"},
		topicRight(Printer, n.Printer, t.Top, ops(read), "follows the snapshots (assigned partitions, no group)"),
		topicRight(Printer, n.Printer, t.Facets, ops(read), "follows one facet's lists with PRINTER_FACET (assigned partition, no group)"),
	)
	return rs
}

func topicRight(service, principal, name string, o []kafka.ACLOperation, why string) Right {
	return Right{Service: service, Principal: principal, Type: kafka.ResourceTopic, Pattern: kafka.ResourcePatternTypeLiteral,
		Name: name, Ops: o, Why: why}
}

func groupRight(service, principal, name, why string) Right {
	return Right{Service: service, Principal: principal, Type: kafka.ResourceGroup, Pattern: kafka.ResourcePatternTypeLiteral,
		Name: name, Ops: ops(read), Why: why}
}

// ops is o without repeats, in order.
func ops(o ...kafka.ACLOperation) []kafka.ACLOperation {
	var out []kafka.ACLOperation
	for _, op := range o {
		if !slices.Contains(out, op) {
			out = append(out, op)
		}
	}
	return out
}

// Of returns the rights of one service.
func Of(service string, rs []Right) []Right {
	var out []Right
	for _, r := range rs {
		if r.Service == service {
			out = append(out, r)
		}
	}
	return out
}

// Bindings are the ACLs of rs: one per operation, allowed from any host.
func Bindings(rs []Right) kafka.ACLBindings {
	var bs kafka.ACLBindings
	for _, r := range rs {
		for _, op := range r.Ops {
			bs = append(bs, kafka.ACLBinding{Type: r.Type, Name: r.Name, ResourcePatternType: r.Pattern,
				Principal: r.Principal, Host: "*", Operation: op, PermissionType: kafka.ACLPermissionTypeAllow})
		}
	}
	return bs
}

// Apply creates the ACLs bs; those that exist already stay as they are.
func Apply(ctx context.Context, admin *kafka.AdminClient, bs kafka.ACLBindings) error {
	if len(bs) == 0 {
		return nil
	}
	res, err := admin.CreateACLs(ctx, bs)
	if err != nil {
		return fmt.Errorf("create ACLs: %w", err)
	}
	for i, r := range res {
		if r.Error.Code() != kafka.ErrNoError {
			return fmt.Errorf("create ACL %s: %w", Describe(bs[i]), r.Error)
		}
	}
	return nil
}

// Revoke deletes the ACLs bs.
func Revoke(ctx context.Context, admin *kafka.AdminClient, bs kafka.ACLBindings) error {
	if len(bs) == 0 {
		return nil
	}
	fs := make(kafka.ACLBindingFilters, len(bs))
	for i, b := range bs {
		fs[i] = kafka.ACLBindingFilter(b)
	}
	res, err := admin.DeleteACLs(ctx, fs)
	if err != nil {
		return fmt.Errorf("delete ACLs: %w", err)
	}
	for i, r := range res {
		if r.Error.Code() != kafka.ErrNoError {
			return fmt.Errorf("delete ACL %s: %w", Describe(bs[i]), r.Error)
		}
	}
	return nil
}

// Describe says what an ACL allows, as the error of a service without it
// says what it lacks: "User:ingest WRITE on topic tweets".
func Describe(b kafka.ACLBinding) string {
	return fmt.Sprintf("%s %s on %s", b.Principal, opName(b.Operation), resource(b.Type, b.ResourcePatternType, b.Name))
}

func opName(op kafka.ACLOperation) string { return strings.ToUpper(op.String()) }

// opNames joins the names of ops: "READ, WRITE".
func opNames(ops []kafka.ACLOperation) string {
	names := make([]string, len(ops))
	for i, op := range ops {
		names[i] = opName(op)
	}
	return strings.Join(names, ", ")
}

// resource names a resource as people read it: topic tweets, transactional
// ids ingest-*.
func resource(t kafka.ResourceType, p kafka.ResourcePatternType, name string) string {
	kind, shown := resourceParts(t, p, name)
	return kind + " " + shown
}

func resourceParts(t kafka.ResourceType, p kafka.ResourcePatternType, name string) (kind, shown string) {
	kind = map[kafka.ResourceType]string{kafka.ResourceTopic: "topic", kafka.ResourceGroup: "group",
		TransactionalID: "transactional id", kafka.ResourceBroker: "cluster"}[t]
	if kind == "" {
		kind = strings.ToLower(t.String())
	}
	if p == kafka.ResourcePatternTypePrefixed {
		return kind + "s", name + "*"
	}
	return kind, name
}

// Table writes rs as the Markdown table of docs/security.md.
func Table(rs []Right) string {
	var b strings.Builder
	b.WriteString("| service | resource | operations | why |\n|---|---|---|---|\n")
	for _, r := range rs {
		kind, shown := resourceParts(r.Type, r.Pattern, r.Name)
		res := kind + " `" + shown + "`"
		if r.Pattern == kafka.ResourcePatternTypePrefixed {
			res += " (prefixed)"
		}
		fmt.Fprintf(&b, "| %s (`%s`) | %s | %s | %s |\n", r.Service, r.Principal, res, opNames(r.Ops), r.Why)
	}
	return b.String()
}

// Verify asks the cluster which operations this client may do on the
// topics and groups of rs and returns a kafkaconn.AccessError naming the
// first operation and resource it lacks. Resources the cluster cannot
// describe yet (a topic not created yet) and a cluster that does not say
// (no authorizer reports every operation allowed) pass; transactional ids
// have no such question and are refused, if at all, by the producer's
// first call. Other errors (no broker answering) are returned as they
// are: the caller decides whether to go on without the check.
func Verify(ctx context.Context, admin *kafka.AdminClient, kc kafkaconn.Config, rs []Right) error {
	var topics, groups []string
	for _, r := range rs {
		switch {
		case r.Type == kafka.ResourceTopic && !slices.Contains(topics, r.Name):
			topics = append(topics, r.Name)
		case r.Type == kafka.ResourceGroup && !slices.Contains(groups, r.Name):
			groups = append(groups, r.Name)
		}
	}
	// A resource the client may not even describe is refused as a whole:
	// what it needs of it, said in terms of the table.
	hidden := func(t kafka.ResourceType, name string, err kafka.Error) error {
		for _, r := range rs {
			if r.Type != t || r.Name != name {
				continue
			}
			// The operations that imply DESCRIBE are the ones missing.
			var lacks []kafka.ACLOperation
			for _, op := range r.Ops {
				if op == read || op == write {
					lacks = append(lacks, op)
				}
			}
			what, res := "DESCRIBE", resource(t, r.Pattern, name)
			if len(lacks) > 0 {
				what, res = opNames(lacks), res+", nor even DESCRIBE it"
			}
			return &kafkaconn.AccessError{Cause: kafkaconn.CauseAuthorization,
				Resource: fmt.Sprintf("%s may not %s %s (docs/security.md lists the rights of each service)",
					kc.Principal(), what, res), Err: err}
		}
		return kc.Refused(err, "DESCRIBE "+resource(t, kafka.ResourcePatternTypeLiteral, name))
	}
	allowed := map[string][]kafka.ACLOperation{} // by resource(type, literal, name)
	if len(topics) > 0 {
		res, err := admin.DescribeTopics(ctx, kafka.NewTopicCollectionOfTopicNames(topics), kafka.SetAdminOptionIncludeAuthorizedOperations(true))
		if err != nil {
			return fmt.Errorf("describe topics %s: %w", strings.Join(topics, ", "), err)
		}
		for _, d := range res.TopicDescriptions {
			key := resource(kafka.ResourceTopic, kafka.ResourcePatternTypeLiteral, d.Name)
			switch d.Error.Code() {
			case kafka.ErrNoError:
				allowed[key] = d.AuthorizedOperations
			case kafka.ErrUnknownTopicOrPart, kafka.ErrUnknownTopic:
			case kafka.ErrTopicAuthorizationFailed:
				return hidden(kafka.ResourceTopic, d.Name, d.Error)
			default:
				return fmt.Errorf("describe topic %s: %w", d.Name, d.Error)
			}
		}
	}
	if len(groups) > 0 {
		res, err := describeGroups(ctx, admin, groups)
		if err != nil {
			return err
		}
		for _, d := range res {
			key := resource(kafka.ResourceGroup, kafka.ResourcePatternTypeLiteral, d.GroupID)
			switch d.Error.Code() {
			case kafka.ErrNoError:
				allowed[key] = d.AuthorizedOperations
			case kafka.ErrGroupIDNotFound:
			case kafka.ErrGroupAuthorizationFailed:
				return hidden(kafka.ResourceGroup, d.GroupID, d.Error)
			default:
				return fmt.Errorf("describe group %s: %w", d.GroupID, d.Error)
			}
		}
	}
	for _, r := range rs {
		key := resource(r.Type, r.Pattern, r.Name)
		have, ok := allowed[key]
		if !ok || have == nil {
			continue
		}
		var lacks []kafka.ACLOperation
		for _, op := range r.Ops {
			if !slices.Contains(have, op) {
				lacks = append(lacks, op)
			}
		}
		if len(lacks) > 0 {
			return &kafkaconn.AccessError{Cause: kafkaconn.CauseAuthorization,
				Resource: fmt.Sprintf("%s may not %s %s (docs/security.md lists the rights of each service)",
					kc.Principal(), opNames(lacks), key)}
		}
	}
	return nil
}

// describeGroups describes groups with their authorized operations, asking
// again while their coordinator is not ready (a cluster's first group
// waits for the offsets topic to be created and loaded).
func describeGroups(ctx context.Context, admin *kafka.AdminClient, groups []string) ([]kafka.ConsumerGroupDescription, error) {
	wait := 50 * time.Millisecond
	for {
		res, err := admin.DescribeConsumerGroups(ctx, groups, kafka.SetAdminOptionIncludeAuthorizedOperations(true))
		if err != nil {
			return nil, fmt.Errorf("describe groups %s: %w", strings.Join(groups, ", "), err)
		}
		loading := false
		for _, d := range res.ConsumerGroupDescriptions {
			switch d.Error.Code() {
			case kafka.ErrCoordinatorLoadInProgress, kafka.ErrCoordinatorNotAvailable, kafka.ErrNotCoordinator:
				loading = true
			}
		}
		if !loading {
			return res.ConsumerGroupDescriptions, nil
		}
		if err := retry.Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("describe groups %s: their coordinator is not ready: %w", strings.Join(groups, ", "), err)
		}
		wait = min(2*wait, time.Second)
	}
}
