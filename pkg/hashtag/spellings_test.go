package hashtag

import (
	"maps"
	"testing"
)

func TestSpellings(t *testing.T) {
	type add struct {
		s string
		n int64
	}
	tests := []struct {
		name string
		adds []add
		want string
	}{
		{"nothing added shows nothing", nil, ""},
		{"a single spelling is shown", []add{{"TikTok", 1}}, "TikTok"},
		{"the most frequent spelling is shown", []add{{"tiktok", 1}, {"TikTok", 2}, {"TIKTOK", 1}}, "TikTok"},
		{"a later spelling overtakes the first", []add{{"a", 2}, {"B", 1}, {"B", 2}}, "B"},
		{"a tie goes to the lexicographically smallest", []add{{"tiktok", 2}, {"TikTok", 2}}, "TikTok"},
		{"the tie rule does not depend on order", []add{{"TikTok", 2}, {"tiktok", 2}}, "TikTok"},
		{"non-positive counts and empty spellings are ignored", []add{{"x", 1}, {"y", 0}, {"y", -5}, {"", 9}}, "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sp Spellings
			for _, a := range tt.adds {
				sp.Add(a.s, a.n)
			}
			if got := sp.Best(); got != tt.want {
				t.Errorf("Best() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSpellingsAllYieldsEveryCount(t *testing.T) {
	var sp Spellings
	sp.Add("a", 1)
	sp.Add("b", 3)
	sp.Add("a", 1)
	sp.Add("c", 1)
	want := map[string]int64{"a": 2, "b": 3, "c": 1}
	if got := maps.Collect(sp.All()); !maps.Equal(got, want) {
		t.Errorf("All() = %v, want %v", got, want)
	}
	for s := range sp.All() {
		if s != "b" {
			t.Errorf("All() yielded %q first, want the best, b", s)
		}
		break
	}
}

func TestSpellingsWithOneSpellingDoesNotAllocate(t *testing.T) {
	var sp Spellings
	if n := testing.AllocsPerRun(100, func() { sp.Add("only", 1) }); n != 0 {
		t.Errorf("Add allocated %v times, want 0", n)
	}
}

func TestSpellingsTravelAsTotalBestAndOthers(t *testing.T) {
	var sp Spellings
	if sp.Total() != 0 || sp.Others() != nil {
		t.Fatalf("empty: Total %d, Others %v", sp.Total(), sp.Others())
	}
	sp.Add("Go", 1)
	if sp.Total() != 1 || sp.Others() != nil {
		t.Fatalf("one spelling: Total %d, Others %v, want 1 and nil", sp.Total(), sp.Others())
	}
	sp.Add("GO", 3)
	sp.Add("go", 2)
	if sp.Total() != 6 || sp.Best() != "GO" {
		t.Fatalf("Total %d Best %q, want 6 GO", sp.Total(), sp.Best())
	}
	others := sp.Others()
	if want := map[string]int64{"Go": 1, "go": 2}; !maps.Equal(others, want) {
		t.Fatalf("Others = %v, want %v", others, want)
	}

	var back Spellings
	back.AddOthers(sp.Total(), sp.Best(), others)
	back.AddOthers(4, "Go", nil)
	if back.Total() != 10 || back.Best() != "Go" {
		t.Fatalf("rebuilt and added to: Total %d Best %q, want 10 Go", back.Total(), back.Best())
	}
	if want := map[string]int64{"GO": 3, "go": 2}; !maps.Equal(back.Others(), want) {
		t.Fatalf("rebuilt Others = %v, want %v", back.Others(), want)
	}
}
