// Package snapshot is the message the counter publishes to the top-hashtags
// topic once per window and the printer renders: the top-N hashtags by
// running total and within the window, with the stream's running figures.
package snapshot

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashtrend/hashtrend/pkg/strict"
)

// Version is the schema version written in every Snapshot's "v" field.
// Version 2 added Trending and Watermark; Decode still accepts version 1,
// whose snapshots simply carry no trending list.
const Version = 2

// oldestVersion is the oldest schema version Decode accepts.
const oldestVersion = 1

// Entry is one row of a top-N list.
type Entry struct {
	Rank    int    `json:"rank"`
	Hashtag string `json:"hashtag"` // display spelling, without '#'
	Key     string `json:"key"`     // counting key (case-folded, NFKC)
	Count   int64  `json:"count"`
}

// Trend is one row of the "trending now" list: a tag ranked by how far its
// distinct authors in the recent window exceed what its baseline predicts.
type Trend struct {
	Rank     int     `json:"rank"`
	Hashtag  string  `json:"hashtag"`  // display spelling, without '#'
	Key      string  `json:"key"`      // counting key (case-folded, NFKC)
	Score    float64 `json:"score"`    // (observed − expected)² / expected
	Observed float64 `json:"observed"` // distinct authors in the recent window (estimated)
	Expected float64 `json:"expected"` // authors the baseline predicts for the recent window, at least 1
	Count    int64   `json:"count"`    // posts with the tag in the recent window
}

// Snapshot is the state of the trend at the end of one window.
type Snapshot struct {
	V                int       `json:"v"`
	Batch            int64     `json:"batch"`
	WindowStart      time.Time `json:"window_start"`
	WindowEnd        time.Time `json:"window_end"`
	Top              []Entry   `json:"top"`
	WindowTop        []Entry   `json:"window_top"`
	Posts            int64     `json:"posts"`
	PostsWithTags    int64     `json:"posts_with_hashtags"`
	DistinctHashtags int64     `json:"distinct_hashtags"`
	ProducedAt       time.Time `json:"produced_at"`

	// Trending is the top-N by trending score (version 2; absent in
	// version 1 and when the counter's trending view is off). Watermark
	// is the post time up to which the trending buckets are closed.
	Trending  []Trend    `json:"trending,omitempty"`
	Watermark *time.Time `json:"watermark,omitempty"`
}

// ErrInvalid marks a value that is not a valid Snapshot.
var ErrInvalid = errors.New("invalid snapshot")

// Encode returns the JSON form of s with the current schema version.
func Encode(s Snapshot) ([]byte, error) {
	s.V = Version
	if s.Top == nil {
		s.Top = []Entry{}
	}
	if s.WindowTop == nil {
		s.WindowTop = []Entry{}
	}
	return json.Marshal(s)
}

// Decode parses a Snapshot strictly: one JSON object of schema version 1 or 2,
// no unknown fields, a window whose end follows its start.
func Decode(b []byte) (Snapshot, error) {
	var s Snapshot
	if err := strict.Decode(b, &s, &s.V, oldestVersion, Version, ErrInvalid); err != nil {
		return Snapshot{}, err
	}
	if s.V < 2 && (s.Trending != nil || s.Watermark != nil) {
		return Snapshot{}, fmt.Errorf("%w: batch %d: trending in a version %d snapshot", ErrInvalid, s.Batch, s.V)
	}
	if !s.WindowEnd.After(s.WindowStart) {
		return Snapshot{}, fmt.Errorf("%w: batch %d: window end %s not after start %s", ErrInvalid, s.Batch, s.WindowEnd, s.WindowStart)
	}
	return s, nil
}
