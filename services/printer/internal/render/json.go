package render

import (
	"fmt"
	"io"

	"github.com/hashtrend/hashtrend/pkg/snapshot"
)

// JSON writes each snapshot as one line of its JSON form (the topic's own
// schema, see docs/), for `| jq` and other line-oriented tools.
type JSON struct{}

// Render writes s as one JSON line.
func (JSON) Render(w io.Writer, s snapshot.Snapshot) error {
	b, err := snapshot.Encode(s)
	if err != nil {
		return fmt.Errorf("encode snapshot %d: %w", s.Batch, err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write snapshot %d: %w", s.Batch, err)
	}
	return nil
}
