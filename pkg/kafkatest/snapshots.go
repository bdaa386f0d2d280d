package kafkatest

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/pkg/systest"
)

// Snapshots reads every committed record of topic on brokers (see
// ReadAllFrom) as a snapshot, in topic order; a record that is not one
// fails the test.
func Snapshots(t testing.TB, brokers, topic string) []snapshot.Snapshot {
	t.Helper()
	var out []snapshot.Snapshot
	for _, m := range ReadAllFrom(t, brokers, topic, time.Minute) {
		s, err := snapshot.Decode(m.Value)
		if err != nil {
			t.Fatalf("%s offset %v: %v", topic, m.TopicPartition.Offset, err)
		}
		out = append(out, s)
	}
	return out
}

// AwaitSnapshots reads the snapshots of topic on brokers until there is at
// least one and ok holds of them, and returns them; it fails the test,
// showing the last snapshot read, when within passes first.
func AwaitSnapshots(t testing.TB, brokers, topic, what string, within time.Duration, ok func([]snapshot.Snapshot) bool) []snapshot.Snapshot {
	t.Helper()
	var snaps []snapshot.Snapshot
	systest.Await(t, what, within, func() bool {
		snaps = Snapshots(t, brokers, topic)
		return len(snaps) > 0 && ok(snaps)
	}, func() string {
		if len(snaps) == 0 {
			return "no snapshot so far"
		}
		return fmt.Sprintf("last snapshot so far: %+v", snaps[len(snaps)-1])
	})
	return snaps
}
