// Package strict decodes the project's own versioned JSON records (posts,
// snapshots, the counter's deltas and state) the one way they are all read:
// exactly one JSON object, no field the schema does not know, nothing after
// it, and a schema version ("v") the reader accepts. Each record type keeps
// its own sentinel error and its own checks of the values; this package
// only owns the shape.
package strict

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Decode parses b into v, which must be a pointer to a struct whose "v"
// field version points at, and checks that version is from oldest to
// newest. Every error it returns wraps invalid and says what was wrong.
func Decode(b []byte, v any, version *int, oldest, newest int, invalid error) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", invalid, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: trailing data after the object", invalid)
	}
	if *version < oldest || *version > newest {
		if oldest == newest {
			return fmt.Errorf("%w: schema version %d, want %d", invalid, *version, newest)
		}
		return fmt.Errorf("%w: schema version %d, want %d to %d", invalid, *version, oldest, newest)
	}
	return nil
}
