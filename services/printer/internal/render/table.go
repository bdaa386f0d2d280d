package render

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashtrend/hashtrend/pkg/snapshot"
)

// DefaultTruncate is the width at which show() cuts a cell.
const DefaultTruncate = 20

// rule is the line Spark Streaming's DStream.print() draws around a batch header.
const rule = "-------------------------------------------"

// Table draws each snapshot as Spark Streaming printed a batch: a header
// naming the batch and its window, the top-N by running total as a
// DataFrame.show() table, optionally a second table of the window's own
// top-N, the "trending now" table when the snapshot's list has entries
// (or one line while the counter's baseline is still building), and a
// footer with the stream's running figures. Column widths come
// from the content, measured in terminal columns so that the borders line up
// around wide characters; cells are right-aligned as show() aligns them.
type Table struct {
	// Truncate cuts tags wider than this many columns with "..." (0: never).
	Truncate int
	// WindowTop adds the table of the window's own top-N.
	WindowTop bool
	// Trending adds what the snapshot says about trending: the "trending
	// now" table when its list has entries, one line while the baseline
	// is still building (version 3), nothing when the counter's trending
	// view is off or nothing trends.
	Trending bool
}

// Render writes the block for s.
func (t Table) Render(w io.Writer, s snapshot.Snapshot) error {
	var b strings.Builder
	b.WriteString(rule + "\n")
	fmt.Fprintf(&b, "Batch: %d   %s\n", s.Batch, window(s.WindowStart, s.WindowEnd))
	b.WriteString(rule + "\n")
	t.table(&b, entries(s.Top, t.Truncate))
	if t.WindowTop {
		b.WriteString("this window:\n")
		t.table(&b, entries(s.WindowTop, t.Truncate))
	}
	if t.Trending {
		t.trending(&b, s.Trending, s.Watermark, s.BaselineUntil, s.WindowEnd)
	}
	fmt.Fprintf(&b, "posts: %d   with hashtags: %d   distinct hashtags: %d\n\n", s.Posts, s.PostsWithTags, s.DistinctHashtags)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write batch %d: %w", s.Batch, err)
	}
	return nil
}

// window formats [start, end) in UTC: the date once, the end's date only
// when it differs, milliseconds only when a bound has them.
func window(start, end time.Time) string {
	start, end = start.UTC(), end.UTC()
	clock := "15:04:05"
	if start.Nanosecond() != 0 || end.Nanosecond() != 0 {
		clock = "15:04:05.000"
	}
	endLayout := clock
	if start.Format(time.DateOnly) != end.Format(time.DateOnly) {
		endLayout = "2006-01-02 " + clock
	}
	return start.Format("2006-01-02 "+clock) + " – " + end.Format(endLayout) + " UTC"
}

// entries are the cells of a top-N list, header first.
func entries(rows []snapshot.Entry, truncate int) [][]string {
	cells := [][]string{{"hashtag", "count"}}
	for _, e := range rows {
		cells = append(cells, []string{Truncate(printable("#"+e.Hashtag), truncate), strconv.FormatInt(e.Count, 10)})
	}
	return cells
}

// trending writes the trending part of a block: one line while the
// baseline is still building (until is set), then the table when rows has
// entries; nothing otherwise. now, the snapshot's window end, decides
// whether a post time needs its date.
func (t Table) trending(b *strings.Builder, rows []snapshot.Trend, watermark, until *time.Time, now time.Time) {
	if until != nil {
		fmt.Fprintf(b, "trending: baseline building until %s UTC (post time", clock(*until, now, true))
		if watermark != nil {
			fmt.Fprintf(b, "; posts up to %s so far", clock(*watermark, *until, true))
		}
		b.WriteString(")\n")
	}
	if len(rows) == 0 {
		return
	}
	if watermark != nil {
		fmt.Fprintf(b, "trending now (posts up to %s):\n", watermark.UTC().Format("2006-01-02 15:04:05 UTC"))
	} else {
		b.WriteString("trending now:\n")
	}
	ref := now
	if watermark != nil {
		ref = *watermark
	}
	t.table(b, trends(rows, t.Truncate, ref))
}

// clock formats a post time compactly: the time of day in UTC, with its
// date only when that differs from ref's, and seconds when it has them or
// seconds is set.
func clock(at, ref time.Time, seconds bool) string {
	at, ref = at.UTC(), ref.UTC()
	layout := "15:04"
	if seconds || at.Second() != 0 {
		layout = "15:04:05"
	}
	if at.Format(time.DateOnly) != ref.Format(time.DateOnly) {
		layout = "2006-01-02 " + layout
	}
	return at.Format(layout)
}

// trends are the cells of the trending list, header first: the status and
// since when the counter gives them (version 3), the score the list is
// ordered by (for a cooling tag its peak decayed to now), the distinct
// authors observed in the recent window, the authors its baseline
// expected, and the posts. ref, the watermark, decides whether a since
// needs its date.
func trends(rows []snapshot.Trend, truncate int, ref time.Time) [][]string {
	lifecycle := slices.ContainsFunc(rows, func(r snapshot.Trend) bool { return r.Status != "" || r.Since != nil })
	head := []string{"hashtag", "score", "authors", "expected", "posts"}
	if lifecycle {
		head = []string{"hashtag", "status", "since", "score", "authors", "expected", "posts"}
	}
	cells := [][]string{head}
	for _, r := range rows {
		row := []string{Truncate(printable("#"+r.Hashtag), truncate)}
		if lifecycle {
			since := ""
			if r.Since != nil {
				since = clock(*r.Since, ref, false)
			}
			row = append(row, printable(r.Status), since)
		}
		cells = append(cells, append(row,
			strconv.FormatFloat(max(r.Score, r.Decayed), 'f', 1, 64),
			strconv.FormatFloat(r.Observed, 'f', 0, 64),
			strconv.FormatFloat(r.Expected, 'f', 1, 64),
			strconv.FormatInt(r.Count, 10),
		))
	}
	return cells
}

// table writes cells (a header row, then the rows) as show() draws a
// DataFrame.
func (t Table) table(b *strings.Builder, cells [][]string) {
	const minWidth = 3 // show()'s narrowest column
	widths := make([]int, len(cells[0]))
	for _, row := range cells {
		for i, c := range row {
			widths[i] = max(widths[i], minWidth, Width(c))
		}
	}
	sep := "+"
	for _, w := range widths {
		sep += strings.Repeat("-", w) + "+"
	}
	sep += "\n"
	line := func(row []string) {
		b.WriteByte('|')
		for i, c := range row {
			b.WriteString(strings.Repeat(" ", widths[i]-Width(c)))
			b.WriteString(c)
			b.WriteByte('|')
		}
		b.WriteByte('\n')
	}
	b.WriteString(sep)
	line(cells[0])
	b.WriteString(sep)
	for _, row := range cells[1:] {
		line(row)
	}
	b.WriteString(sep)
}
