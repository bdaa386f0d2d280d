// Package render turns a snapshot from the top-hashtags topic into what a
// person reads: a console table in the style of the Spark Streaming original
// (a "Batch: N" header and a +----+-----+ table as DataFrame.show() draws it)
// or one JSON line per snapshot for piping into other tools. Both are
// Renderers; the printer picks one from its configuration and calls it once
// per snapshot it follows.
package render

import (
	"io"

	"github.com/hashtrend/hashtrend/pkg/snapshot"
)

// Renderer writes one snapshot.
type Renderer interface {
	Render(w io.Writer, s snapshot.Snapshot) error
}
