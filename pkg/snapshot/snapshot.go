// Package snapshot is the message the counter publishes to the top-hashtags
// topic once per window and the printer renders: the top-N hashtags by
// running total and within the window, with the stream's running figures.
package snapshot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Version is the schema version written in every Snapshot's "v" field.
const Version = 1

// Entry is one row of a top-N list.
type Entry struct {
	Rank    int    `json:"rank"`
	Hashtag string `json:"hashtag"` // display spelling, without '#'
	Key     string `json:"key"`     // counting key (case-folded, NFKC)
	Count   int64  `json:"count"`
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

// Decode parses a Snapshot strictly: one JSON object of schema version 1,
// no unknown fields, a window whose end follows its start.
func Decode(b []byte) (Snapshot, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s Snapshot
	if err := dec.Decode(&s); err != nil {
		return Snapshot{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return Snapshot{}, fmt.Errorf("%w: trailing data after the object", ErrInvalid)
	}
	if s.V != Version {
		return Snapshot{}, fmt.Errorf("%w: schema version %d, want %d", ErrInvalid, s.V, Version)
	}
	if !s.WindowEnd.After(s.WindowStart) {
		return Snapshot{}, fmt.Errorf("%w: batch %d: window end %s not after start %s", ErrInvalid, s.Batch, s.WindowEnd, s.WindowStart)
	}
	return s, nil
}
