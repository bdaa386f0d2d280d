package publish

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/post"
)

// A post the producer refuses (larger than message.max.bytes) is an error
// naming it: it is neither committed nor counted as produced, and the
// position of the transaction that commits is that of the post before it.
func TestARefusedPostIsAnErrorNotACommittedLoss(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	tweets := kafkatest.Topic(t, "tweets", 1, nil)
	positions := kafkatest.Topic(t, "positions", 1, map[string]string{"cleanup.policy": "compact"})
	reg := prometheus.NewRegistry()
	txn, err := NewTxn(kafkaconn.Config{Brokers: brokers, SecurityProtocol: "plaintext"}, TxnConfig{
		Config:          Config{Topic: tweets, ClientID: "refused-test"},
		TransactionalID: kafkatest.Name(t, "txn"), CommitPosts: 1000, CommitInterval: time.Hour,
		PositionsTopic: positions, PositionKey: "refused-test", Source: "test",
	}, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := txn.Init(ctx); err != nil {
		t.Fatal(err)
	}
	small := post.Post{ID: "small", Source: "test", CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Text: "#kept"}
	huge := post.Post{ID: "huge", Source: "test", CreatedAt: time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC), Text: strings.Repeat("x", 2<<20)}
	if err := txn.Publish(ctx, small, 1); err != nil {
		t.Fatal(err)
	}
	err = txn.Publish(ctx, huge, 2)
	if err == nil || !strings.Contains(err.Error(), "huge") {
		t.Fatalf("publishing a post over message.max.bytes: got %v, want an error naming it", err)
	}
	if n := txn.InFlight(); n != 1 {
		t.Fatalf("posts in the transaction after the refusal: %d, want 1", n)
	}
	if err := txn.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range kafkatest.ReadAll(t, tweets, 30*time.Second) {
		ids = append(ids, string(m.Key))
	}
	if len(ids) != 1 || ids[0] != "small" {
		t.Fatalf("committed posts %v, want [small]", ids)
	}
	if got := testutil.ToFloat64(txn.m.produced.WithLabelValues("test")); got != 1 {
		t.Fatalf("posts counted as produced: %v, want 1", got)
	}
	recs := kafkatest.ReadAll(t, positions, 30*time.Second)
	if len(recs) == 0 {
		t.Fatal("no position committed")
	}
	var last map[string]any
	if err := json.Unmarshal(recs[len(recs)-1].Value, &last); err != nil {
		t.Fatal(err)
	}
	if at, _ := last["at"].(float64); at != 1 {
		b, _ := json.Marshal(last)
		t.Fatalf("position committed %s, want the small post's (1), not the refused one's (2)", b)
	}
}
