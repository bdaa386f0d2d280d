package window_test

import (
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/services/counter/internal/window"
)

func TestOf(t *testing.T) {
	ms := func(n int64) time.Time { return time.UnixMilli(n).UTC() }
	tests := []struct {
		name       string
		at         time.Time
		length     time.Duration
		start, end time.Time
	}{
		{"the epoch starts the first window", ms(0), 2 * time.Second, ms(0), ms(2000)},
		{"an instant inside a window belongs to it", ms(1999), 2 * time.Second, ms(0), ms(2000)},
		{"a window's end starts the next window", ms(2000), 2 * time.Second, ms(2000), ms(4000)},
		{"windows are aligned to the epoch, not to the clock's second", ms(1_700_000_001_234), 2 * time.Second, ms(1_700_000_000_000), ms(1_700_000_002_000)},
		{"a short window length works the same way", ms(1_250), 500 * time.Millisecond, ms(1_000), ms(1_500)},
		{"an instant before the epoch rounds down", ms(-1), 2 * time.Second, ms(-2000), ms(0)},
		{"a time zone does not move the window", time.UnixMilli(3_000).In(time.FixedZone("x", 3600+1800)), 2 * time.Second, ms(2000), ms(4000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := window.Of(tt.at, tt.length)
			if !w.Start.Equal(tt.start) || !w.End.Equal(tt.end) {
				t.Fatalf("Of(%v, %v) = %v, want %v/%v", tt.at, tt.length, w, tt.start, tt.end)
			}
			if !w.Contains(tt.at) {
				t.Fatalf("%v does not contain %v", w, tt.at)
			}
			n := w.Next()
			if !n.Start.Equal(w.End) || n.End.Sub(n.Start) != tt.length || n.Contains(tt.at) {
				t.Fatalf("Next of %v is %v", w, n)
			}
		})
	}
}
