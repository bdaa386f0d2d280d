package access_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/access"
	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/topic"
)

func names() access.Names {
	return access.Names{
		Topics:     topic.Names{Tweets: "t", TweetsPartitions: 6, DLQ: "dlq", Deltas: "d", Counts: "c", Top: "top", Facets: "f", Positions: "p"},
		TallyGroup: "tally", RankGroup: "rank", CounterInstances: "counter-",
		IngestTransactions: true, CreateTopics: true,
		Ingest: "User:i", Counter: "User:c", Printer: "User:p",
	}
}

// ops returns the operations rs grants service on the resource, nil when
// none.
func ops(rs []access.Right, service string, typ kafka.ResourceType, name string) []kafka.ACLOperation {
	for _, r := range rs {
		if r.Service == service && r.Type == typ && r.Name == name {
			return r.Ops
		}
	}
	return nil
}

// The topics each service writes, as design.md assigns them.
var writes = map[string][]string{access.Ingest: {"t", "p"}, access.Counter: {"dlq", "d", "c", "top", "f"}}

func TestEachServiceMayWriteAndCreateExactlyTheTopicsItWrites(t *testing.T) {
	rs := access.Rights(names())
	for _, r := range rs {
		if r.Type != kafka.ResourceTopic {
			continue
		}
		own := slices.Contains(writes[r.Service], r.Name)
		for _, op := range []kafka.ACLOperation{kafka.ACLOperationWrite, kafka.ACLOperationCreate} {
			if slices.Contains(r.Ops, op) != own {
				t.Errorf("%s on topic %s: %v, and it writes the topic: %v", r.Service, r.Name, r.Ops, own)
			}
		}
	}
	for svc, topics := range writes {
		for _, name := range topics {
			if ops(rs, svc, kafka.ResourceTopic, name) == nil {
				t.Errorf("%s has no right on topic %s, which it writes", svc, name)
			}
		}
	}
}

func TestWithoutTopicCreationNoServiceMayCreate(t *testing.T) {
	n := names()
	n.CreateTopics = false
	for _, r := range access.Rights(n) {
		if slices.Contains(r.Ops, kafka.ACLOperationCreate) {
			t.Errorf("%s may create %s", r.Service, r.Name)
		}
		// The counter still reads the deltas' retention, for trending.
		if slices.Contains(r.Ops, kafka.ACLOperationDescribeConfigs) && (r.Service != access.Counter || r.Name != "d") {
			t.Errorf("%s may describe the configs of %s", r.Service, r.Name)
		}
	}
}

func TestIngestWithoutTransactionsHasNoPositionsNorTransactionalID(t *testing.T) {
	n := names()
	n.IngestTransactions = false
	rs := access.Of(access.Ingest, access.Rights(n))
	if len(rs) != 1 || rs[0].Type != kafka.ResourceTopic || rs[0].Name != "t" {
		t.Fatalf("ingest without transactions: %+v, want its right on the tweets topic alone", rs)
	}
}

func TestTransactionalIDsAreGrantedByPrefixUnlessIngestNamesItsOwn(t *testing.T) {
	n := names()
	for _, r := range access.Rights(n) {
		if r.Type == access.TransactionalID && r.Pattern != kafka.ResourcePatternTypePrefixed {
			t.Errorf("%s's transactional ids %s are not a prefix", r.Service, r.Name)
		}
	}
	if ops(access.Rights(n), access.Counter, access.TransactionalID, n.CounterInstances) == nil {
		t.Error("the counter's transactional ids are not its instances' prefix")
	}
	n.IngestTransactionalID = "ingest-7"
	for _, r := range access.Of(access.Ingest, access.Rights(n)) {
		if r.Type == access.TransactionalID && (r.Pattern != kafka.ResourcePatternTypeLiteral || r.Name != "ingest-7") {
			t.Errorf("ingest's transactional id: %s %s, want the literal INGEST_TRANSACTIONAL_ID", r.Pattern, r.Name)
		}
	}
}

func TestNoServiceNeedsARightOnTheClusterAndThePrinterOnlyReads(t *testing.T) {
	rs := access.Rights(names())
	for _, r := range rs {
		if r.Type == kafka.ResourceBroker {
			t.Errorf("%s has a right on the cluster", r.Service)
		}
	}
	p := access.Of(access.Printer, rs)
	var names []string
	for _, r := range p {
		if r.Type != kafka.ResourceTopic || !slices.Equal(r.Ops, []kafka.ACLOperation{kafka.ACLOperationRead}) {
			t.Errorf("printer: %+v, want READ on topics only", r)
		}
		names = append(names, r.Name)
	}
	if !slices.Equal(names, []string{"top", "f"}) {
		t.Errorf("printer reads %v, want the snapshots and the facets' lists [top f]", names)
	}
	for _, b := range access.Bindings(rs) {
		if b.PermissionType != kafka.ACLPermissionTypeAllow || b.Host != "*" || b.Principal == "" {
			t.Errorf("binding %+v", b)
		}
	}
}

// A cluster without an authorizer, as most development clusters run,
// tells every client that it may do everything: Verify passes, on topics
// that exist and on those that do not yet, and on groups of a cluster so
// new that their coordinator is not ready yet. (The local broker of the
// other tests has an authorizer, with its PLAINTEXT principal a super
// user.)
func TestVerifyPassesOnAClusterWithoutAnAuthorizer(t *testing.T) {
	b := kafkatest.Disposable(t)
	kc := kafkaconn.Config{Brokers: b.Addr, SecurityProtocol: "plaintext"}
	admin, err := kc.NewAdmin("verify-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	n := names()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := topic.Ensure(ctx, admin.AdminClient, topic.Spec{Name: n.Topics.Tweets, Partitions: 1, ReplicationFactor: 1},
		topic.Spec{Name: n.Topics.Top, Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	if err := access.Verify(ctx, admin.AdminClient, kc, access.Rights(n)); err != nil {
		t.Fatal(err)
	}
}
