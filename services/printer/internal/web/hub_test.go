package web

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/snapshot"
)

func snap(batch int64, top, window map[string]int64) snapshot.Snapshot {
	s := snapshot.Snapshot{Batch: batch}
	for k, n := range top {
		s.Top = append(s.Top, snapshot.Entry{Hashtag: k, Key: k, Count: n})
	}
	for k, n := range window {
		s.WindowTop = append(s.WindowTop, snapshot.Entry{Hashtag: k, Key: k, Count: n})
	}
	return s
}

func show(line []*int64) string {
	out := "["
	for i, n := range line {
		if i > 0 {
			out += " "
		}
		if n == nil {
			out += "-"
		} else {
			out += fmt.Sprint(*n)
		}
	}
	return out + "]"
}

func TestSeries(t *testing.T) {
	type m = map[string]int64
	for _, tc := range []struct {
		name   string
		recent []snapshot.Snapshot
		want   map[string]string
	}{{
		name:   "one snapshot tells nothing but its own window top",
		recent: []snapshot.Snapshot{snap(7, m{"a": 50, "b": 40}, m{"a": 3})},
		want:   map[string]string{"a": "[3]", "b": "[-]"},
	}, {
		name: "consecutive batches give the growth of the running total",
		recent: []snapshot.Snapshot{
			snap(1, m{"a": 10}, nil), snap(2, m{"a": 14}, nil), snap(3, m{"a": 14}, nil), snap(4, m{"a": 20}, nil)},
		want: map[string]string{"a": "[- 4 0 6]"},
	}, {
		name: "the window's own top wins over the difference",
		recent: []snapshot.Snapshot{
			snap(1, m{"a": 10}, nil), snap(2, m{"a": 15}, m{"a": 5})},
		want: map[string]string{"a": "[- 5]"},
	}, {
		name: "a gap in the batches leaves a gap in the line",
		recent: []snapshot.Snapshot{
			snap(1, m{"a": 10}, nil), snap(2, m{"a": 12}, nil), snap(5, m{"a": 30}, nil), snap(6, m{"a": 31}, nil)},
		want: map[string]string{"a": "[- 2 - 1]"},
	}, {
		name: "a tag new to the top is unknown until it has been there twice",
		recent: []snapshot.Snapshot{
			snap(1, m{"a": 10}, nil), snap(2, m{"a": 12, "b": 11}, nil), snap(3, m{"a": 13, "b": 15}, nil)},
		want: map[string]string{"a": "[- 2 1]", "b": "[- - 4]"},
	}, {
		name: "only tags of the newest top get a line",
		recent: []snapshot.Snapshot{
			snap(1, m{"gone": 10}, nil), snap(2, m{"a": 12}, nil)},
		want: map[string]string{"a": "[- -]"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := series(tc.recent, 30)
			if len(got) != len(tc.want) {
				t.Fatalf("lines for %d tags, want %d: %v", len(got), len(tc.want), got)
			}
			for k, want := range tc.want {
				if s := show(got[k]); s != want {
					t.Errorf("%s: %s, want %s", k, s, want)
				}
			}
		})
	}
}

func TestHubKeepsTheLastWindowsAndStartsOverWhenBatchesDo(t *testing.T) {
	type m = map[string]int64
	h := NewHub(3)
	for b := int64(1); b <= 5; b++ {
		h.Publish(snap(b, m{"a": 10 * b}, nil))
	}
	v, _ := h.Latest()
	if s := show(v.Series["a"]); s != "[10 10 10]" {
		t.Fatalf("after 5 batches with 3 kept: %s, want [10 10 10]", s)
	}
	h.Publish(snap(1, m{"a": 3}, nil)) // a new run of the counter
	v, _ = h.Latest()
	if s := show(v.Series["a"]); s != "[-]" {
		t.Fatalf("after the batches started again: %s, want [-]", s)
	}
}

func TestStaleAfter(t *testing.T) {
	for _, tc := range []struct{ window, want time.Duration }{
		{2 * time.Second, 6 * time.Second},
		{500 * time.Millisecond, 5 * time.Second},
		{10 * time.Second, 30 * time.Second},
	} {
		if got := staleAfter(tc.window); got != tc.want {
			t.Errorf("staleAfter(%s) = %s, want %s", tc.window, got, tc.want)
		}
	}
}
