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
	Facets           string `envconfig:"FACETS" default:"hashtag-facets" desc:"compacted lists of every facet (network, language), keyed by the facet's name"`
	Positions        string `envconfig:"POSITIONS" default:"ingest-positions" desc:"compacted resume positions of ingest's sources, written in its transactions"`
}

// Validate checks the names; variables are named with the TOPIC prefix.
func (n Names) Validate() error {
	for v, name := range map[string]string{"TOPIC_TWEETS": n.Tweets, "TOPIC_DLQ": n.DLQ, "TOPIC_DELTAS": n.Deltas, "TOPIC_COUNTS": n.Counts, "TOPIC_TOP": n.Top, "TOPIC_FACETS": n.Facets, "TOPIC_POSITIONS": n.Positions} {
		if name == "" {
			return config.Invalid(v, "must not be empty")
		}
	}
	return config.AtLeast("TOPIC_TWEETS_PARTITIONS", n.TweetsPartitions, 1)
}

// deleted is a topic whose records the broker deletes after days.
func deleted(name string, partitions, replication, days int) Spec {
	return Spec{Name: name, Partitions: partitions, ReplicationFactor: replication,
		Configs: map[string]string{"cleanup.policy": "delete", "retention.ms": strconv.Itoa(days * day)}}
}

// compacted is a one-partition topic the broker compacts to the last
// record of each key, as soon as an hour's segment has rolled.
func compacted(name string, replication int) Spec {
	return Spec{Name: name, Partitions: 1, ReplicationFactor: replication,
		Configs: map[string]string{"cleanup.policy": "compact", "min.compaction.lag.ms": "0", "segment.ms": strconv.Itoa(60 * 60 * 1000)}}
}

// TweetsSpec is the posts topic: keyed by post id, kept 7 days.
func (n Names) TweetsSpec(replication int) Spec {
	return deleted(n.Tweets, n.TweetsPartitions, replication, 7)
}

// DLQSpec is the dead-letter topic for undecodable posts, kept 7 days.
func (n Names) DLQSpec(replication int) Spec { return deleted(n.DLQ, 1, replication, 7) }

// DeltasSpec is tally's output: one partition, kept one day.
func (n Names) DeltasSpec(replication int) Spec { return deleted(n.Deltas, 1, replication, 1) }

// CountsSpec is rank's compacted state topic, partitioned as the deltas.
func (n Names) CountsSpec(replication int) Spec { return compacted(n.Counts, replication) }

// TopSpec is the snapshots topic: one partition, kept 7 days.
func (n Names) TopSpec(replication int) Spec { return deleted(n.Top, 1, replication, 7) }

// FacetsSpec is the facets' lists: one partition, compacted to the last
// record of each facet. Its segments roll every 10 minutes rather than
// every hour, so that what a reader reads beyond the facets' last records
// (the part not compacted yet) stays a few windows' worth: at the
// counter's budget of 64 KiB a window of 2 s, at most 20 MB.
func (n Names) FacetsSpec(replication int) Spec {
	s := compacted(n.Facets, replication)
	s.Configs["segment.ms"] = strconv.Itoa(10 * 60 * 1000)
	return s
}

// PositionsSpec is ingest's compacted topic of source positions: one
// partition, one record per source identity.
func (n Names) PositionsSpec(replication int) Spec { return compacted(n.Positions, replication) }
