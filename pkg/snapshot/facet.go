package snapshot

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/pkg/strict"
)

// FacetVersion is the schema version written in every Facet's "v" field.
// Version 2 gave trending rows their lifecycle and reason (as Snapshot
// version 3); DecodeFacet still accepts version 1.
const FacetVersion = 2

// Facet is the lists of one facet (pkg/facet: source:bluesky, lang:ja,
// source:bluesky/lang:ja, ...), a record of its own on the compacted facets
// topic, keyed by the facet's name. The counter writes it in the
// transaction of a snapshot, only when the facet's lists changed since it
// last wrote them, so the topic holds the latest lists of every facet
// whatever the window; a facet that has no lists of its own any more (its
// language left the busiest) gets a tombstone. The global lists stay in
// the Snapshot on top-hashtags.
type Facet struct {
	V     int    `json:"v"`
	Facet string `json:"facet"`
	// Batch and WindowEnd are those of the snapshot written with it: the
	// lists are the facet's as of that snapshot.
	Batch     int64     `json:"batch"`
	WindowEnd time.Time `json:"window_end"`
	// Top is the facet's top-N by running total: the posts of the facet
	// that mention each hashtag. Ranks are the positions, from 1; ties
	// are ordered by counting key.
	Top []Count `json:"top"`
	// Trending is the facet's trending list, as the Snapshot's is the
	// stream's, from the facet's posts only, and Watermark the post time
	// up to which its buckets are closed; both absent when nothing trends
	// in the facet (or the counter's trending view is off).
	Trending  []Trend    `json:"trending,omitempty"`
	Watermark *time.Time `json:"watermark,omitempty"`
}

// Count is one row of a facet's list, kept short: the rank is its
// position and the counting key is hashtag.Key(Hashtag).
type Count struct {
	Hashtag string `json:"hashtag"` // display spelling, without '#'
	Count   int64  `json:"count"`
}

// EncodeFacet returns the JSON form of f with the current schema version.
func EncodeFacet(f Facet) ([]byte, error) {
	f.V = FacetVersion
	if f.Top == nil {
		f.Top = []Count{}
	}
	return json.Marshal(f)
}

// DecodeFacet parses the record key holds value strictly: one JSON object
// of schema version 1 or 2, no unknown fields, a facet's name that is the key
// (never all: the global lists are the Snapshot's), and a top with
// hashtags, positive counts, most first. A nil value is a tombstone: the
// facet has no lists any more (ok false, no error).
func DecodeFacet(key, value []byte) (f Facet, ok bool, err error) {
	name, err := facet.Parse(string(key))
	if err != nil || name.IsAll() {
		return Facet{}, false, fmt.Errorf("%w: facet record keyed %q: not a facet's name", ErrInvalid, key)
	}
	if value == nil {
		return Facet{}, false, nil
	}
	if err := strict.Decode(value, &f, &f.V, 1, FacetVersion, ErrInvalid); err != nil {
		return Facet{}, false, err
	}
	if f.Facet != string(key) {
		return Facet{}, false, fmt.Errorf("%w: facet record keyed %q holds %q", ErrInvalid, key, f.Facet)
	}
	for i, c := range f.Top {
		if c.Hashtag == "" || c.Count <= 0 || i > 0 && c.Count > f.Top[i-1].Count {
			return Facet{}, false, fmt.Errorf("%w: facet %s batch %d: row %d (%q, %d) empty or out of order", ErrInvalid, f.Facet, f.Batch, i+1, c.Hashtag, c.Count)
		}
	}
	if f.V < 2 && newerTrends(f.Trending) {
		return Facet{}, false, fmt.Errorf("%w: facet %s batch %d: lifecycle or reason in a version %d record", ErrInvalid, f.Facet, f.Batch, f.V)
	}
	if err := checkTrends(f.Trending); err != nil {
		return Facet{}, false, fmt.Errorf("%w: facet %s batch %d: %w", ErrInvalid, f.Facet, f.Batch, err)
	}
	if len(f.Trending) > 0 && f.Watermark == nil {
		return Facet{}, false, fmt.Errorf("%w: facet %s batch %d: a trending list without its watermark", ErrInvalid, f.Facet, f.Batch)
	}
	return f, true, nil
}
