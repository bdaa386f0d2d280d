package rank

import (
	"fmt"

	"github.com/hashtrend/hashtrend/pkg/partition"
	"github.com/hashtrend/hashtrend/services/counter/internal/state"
)

// openReader opens a reader, named client, of partition p of the topic
// name from its first retained record (package partition). Every read of
// a restore goes through one: the state topic's (in full, or a warm
// standby's catch-up) and the deltas' for the trending buckets. Each ends
// with an error when it makes no progress for RestoreStall, which fails
// the restore and so the stage: the supervisor runs it again with new
// clients.
func (s *Stage) openReader(client, name string, p int32) (*partition.Reader, error) {
	return partition.Open(partition.Config{Kafka: s.cfg.Kafka, Client: client, Topic: name, Log: s.log, Stall: s.cfg.RestoreStall},
		map[int32]int64{p: partition.Beginning})
}

// decodeState is a record of the state topic, decoded; its Key aliases
// the record's.
func decodeState(r partition.Record) (state.Record, error) { return state.DecodeRecord(r.Key, r.Value) }

// readState reads partition p of the state topic into t, from
// its beginning to its high watermark as it stands now: a predecessor's
// transaction still open there holds the restore back until it is
// resolved (at once when its transactional.id was initialised again,
// otherwise when it times out), so that its outcome is never missed; a
// transaction that holds it back longer than RestoreStall fails it.
func (s *Stage) readState(t *Table, p int32) (int64, error) {
	end, err := partition.HighWatermark(s.ctx, s.cfg.Kafka, "counter-restore", s.cfg.Counts, p, s.log)
	if err != nil || end == 0 {
		return 0, err
	}
	r, err := s.openReader("counter-restore", s.cfg.Counts, p)
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	defer r.Close()
	n, err := partition.Decode(s.ctx, r, map[int32]int64{p: end}, decodeState, t.Restore)
	if err != nil {
		return n, fmt.Errorf("restore: %w", err)
	}
	return n, nil
}
