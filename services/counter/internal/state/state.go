// Package state is rank's checkpoint on the compacted hashtag-counts topic:
// one record per hashtag key holding its running total and spellings, one
// reserved meta record holding what a snapshot needs to continue after
// a restart (the batch number and the running post figures), and with
// trending on one reserved record per facet holding its trending
// lifecycle (trend.Lifecycle's encoding). rank writes them in the same
// transaction as its snapshot and consumed offsets, and reads them back
// (package partition) with DecodeRecord: the whole partition at an
// assignment, or as they come in a warm standby.
package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/pkg/strict"
	"github.com/hashtrend/hashtrend/services/counter/internal/cells"
	"github.com/hashtrend/hashtrend/services/counter/internal/trend"
)

// Version is the schema version of Meta values and of Total values
// without cells; CellsVersion that of a Total with cells, which readers
// of version 1 reject (strictly), so that an old standby taking over from
// a counter with facets stops rather than drop the cells.
const (
	Version      = 1
	CellsVersion = 2
)

// MetaKey is the key of the meta record. A '#' never appears in a hashtag
// key, so it cannot collide with one.
const MetaKey = "#meta"

// LifecyclePrefix begins the key of a facet's lifecycle record, followed
// by the facet's name (facet.Name.String: all, source:bluesky, ...).
const LifecyclePrefix = "#lifecycle/"

// LifecycleKey is the key of the lifecycle record of facet n.
func LifecycleKey(n facet.Name) string { return LifecyclePrefix + n.String() }

// Reserved tells whether key is a record's other than a hashtag's total:
// the meta record or a lifecycle record.
func Reserved(key []byte) bool { return len(key) > 0 && key[0] == '#' }

// Total is the value of a hashtag's record: Count posts, of which the ones
// not in Others spelled it Spelling, and (version 2, with facets on) of
// which Cells holds the posts by cell, facet.Cell's network/language form.
// The cells add up to Count or less: posts counted before facets were on
// are in no cell.
type Total struct {
	V        int              `json:"v"`
	Count    int64            `json:"count"`
	Spelling string           `json:"spelling"`
	Others   map[string]int64 `json:"others,omitempty"`
	Cells    cells.Counts     `json:"cells,omitempty"`
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

// EncodeTotal returns the JSON of t: version 1 without cells, 2 with. It
// is written without reflection, byte for byte as encoding/json writes
// it, since rank writes one per hashtag changed in every window.
func EncodeTotal(t Total) ([]byte, error) {
	t.V = Version
	if len(t.Cells) > 0 {
		t.V = CellsVersion
	}
	b := make([]byte, 0, 48+len(t.Spelling)+24*len(t.Cells)+24*len(t.Others))
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(t.V), 10)
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, t.Count, 10)
	b = append(b, `,"spelling":`...)
	b = appendString(b, t.Spelling)
	if len(t.Others) > 0 {
		b = append(b, `,"others":{`...)
		for i, s := range slices.Sorted(maps.Keys(t.Others)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendString(b, s), ':')
			b = strconv.AppendInt(b, t.Others[s], 10)
		}
		b = append(b, '}')
	}
	if len(t.Cells) > 0 {
		c, err := t.Cells.MarshalJSON()
		if err != nil {
			return nil, err
		}
		b = append(append(b, `,"cells":`...), c...)
	}
	return append(b, '}'), nil
}

// appendString appends s as encoding/json writes a string.
func appendString(b []byte, s string) []byte {
	if plainASCII(s) {
		return append(append(append(b, '"'), s...), '"')
	}
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// plainASCII tells whether encoding/json writes s as it is: printable
// ASCII without a quote, a backslash or the characters it escapes for
// HTML (<, >, &).
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

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
	err := strict.Decode(b, &t, &t.V, Version, CellsVersion, ErrInvalid)
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
	if t.V < CellsVersion && t.Cells != nil {
		return fmt.Errorf("%w: cells in a version %d total", ErrInvalid, t.V)
	}
	for _, x := range t.Cells {
		if _, err := facet.ParseCell(x.Cell); err != nil || x.N <= 0 {
			return fmt.Errorf("%w: cell %q counted %d (%v)", ErrInvalid, x.Cell, x.N, err)
		}
	}
	if sum := t.Cells.Sum(); sum > t.Count {
		return fmt.Errorf("%w: cells hold %d posts of %d", ErrInvalid, sum, t.Count)
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

// Record is one decoded record of the state topic: a hashtag's Total, the
// meta record (Meta set), a facet's lifecycle (Lifecycle set) or a
// hashtag's tombstone (Deleted).
type Record struct {
	Key       []byte
	Total     Total
	Meta      *Meta
	Lifecycle *Lifecycle
	Deleted   bool
}

// Lifecycle is a facet's trending lifecycle as rank checkpointed it: the
// bytes of trend.Lifecycle.Encode, checked by DecodeRecord; rank decodes
// them again for its own trending definition (trend.DecodeLifecycle). A
// nil State is a tombstone: the facet has no lifecycle any more.
type Lifecycle struct {
	Facet facet.Name
	State []byte
}

// DecodeLifecycle checks the lifecycle record key holds value (nil: a
// tombstone): a key that names a facet as facet.Name.String writes it,
// a value trend.DecodeLifecycle reads. The state it returns is a copy of
// value.
func DecodeLifecycle(key, value []byte) (Lifecycle, error) {
	name, ok := strings.CutPrefix(string(key), LifecyclePrefix)
	if !ok {
		return Lifecycle{}, fmt.Errorf("%w: key %q is not a lifecycle's", ErrInvalid, key)
	}
	n, err := facet.Parse(name)
	if err != nil || n.String() != name {
		return Lifecycle{}, fmt.Errorf("%w: lifecycle key %q: %v", ErrInvalid, key, err)
	}
	if value == nil {
		return Lifecycle{Facet: n}, nil
	}
	if _, err := trend.DecodeLifecycle(value, trend.Config{}, trend.LifecycleConfig{}); err != nil {
		return Lifecycle{}, fmt.Errorf("%w: lifecycle of %s: %w", ErrInvalid, name, err)
	}
	return Lifecycle{Facet: n, State: bytes.Clone(value)}, nil
}

// DecodeRecord decodes the record key holds value; a nil value is a
// tombstone.
func DecodeRecord(key, value []byte) (Record, error) {
	r := Record{Key: key}
	switch {
	case string(key) == MetaKey:
		m, err := DecodeMeta(value)
		if err != nil {
			return Record{}, err
		}
		r.Meta = &m
	case bytes.HasPrefix(key, []byte(LifecyclePrefix)):
		l, err := DecodeLifecycle(key, value)
		if err != nil {
			return Record{}, err
		}
		r.Lifecycle = &l
	case value == nil:
		r.Deleted = true
	default:
		t, err := DecodeTotal(value)
		if err != nil {
			return Record{}, err
		}
		r.Total = t
	}
	return r, nil
}
