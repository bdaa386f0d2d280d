// Package delta is the message tally sends rank on the hashtag-deltas topic:
// what one tally instance counted in one window, per hashtag key with the
// spellings seen, plus the window's post figures. A window with many
// distinct hashtags is split into several records (parts) so that no record
// grows past the broker's size limit; rank simply adds them all up.
package delta

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/pkg/strict"
)

// Version is the schema version written in every Delta's "v" field.
const Version = 1

// Count is what was counted for one hashtag key: N posts, of which the
// ones not in Others spelled it Spelling.
type Count struct {
	Key      string           `json:"key"`
	N        int64            `json:"n"`
	Spelling string           `json:"spelling"`
	Others   map[string]int64 `json:"others,omitempty"`
}

// Delta is one record on hashtag-deltas.
type Delta struct {
	V           int       `json:"v"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	Instance    string    `json:"instance"`
	Part        int       `json:"part"`
	// Posts and PostsWithHashtags are the window's figures; only part 0
	// carries them, the other parts hold 0.
	Posts             int64   `json:"posts"`
	PostsWithHashtags int64   `json:"posts_with_hashtags"`
	Counts            []Count `json:"counts"`
}

// ErrInvalid marks a value that is not a valid Delta.
var ErrInvalid = errors.New("invalid delta")

// Encode returns the JSON form of d with the current schema version.
func Encode(d Delta) ([]byte, error) {
	d.V = Version
	if d.Counts == nil {
		d.Counts = []Count{}
	}
	return json.Marshal(d)
}

// Decode parses a Delta strictly: one JSON object of schema version 1 with
// no unknown fields, a window whose end follows its start, non-negative
// figures and counts whose spellings add up.
func Decode(b []byte) (Delta, error) {
	var d Delta
	if err := strict.Decode(b, &d, &d.V, Version, Version, ErrInvalid); err != nil {
		return Delta{}, err
	}
	if !d.WindowEnd.After(d.WindowStart) {
		return Delta{}, fmt.Errorf("%w: window end %s not after start %s", ErrInvalid, d.WindowEnd, d.WindowStart)
	}
	if d.Posts < 0 || d.PostsWithHashtags < 0 || d.PostsWithHashtags > d.Posts {
		return Delta{}, fmt.Errorf("%w: posts %d, posts with hashtags %d", ErrInvalid, d.Posts, d.PostsWithHashtags)
	}
	for _, c := range d.Counts {
		if err := c.check(); err != nil {
			return Delta{}, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	return d, nil
}

func (c Count) check() error {
	if c.Key == "" || c.Spelling == "" {
		return fmt.Errorf("count with empty key or spelling: %q/%q", c.Key, c.Spelling)
	}
	others := int64(0)
	for s, n := range c.Others {
		if s == "" || n <= 0 {
			return fmt.Errorf("key %s: spelling %q counted %d", c.Key, s, n)
		}
		others += n
	}
	if c.N <= others {
		return fmt.Errorf("key %s: n %d not above its other spellings' %d", c.Key, c.N, others)
	}
	return nil
}

// Of returns the Count of key from its spellings.
func Of(key string, sp *hashtag.Spellings) Count {
	return Count{Key: key, N: sp.Total(), Spelling: sp.Best(), Others: sp.Others()}
}

// AddTo adds c's spellings to sp.
func (c Count) AddTo(sp *hashtag.Spellings) { sp.AddOthers(c.N, c.Spelling, c.Others) }

// size is a generous estimate of a Count's encoded length.
func (c Count) size() int {
	n := len(c.Key) + len(c.Spelling) + 48
	for s := range c.Others {
		n += len(s) + 24
	}
	return n
}

// Split cuts d into parts of at most about maxBytes each, numbered from 0;
// only part 0 keeps the post figures. A delta that fits stays whole.
func Split(d Delta, maxBytes int) []Delta {
	var parts []Delta
	cur := d
	cur.Counts = nil
	size := 256
	for _, c := range d.Counts {
		if size+c.size() > maxBytes && len(cur.Counts) > 0 {
			parts = append(parts, cur)
			cur = Delta{WindowStart: d.WindowStart, WindowEnd: d.WindowEnd, Instance: d.Instance, Part: len(parts)}
			size = 256
		}
		cur.Counts = append(cur.Counts, c)
		size += c.size()
	}
	return append(parts, cur)
}
