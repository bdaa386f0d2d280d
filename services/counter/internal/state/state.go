// Package state is rank's checkpoint on the compacted hashtag-counts topic:
// one record per hashtag key holding its running total and spellings, and
// one reserved meta record holding what a snapshot needs to continue after
// a restart (the batch number and the running post figures). rank writes
// them in the same transaction as its snapshot and consumed offsets;
// Restore reads them back, read_committed, up to the end of the partition.
package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/retry"
	"github.com/hashtrend/hashtrend/pkg/strict"
	"github.com/hashtrend/hashtrend/pkg/topic"
	"github.com/hashtrend/hashtrend/services/counter/internal/txn"
)

// Version is the schema version of Total and Meta values.
const Version = 1

// MetaKey is the key of the meta record. A '#' never appears in a hashtag
// key, so it cannot collide with one.
const MetaKey = "#meta"

// Total is the value of a hashtag's record: Count posts, of which the ones
// not in Others spelled it Spelling.
type Total struct {
	V        int              `json:"v"`
	Count    int64            `json:"count"`
	Spelling string           `json:"spelling"`
	Others   map[string]int64 `json:"others,omitempty"`
}

// Meta is the value of the meta record.
type Meta struct {
	V                 int   `json:"v"`
	Batch             int64 `json:"batch"`
	Posts             int64 `json:"posts"`
	PostsWithHashtags int64 `json:"posts_with_hashtags"`
	// NextDelta is the offset in hashtag-deltas of the first delta that
	// the totals written with this record do not hold yet. It is written
	// in the same transaction as those totals (and as the same offset
	// committed for rank's group), so a restore that reads this record
	// resumes the deltas exactly where the totals it read end, whatever
	// the group's offset store answers. Absent in records written before
	// it existed; rank then falls back to the committed offset.
	NextDelta *int64 `json:"next_delta,omitempty"`
	// WindowEnd is the end of the window of the snapshot written with
	// this record: a new owner of the deltas tells by it whether the last
	// window due before it took over was published (rank's missed).
	// Absent in records written before it existed.
	WindowEnd time.Time `json:"window_end,omitzero"`
}

// ErrInvalid marks a state record that cannot be read.
var ErrInvalid = errors.New("invalid state record")

// EncodeTotal returns the JSON of t with the current version.
func EncodeTotal(t Total) ([]byte, error) { t.V = Version; return json.Marshal(t) }

// DecodeTotal parses a Total strictly. The form EncodeTotal writes for a
// hashtag of one spelling is read without encoding/json (a restore reads
// millions); anything else goes through the strict decoder.
func DecodeTotal(b []byte) (Total, error) {
	t, ok := decodeTotalFast(b)
	if !ok {
		var err error
		if t, err = decodeTotalStrict(b); err != nil {
			return Total{}, err
		}
	}
	if err := checkTotal(t); err != nil {
		return Total{}, err
	}
	return t, nil
}

// decodeTotalStrict reads any form of a Total; its own variable, so that
// the fast path's result is not moved to the heap.
func decodeTotalStrict(b []byte) (Total, error) {
	var t Total
	err := strict.Decode(b, &t, &t.V, Version, Version, ErrInvalid)
	return t, err
}

func checkTotal(t Total) error {
	others := int64(0)
	for _, n := range t.Others {
		others += n
	}
	if t.Spelling == "" || t.Count <= others {
		return fmt.Errorf("%w: count %d, spelling %q, others %d", ErrInvalid, t.Count, t.Spelling, others)
	}
	return nil
}

// EncodeMeta returns the JSON of m with the current version.
func EncodeMeta(m Meta) ([]byte, error) { m.V = Version; return json.Marshal(m) }

// DecodeMeta parses a Meta strictly.
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	if err := strict.Decode(b, &m, &m.V, Version, Version, ErrInvalid); err != nil {
		return Meta{}, err
	}
	if m.Batch < 0 || m.Posts < 0 || m.PostsWithHashtags < 0 || m.NextDelta != nil && *m.NextDelta < 0 {
		return Meta{}, fmt.Errorf("%w: negative figures in %+v", ErrInvalid, m)
	}
	return m, nil
}

