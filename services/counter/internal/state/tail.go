package state

import (
	"context"
	"log/slog"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/topic"
)

// Tail follows one partition of the state topic from its beginning,
// read_committed, applying every record as it comes: a standby rank keeps
// its totals current with it, so that taking over costs a CatchUp of the
// last windows' records rather than a Restore of the whole topic. It reads
// and decodes as Restore does. A Tail is used by one goroutine at a time.
type Tail struct {
	kc        kafkaconn.Config
	r         *reader
	name      string
	partition int32
	log       *slog.Logger
	next      int64 // the offset after the last record applied
	records   int64
	// admin asks for the end offset at CatchUp. Follow asks it once at
	// its start, so that by then it is connected and knows the leader: a
	// new admin client took up to a second for its first answer.
	admin *kafka.AdminClient
}

// askTimeout bounds the tail's own question for the end offset; CatchUp
// then asks with new clients (endOffset).
const askTimeout = 2 * time.Second

// OpenTail starts following partition of the topic name.
func OpenTail(kc kafkaconn.Config, name string, partition int32, log *slog.Logger) (*Tail, error) {
	conf := readerConfig(kc, "standby")
	// Should compaction ever move the start past the tail's offset,
	// reading again from the beginning builds the same totals (readerConfig
	// resets to the earliest offset).
	r, err := openReader(conf, name, partition)
	if err != nil {
		return nil, err
	}
	admin, err := kafka.NewAdminClient(adminConfig(kc, "counter-standby"))
	if err != nil {
		r.Close()
		return nil, err
	}
	return &Tail{kc: kc, r: r, name: name, partition: partition, log: log, admin: admin}, nil
}

// askEnd asks the tail's admin client for the partition's high watermark.
func (t *Tail) askEnd(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	ends, err := topic.EndOffsets(ctx, t.admin, t.name, kafka.IsolationLevelReadUncommitted, t.partition)
	return ends[t.partition], err
}

// Partition is the partition the tail follows.
func (t *Tail) Partition() int32 { return t.partition }

// Records is how many records the tail has applied.
func (t *Tail) Records() int64 { return t.records }

// Follow applies each record of the partition in order until ctx ends
// (then it returns nil, every record it read applied) or a record does not
// decode.
func (t *Tail) Follow(ctx context.Context, apply func(Record) error) error {
	warm := make(chan struct{})
	go func() {
		defer close(warm)
		_, _ = t.askEnd(ctx) // answered or not: the client is connected
	}()
	defer func() { <-warm }()
	return t.read(ctx, -1, apply)
}

func (t *Tail) read(ctx context.Context, end int64, apply func(Record) error) error {
	n, next, err := decodeInOrder(ctx, t.r, end, t.log, apply)
	t.records += n
	if next > 0 {
		t.next = next
	}
	return err
}

// CatchUp applies the records from where Follow stopped to the partition's
// end offset as it stands now: the high watermark, as for Restore, so that
// a predecessor's open transaction holds it back until it is resolved. It
// returns the records it applied. Records past that end are not applied:
// CatchUp is a tail's last read.
func (t *Tail) CatchUp(ctx context.Context, apply func(Record) error) (int64, error) {
	end, err := t.askEnd(ctx)
	if err != nil {
		// After a broker restart a client's metadata may hold a stale
		// leader epoch for good: ask with new clients.
		t.log.Info("standby: end offset from new clients", "topic", t.name, "partition", t.partition, "err", err)
		if end, err = endOffset(ctx, t.kc, t.name, t.partition, t.log); err != nil {
			return 0, err
		}
	}
	before := t.records
	if t.next < end {
		err = t.read(ctx, end, apply)
	}
	return t.records - before, err
}

// Close stops following.
func (t *Tail) Close() {
	t.r.Close()
	t.admin.Close()
}
