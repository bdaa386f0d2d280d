// Package window is the counter's time arithmetic: fixed processing-time
// windows [k·L, (k+1)·L) aligned to the Unix epoch, the batch interval of
// the Spark Streaming original. tally closes one at each end; rank publishes
// one snapshot per window.
package window

import "time"

// Window is the half-open interval [Start, End).
type Window struct {
	Start, End time.Time
}

// Of returns the window of length that holds t. Length must be positive.
func Of(t time.Time, length time.Duration) Window {
	ns := t.UnixNano()
	l := int64(length)
	k := ns / l
	if ns%l < 0 { // before the epoch: round towards minus infinity
		k--
	}
	start := time.Unix(0, k*l).UTC()
	return Window{Start: start, End: start.Add(length)}
}

// Next returns the window that follows w.
func (w Window) Next() Window {
	l := w.End.Sub(w.Start)
	return Window{Start: w.End, End: w.End.Add(l)}
}

// Contains reports whether t lies in w.
func (w Window) Contains(t time.Time) bool {
	return !t.Before(w.Start) && t.Before(w.End)
}

// String formats w for logs, as its start and end in RFC 3339 with
// milliseconds.
func (w Window) String() string {
	const layout = "2006-01-02T15:04:05.000Z07:00"
	return w.Start.Format(layout) + "/" + w.End.Format(layout)
}
