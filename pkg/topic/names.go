package topic

import (
	"strconv"

	"github.com/hashtrend/hashtrend/pkg/config"
)

const day = 24 * 60 * 60 * 1000 // milliseconds

// Names are the pipeline's topics as design.md fixes them, configurable
// through TOPIC_* variables. Each service provisions the topics it writes
// with the Spec methods below, so the contracts live in one place.
type Names struct {
	Tweets           string `envconfig:"TWEETS" default:"tweets" desc:"posts written by ingest"`
	TweetsPartitions int    `envconfig:"TWEETS_PARTITIONS" default:"6" desc:"partitions of the tweets topic when created"`
	DLQ              string `envconfig:"DLQ" default:"tweets-dlq" desc:"undecodable posts, with the error in headers"`
	Deltas           string `envconfig:"DELTAS" default:"hashtag-deltas" desc:"per-window hashtag deltas from tally to rank"`
	Counts           string `envconfig:"COUNTS" default:"hashtag-counts" desc:"compacted running totals: rank's checkpoint"`
	Top              string `envconfig:"TOP" default:"top-hashtags" desc:"one top-N snapshot per window"`
	Positions        string `envconfig:"POSITIONS" default:"ingest-positions" desc:"compacted resume positions of ingest's sources, written in its transactions"`
}

// Validate checks the names; variables are named with the TOPIC prefix.
func (n Names) Validate() error {
	for v, name := range map[string]string{"TOPIC_TWEETS": n.Tweets, "TOPIC_DLQ": n.DLQ, "TOPIC_DELTAS": n.Deltas, "TOPIC_COUNTS": n.Counts, "TOPIC_TOP": n.Top, "TOPIC_POSITIONS": n.Positions} {
		if name == "" {
			return config.Invalid(v, "must not be empty")
		}
	}
	if n.TweetsPartitions < 1 {
		return config.Invalid("TOPIC_TWEETS_PARTITIONS", "must be at least 1, got %d", n.TweetsPartitions)
	}
	return nil
}

func retention(days int) string { return strconv.Itoa(days * day) }

// TweetsSpec is the posts topic: keyed by post id, kept 7 days.
func (n Names) TweetsSpec(replication int) Spec {
	return Spec{Name: n.Tweets, Partitions: n.TweetsPartitions, ReplicationFactor: replication,
		Configs: map[string]string{"cleanup.policy": "delete", "retention.ms": retention(7)}}
}

// DLQSpec is the dead-letter topic for undecodable posts, kept 7 days.
func (n Names) DLQSpec(replication int) Spec {
	return Spec{Name: n.DLQ, Partitions: 1, ReplicationFactor: replication,
		Configs: map[string]string{"cleanup.policy": "delete", "retention.ms": retention(7)}}
}

// DeltasSpec is tally's output: one partition, kept one day.
func (n Names) DeltasSpec(replication int) Spec {
	return Spec{Name: n.Deltas, Partitions: 1, ReplicationFactor: replication,
		Configs: map[string]string{"cleanup.policy": "delete", "retention.ms": retention(1)}}
}

// CountsSpec is rank's compacted state topic, partitioned as the deltas.
func (n Names) CountsSpec(replication int) Spec {
	return Spec{Name: n.Counts, Partitions: 1, ReplicationFactor: replication,
		Configs: map[string]string{"cleanup.policy": "compact", "min.compaction.lag.ms": "0", "segment.ms": strconv.Itoa(60 * 60 * 1000)}}
}

// TopSpec is the snapshots topic: one partition, kept 7 days.
func (n Names) TopSpec(replication int) Spec {
	return Spec{Name: n.Top, Partitions: 1, ReplicationFactor: replication,
		Configs: map[string]string{"cleanup.policy": "delete", "retention.ms": retention(7)}}
}

// PositionsSpec is ingest's compacted topic of source positions: one
// partition, one record per source identity.
func (n Names) PositionsSpec(replication int) Spec {
	return Spec{Name: n.Positions, Partitions: 1, ReplicationFactor: replication,
		Configs: map[string]string{"cleanup.policy": "compact", "min.compaction.lag.ms": "0", "segment.ms": strconv.Itoa(60 * 60 * 1000)}}
}
