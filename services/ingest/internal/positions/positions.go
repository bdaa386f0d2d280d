// Package positions is ingest's record of where each source is, on the
// compacted ingest-positions topic: one record per source identity (and
// tweets topic), written by the publisher in the same transaction as the
// posts it covers, so that a committed position is past exactly the posts
// that are in the tweets topic. On start, Read finds the last committed
// record of an identity, read_committed, up to the end of the topic.
package positions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/partition"
	"github.com/hashtrend/hashtrend/pkg/retry"
	"github.com/hashtrend/hashtrend/pkg/topic"
)

// Version is the version of the record value.
const Version = 1

// Record is the value of one position record, as JSON:
//
//	{"v":1,"source":"file","at":{"pass":0,"file":"rec.jsonl.gz","offset":52311,"line":112},"posts":112,"txn":"9f2c11d0:7","committed_at":"2026-12-01T20:41:07.125Z"}
//
// At is the source's own position (see source.Resumable); Posts counts the
// posts committed under this key so far, across restarts; Txn names the
// transaction that wrote the record (the writer's run and its sequence
// number), so that a writer whose producer failed mid-commit can tell
// whether that transaction committed.
type Record struct {
	V           int             `json:"v"`
	Source      string          `json:"source"`
	At          json.RawMessage `json:"at"`
	Posts       int64           `json:"posts"`
	Txn         string          `json:"txn"`
	CommittedAt time.Time       `json:"committed_at"`
}

// Key is the record key of a source identity writing to a tweets topic:
// the same input replayed into another topic has a position of its own.
func Key(identity, tweetsTopic string) string { return tweetsTopic + " " + identity }

// Encode returns the record's JSON, with the version set.
func Encode(r Record) ([]byte, error) {
	r.V = Version
	return json.Marshal(r)
}

// Decode parses a record value strictly: unknown fields, another version
// or a missing position are errors.
func Decode(b []byte) (Record, error) {
	var r Record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("decode position: %w", err)
	}
	if r.V != Version {
		return Record{}, fmt.Errorf("decode position: version %d, want %d", r.V, Version)
	}
	if len(r.At) == 0 || r.Source == "" {
		return Record{}, errors.New("decode position: no source or position")
	}
	return r, nil
}

// Read returns the last committed record under key in topic (found false
// when there is none), reading the topic's one partition read_committed
// from the start to its high watermark as it was when Read began: every
// transaction that wrote below it is decided before Read answers. Reading
// only to the last stable offset instead gave a stale position after a
// broker restart: a commit the previous instance had been told was done
// could still sit past that offset, so its posts were produced again.
// Call it after the publisher's InitTransactions, which ends our own
// earlier transaction; another writer's open one holds the read back
// until that writer commits or the broker aborts it. It retries while the
// brokers do not answer, until ctx ends.
func Read(ctx context.Context, kc kafkaconn.Config, name, key string, log *slog.Logger) (rec Record, found bool, err error) {
	admin, err := kc.NewAdmin("ingest-positions", nil)
	if err != nil {
		return Record{}, false, fmt.Errorf("positions admin client: %w", err)
	}
	defer admin.Close()
	var ends map[int32]int64
	err = retry.Do(ctx, retry.Policy{Wait: time.Second, MaxWait: 5 * time.Second, Attempt: 10 * time.Second},
		func(err error, pause time.Duration) bool {
			// A topic just created has no leader for a moment; brokers away
			// come back: every error is waited out, and said.
			log.Warn("cannot read the positions topic yet", "topic", name, "err", err, "retry_in", pause)
			return true
		}, func(ctx context.Context) error {
			ends, err = topic.EndOffsets(ctx, admin.AdminClient, name, kafka.IsolationLevelReadUncommitted, 0)
			return err
		})
	if err != nil {
		return Record{}, false, err
	}
	reader, err := partition.Open(partition.Config{Kafka: kc, Client: "ingest-positions", Topic: name, Log: log},
		map[int32]int64{0: partition.Beginning})
	if err != nil {
		return Record{}, false, fmt.Errorf("positions: %w", err)
	}
	defer reader.Close()
	err = reader.ReadTo(ctx, ends, func(m partition.Record) error {
		if string(m.Key) != key {
			return nil
		}
		r, err := Decode(m.Value)
		if err != nil {
			return fmt.Errorf("%s@%d: %w", name, m.Offset, err)
		}
		rec, found = r, true
		return nil
	})
	if err != nil {
		return Record{}, false, err
	}
	return rec, found, nil
}