// ReaderFetchWait is the readers' fetch.wait.max.ms (the trending
// follower's too): a follower at the end of a partition costs the broker
// one empty fetch per ReaderFetchWait.
const ReaderFetchWait = 20

// The readers and their admin clients reconnect within
// txn.ReconnectBackoffMax, as the stages' clients do: a standby opened
// while the broker was down otherwise read nothing for up to half a
// second after it came back.

// readerConfig is the consumer that Restore, Tail and ReadTo read a
// partition with: assigned, never a group member, read_committed, with
// large fetches; role names it ("restore", "standby"). They start at
// offset 0 (see batch.Open), and a log that starts later is read from its
// start. The broker answers a fetch at the partition's end after
// fetch.wait.max.ms when nothing new comes (500 ms by default), and only
// that answer tells a read that it reached the end (the end-of-partition
// past trailing transaction markers): a rank taking over waited for it
// once per read.
func readerConfig(kc kafkaconn.Config, role string) kafka.ConfigMap {
	return *kc.ConsumerConfigMap("counter-"+role, kafka.ConfigMap{
		"group.id":                  "counter-" + role + "-unused", // required by the client; never joined
		"isolation.level":           "read_committed",
		"enable.auto.commit":        false,
		"enable.partition.eof":      true,
		"fetch.max.bytes":           64 << 20,
		"max.partition.fetch.bytes": 16 << 20,
		"fetch.wait.max.ms":         ReaderFetchWait,
		"auto.offset.reset":         "earliest",
		"reconnect.backoff.max.ms":  txn.ReconnectBackoffMax,
	})
}

func newReader(kc kafkaconn.Config) (*kafka.Consumer, error) {
	conf := readerConfig(kc, "restore")
	c, err := kafka.NewConsumer(&conf)
	if err != nil {
		return nil, fmt.Errorf("restore consumer: %w", err)
	}
	return c, nil
}

// ReadTo reads partition of topic read_committed from its first retained
// record and calls load for each record before offset end (rank rebuilds
// its trending buckets from the deltas topic this way).
func ReadTo(ctx context.Context, kc kafkaconn.Config, name string, partition int32, end int64, log *slog.Logger, load func(key, value []byte) error) (records int64, err error) {
	if end <= 0 {
		return 0, nil
	}
	c, err := newReader(kc)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	err = topic.ReadToEndFrom(ctx, c, name, map[int32]int64{partition: 0}, map[int32]int64{partition: end}, log, func(m *kafka.Message) error {
		records++
		if err := load(m.Key, m.Value); err != nil {
			return fmt.Errorf("restore %s[%d]@%d: %w", name, partition, m.TopicPartition.Offset, err)
		}
		return nil
	})
	return records, err
}

// adminConfig is the admin client that asks for end offsets.
func adminConfig(kc kafkaconn.Config, clientID string) *kafka.ConfigMap {
	return kc.ConfigMap(clientID, kafka.ConfigMap{"reconnect.backoff.max.ms": txn.ReconnectBackoffMax})
}

// endOffset asks for the high watermark of partition until it gets an
// answer. Each attempt uses a new admin client: one whose metadata predates
// a broker restart keeps sending a stale leader epoch and is refused for
// good.
func endOffset(ctx context.Context, kc kafkaconn.Config, name string, partition int32, log *slog.Logger) (end int64, err error) {
	err = retry.Do(ctx, retry.Policy{Wait: 500 * time.Millisecond, Attempt: 30 * time.Second}, func(err error, _ time.Duration) bool {
		log.Warn("restore: end offset, retrying", "topic", name, "partition", partition, "err", err)
		return true
	}, func(ctx context.Context) error {
		admin, err := kafka.NewAdminClient(adminConfig(kc, "counter-restore"))
		if err != nil {
			return err
		}
		defer admin.Close()
		ends, err := topic.EndOffsets(ctx, admin, name, kafka.IsolationLevelReadUncommitted, partition)
		end = ends[partition]
		return err
	})
	return end, err
}
