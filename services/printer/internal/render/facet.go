package render

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hashtrend/hashtrend/pkg/snapshot"
)

// FacetRenderer writes one facet's lists (a record of the facets topic),
// and says when the facet has none any more.
type FacetRenderer interface {
	RenderFacet(w io.Writer, f snapshot.Facet) error
	RenderGone(w io.Writer, facet string) error
}

// RenderFacet writes the block for f: a header naming the facet and the
// batch whose snapshot its lists go with, its top-N as show() draws it,
// and its trending table when its list has entries.
func (t Table) RenderFacet(w io.Writer, f snapshot.Facet) error {
	var b strings.Builder
	b.WriteString(rule + "\n")
	fmt.Fprintf(&b, "Batch: %d   %s   as of %s\n", f.Batch, printable(f.Facet), f.WindowEnd.UTC().Format("2006-01-02 15:04:05.000 UTC"))
	b.WriteString(rule + "\n")
	cells := [][]string{{"hashtag", "count"}}
	for _, c := range f.Top {
		cells = append(cells, []string{Truncate(printable("#"+c.Hashtag), t.Truncate), strconv.FormatInt(c.Count, 10)})
	}
	t.table(&b, cells)
	if t.Trending {
		t.trending(&b, f.Trending, f.Watermark, nil, f.WindowEnd)
	}
	b.WriteString("\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write facet %s batch %d: %w", f.Facet, f.Batch, err)
	}
	return nil
}

// RenderGone says that facet has no lists now.
func (t Table) RenderGone(w io.Writer, facet string) error {
	_, err := fmt.Fprintf(w, "%s has no lists now (a language that left the counter's busiest, COUNTER_FACET_LANGUAGES, counts in lang:other)\n\n", printable(facet))
	return err
}

// RenderFacet writes f as one JSON line, the topic's own schema.
func (JSON) RenderFacet(w io.Writer, f snapshot.Facet) error {
	b, err := snapshot.EncodeFacet(f)
	if err != nil {
		return fmt.Errorf("encode facet %s batch %d: %w", f.Facet, f.Batch, err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write facet %s batch %d: %w", f.Facet, f.Batch, err)
	}
	return nil
}

// RenderGone writes nothing: the JSON lines are the topic's records, and
// a tombstone has none. The printer logs it.
func (JSON) RenderGone(io.Writer, string) error { return nil }
