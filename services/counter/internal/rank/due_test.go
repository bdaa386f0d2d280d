package rank

import (
	"testing"
	"time"
)

// The windows of these tests: 500 ms and a grace of 150 ms, as the
// failover trials run them; ms is a time in Unix milliseconds.
const length, grace = 500 * time.Millisecond, 150 * time.Millisecond

func ms(n int64) time.Time { return time.UnixMilli(n).UTC() }

// A publish that overran its window, an abort and a restore after a broker
// outage say, must leave the loop polling until a publish time still
// ahead: were the next publish due at once, the consumer would serve one
// event between two transactions and a revoke queued behind statistics
// and errors would wait as long as the aborts went on.
func TestNextDueIsAlwaysAhead(t *testing.T) {
	tests := []struct {
		name string
		now  time.Time
		end  time.Time // of the window due next
	}{
		{"a publish on time is followed by the next window", ms(10_650 + 3), ms(11_000)},
		{"the grace of a window not yet over", ms(11_100), ms(11_000)},
		{"at a publish time, the following window", ms(11_150), ms(11_500)},
		{"a publish that took seconds skips the windows it overran", ms(10_650 + 7_321), ms(18_000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := nextDue(tt.now, length, grace)
			if !w.End.Equal(tt.end) {
				t.Errorf("nextDue(%v) = %v, want the window ending %v", tt.now, w, tt.end)
			}
			if at := w.End.Add(grace); !at.After(tt.now) {
				t.Errorf("nextDue(%v) is published at %v, not after now", tt.now, at)
			}
			if w.End.Sub(w.Start) != length {
				t.Errorf("nextDue(%v) = %v, not a window of %v", tt.now, w, length)
			}
		})
	}
	for n := int64(0); n < 2*int64(length/time.Millisecond); n++ {
		now := ms(1_000_000 + n)
		if at := nextDue(now, length, grace).End.Add(grace); !at.After(now) || at.Sub(now) > length {
			t.Fatalf("nextDue(%v) is published at %v: not within one window after now", now, at)
		}
	}
}

// After a takeover the last window due is published at once only when the
// predecessor's last snapshot was of an earlier window, never a second
// time, and not when the state does not say which window that was.
func TestMissedIsTheLastWindowDueAndOnlyWhenUnpublished(t *testing.T) {
	tests := []struct {
		name      string
		now       time.Time
		published time.Time
		end       time.Time // of the last window due
		ok        bool
	}{
		{"the predecessor died a window before: the last window due is missed", ms(11_200), ms(10_500), ms(11_000), true},
		{"it died seconds before", ms(17_300), ms(11_000), ms(17_000), true},
		{"it published the last window due", ms(11_200), ms(11_000), ms(11_000), false},
		{"within a grace, the window before is the last due", ms(11_100), ms(10_500), ms(10_500), false},
		{"within a grace, after an older snapshot", ms(11_100), ms(10_000), ms(10_500), true},
		{"state without the field", ms(11_200), time.Time{}, ms(11_000), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, ok := missed(tt.now, tt.published, length, grace)
			if ok != tt.ok || !w.End.Equal(tt.end) {
				t.Fatalf("missed(%v, %v) = %v, %v; want the window ending %v, %v", tt.now, tt.published, w, ok, tt.end, tt.ok)
			}
			if at := w.End.Add(grace); at.After(tt.now) {
				t.Fatalf("missed(%v) = %v, whose publish time %v is still ahead", tt.now, w, at)
			}
			if next := nextDue(tt.now, length, grace); !next.Start.Equal(w.End) {
				t.Fatalf("missed(%v) = %v is not the window before the next due, %v", tt.now, w, next)
			}
		})
	}
}
