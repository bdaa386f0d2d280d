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
// Version 2 added Trending and Watermark; version 3 each trend's lifecycle
// and reason, and BaselineUntil. Decode still accepts versions 1 and 2,
// whose snapshots simply carry less.
const Version = 3

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

	// The lifecycle (version 3): the tag's status in its current episode,
	// the bucket end the episode began at (Since), its peak score and
	// when (the first bucket end on a tie), and the peak decayed to now
	// with the counter's half-life. A cooling tag's Score is 0 and it is
	// listed by Decayed; the list is ordered by max(Score, Decayed).
	Status  string     `json:"status,omitempty"` // rising, peaking or cooling
	Since   *time.Time `json:"since,omitempty"`
	Peak    float64    `json:"peak,omitempty"`
	PeakAt  *time.Time `json:"peak_at,omitempty"`
	Decayed float64    `json:"decayed,omitempty"`
	// Reason says why the tag trends (version 3; absent when the counter
	// has no details for it).
	Reason *Reason `json:"reason,omitempty"`
}

// Statuses of a trend's lifecycle.
const (
	Rising  = "rising"
	Peaking = "peaking"
	Cooling = "cooling"
)

// Reason is why a tag trends, beside its Observed, Expected and Count.
type Reason struct {
	// PostsPerAuthor is the posts over the distinct authors of the recent
	// window: about 1 when each author posts the tag once, far above when
	// a few flood it.
	PostsPerAuthor float64 `json:"posts_per_author"`
	// TopAuthorsShare is the share of the covered posts from the tag's 5
	// most active authors (a flood signal), an estimate at most
	// TopAuthorsShareError above the true share (0 while the counter's
	// summary of the tag's authors has room for all of them).
	TopAuthorsShare      float64 `json:"top_authors_share"`
	TopAuthorsShareError float64 `json:"top_authors_share_error,omitempty"`
	// Covered is the posts the shares are of: those since From, the first
	// bucket the counter kept details for (the tag became a candidate),
	// at most the recent window.
	Covered int64      `json:"covered_posts"`
	From    *time.Time `json:"from,omitempty"`
	// Sources and Langs are the covered posts per network and per
	// language, most first, ties by name.
	Sources []Share `json:"sources,omitempty"`
	Langs   []Share `json:"langs,omitempty"`
	// Started is where the tag started trending first: the since-time of
	// its current episode in each network's facet that lists it, earliest
	// first (empty without per-network trending).
	Started []Start `json:"started,omitempty"`
	// Authors is the distinct authors per bucket over the recent window,
	// oldest first (a sparkline).
	Authors []int64 `json:"authors_per_bucket,omitempty"`
}

// Share is posts from one network or in one language.
type Share struct {
	Name  string `json:"name"`
	Posts int64  `json:"posts"`
}

// Start is when a tag's current episode began in one network's facet.
type Start struct {
	Network string    `json:"network"`
	Since   time.Time `json:"since"`
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

	// BaselineUntil is present while the trending view's baseline is
	// still building (version 3): the post time from which a trending
	// list can be computed, one recent window and one baseline window
	// after the first bucket the counter holds. Until then the list is
	// empty by design, not for want of trends.
	BaselineUntil *time.Time `json:"baseline_until,omitempty"`
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

// Decode parses a Snapshot strictly: one JSON object of schema version 1
// to 3, no unknown fields, a window whose end follows its start, nothing
// newer than its version, and trending rows as checkTrends says.
func Decode(b []byte) (Snapshot, error) {
	var s Snapshot
	if err := strict.Decode(b, &s, &s.V, oldestVersion, Version, ErrInvalid); err != nil {
		return Snapshot{}, err
	}
	if s.V < 2 && (s.Trending != nil || s.Watermark != nil) {
		return Snapshot{}, fmt.Errorf("%w: batch %d: trending in a version %d snapshot", ErrInvalid, s.Batch, s.V)
	}
	if s.V < 3 && (s.BaselineUntil != nil || newerTrends(s.Trending)) {
		return Snapshot{}, fmt.Errorf("%w: batch %d: lifecycle, reason or baseline in a version %d snapshot", ErrInvalid, s.Batch, s.V)
	}
	if !s.WindowEnd.After(s.WindowStart) {
		return Snapshot{}, fmt.Errorf("%w: batch %d: window end %s not after start %s", ErrInvalid, s.Batch, s.WindowEnd, s.WindowStart)
	}
	if err := checkTrends(s.Trending); err != nil {
		return Snapshot{}, fmt.Errorf("%w: batch %d: %w", ErrInvalid, s.Batch, err)
	}
	return s, nil
}

// newerTrends says whether a trending row carries a field of version 3.
func newerTrends(ts []Trend) bool {
	for _, t := range ts {
		if t.Status != "" || t.Since != nil || t.Peak != 0 || t.PeakAt != nil || t.Decayed != 0 || t.Reason != nil {
			return true
		}
	}
	return false
}

// checkTrends checks a trending list's rows: ranks from 1 in order, a
// display spelling and a counting key, and a known status, if any.
func checkTrends(ts []Trend) error {
	for i, t := range ts {
		if t.Rank != i+1 || t.Hashtag == "" || t.Key == "" {
			return fmt.Errorf("trending row %d (rank %d, %q)", i+1, t.Rank, t.Hashtag)
		}
		switch t.Status {
		case "", Rising, Peaking, Cooling:
		default:
			return fmt.Errorf("trending row %d (%q): unknown status %q", i+1, t.Hashtag, t.Status)
		}
	}
	return nil
}
