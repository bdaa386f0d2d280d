package trend

import (
	"cmp"
	"errors"
	"maps"
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// exact is the true counts of a stream and its top-n share.
type exact map[uint64]int64

func (e exact) topShare(n int) float64 {
	var counts []int64
	total := int64(0)
	for _, c := range e {
		counts = append(counts, c)
		total += c
	}
	slices.SortFunc(counts, func(a, b int64) int { return cmp.Compare(b, a) })
	sum := int64(0)
	for _, c := range counts[:min(n, len(counts))] {
		sum += c
	}
	return float64(sum) / float64(total)
}

// checkBounds checks every bound the Heavy comment promises against the
// true counts.
func checkBounds(t *testing.T, what string, h *Heavy, truth exact) {
	t.Helper()
	n, sum := int64(0), int64(0)
	for _, c := range truth {
		n += c
	}
	for _, c := range h.c {
		sum += c.Count
	}
	if h.N() != n {
		t.Fatalf("%s: N %d, want %d", what, h.N(), n)
	}
	if h.Len() > h.K() {
		t.Fatalf("%s: %d counters of %d", what, h.Len(), h.K())
	}
	if (h.Err())*int64(h.K()+1) > n-sum {
		t.Fatalf("%s: Err %d above (N − Σ)/(K+1) = (%d − %d)/%d", what, h.Err(), n, sum, h.K()+1)
	}
	for item, f := range truth {
		if low, high := h.Count(item); low > f || f > high {
			t.Fatalf("%s: item %d counted %d, bounds [%d, %d]", what, item, f, low, high)
		}
	}
	low, high := h.TopShare(TopAuthors)
	share := truth.topShare(TopAuthors)
	if share < low-1e-12 || share > high+1e-12 || high-low > float64(TopAuthors)/float64(h.K()+1)+1e-12 {
		t.Fatalf("%s: top-%d share %.4f, bounds [%.4f, %.4f], wider than %d/(K+1)", what, TopAuthors, share, low, high, TopAuthors)
	}
}

// zipf is a stream of n items drawn with Zipf exponent s over m items,
// each item a hash-like 64-bit value.
func zipf(seed int64, s float64, m uint64, n int) []uint64 {
	r := rand.New(rand.NewSource(seed))
	z := rand.NewZipf(r, s, 1, m-1)
	out := make([]uint64, n)
	for i := range out {
		out[i] = z.Uint64()*0x9E3779B97F4A7C15 + 1
	}
	return out
}

func TestASummaryHoldsItsBoundOnAZipfStream(t *testing.T) {
	for _, c := range []struct {
		name string
		s    float64
		k    int
	}{
		{"a steep stream, one summary of 32", 1.5, 32},
		{"a flat stream, one summary of 32", 1.05, 32},
		{"a flat stream, one summary of 8", 1.05, 8},
		{"a steep stream, one summary of 64", 1.5, 64},
	} {
		t.Run(c.name, func(t *testing.T) {
			stream := zipf(1, c.s, 5000, 100_000)
			truth := exact{}
			h := NewHeavy(c.k)
			for _, it := range stream {
				h.Add(it, 1)
				truth[it]++
			}
			checkBounds(t, c.name, &h, truth)
			low, high := h.TopShare(TopAuthors)
			// The upper bound is Space-Saving's estimate, the one to show:
			// with 32 counters or more it is close on these streams.
			if share := truth.topShare(TopAuthors); c.k >= DefaultCounters && high-share > 0.01 {
				t.Errorf("top-%d share %.4f estimated at most %.4f: more than a point over", TopAuthors, share, high)
			}
			t.Logf("top-%d share %.4f, estimated [%.4f, %.4f], Err %d of N %d (bound N/(K+1) = %d)",
				TopAuthors, truth.topShare(TopAuthors), low, high, h.Err(), h.N(), h.N()/int64(c.k+1))
		})
	}
}

// A stream cut into parts (tally's windows and instances, rank's buckets),
// each summarised and then merged in any order, keeps the bound.
func TestMergedSummariesHoldTheBound(t *testing.T) {
	stream := zipf(2, 1.2, 3000, 60_000)
	truth := exact{}
	for _, it := range stream {
		truth[it]++
	}
	r := rand.New(rand.NewSource(3))
	var parts []Heavy
	for i := 0; i < len(stream); {
		n := min(len(stream)-i, 1+r.Intn(3000))
		h := NewHeavy(DefaultCounters)
		if len(parts)%2 == 0 {
			for _, it := range stream[i : i+n] {
				h.Add(it, 1)
			}
		} else {
			// Weighted adds: each item of the part at once.
			part := exact{}
			for _, it := range stream[i : i+n] {
				part[it]++
			}
			for _, it := range slices.Sorted(maps.Keys(part)) {
				h.Add(it, part[it])
			}
		}
		parts = append(parts, h)
		i += n
	}
	// In order, one after the other.
	all := NewHeavy(DefaultCounters)
	for i := range parts {
		all.Merge(&parts[i])
	}
	checkBounds(t, "merged in order", &all, truth)
	// As a tree, shuffled.
	r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	for len(parts) > 1 {
		var next []Heavy
		for i := 0; i+1 < len(parts); i += 2 {
			m := parts[i].Clone()
			m.Merge(&parts[i+1])
			next = append(next, m)
		}
		if len(parts)%2 == 1 {
			next = append(next, parts[len(parts)-1])
		}
		parts = next
	}
	checkBounds(t, "merged as a shuffled tree", &parts[0], truth)
	// Into a summary of another size.
	big := NewHeavy(4 * DefaultCounters)
	big.Merge(&all)
	if big.Err() != all.Err() || big.N() != all.N() || big.Len() != all.Len() {
		t.Fatalf("a merge into an empty larger summary changed it: %d/%d/%d, want %d/%d/%d", big.Err(), big.N(), big.Len(), all.Err(), all.N(), all.Len())
	}
}

func TestASummaryIsExactWhileItHasRoom(t *testing.T) {
	cases := []struct {
		name  string
		k     int
		items []uint64
		w     []int64
	}{
		{"fewer items than counters", 4, []uint64{7, 7, 3, 9, 7}, nil},
		{"as many items as counters", 3, []uint64{1, 2, 3, 1, 2, 1}, nil},
		{"weighted adds", 2, []uint64{5, 6, 5}, []int64{10, 3, 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := NewHeavy(c.k)
			truth := exact{}
			for i, it := range c.items {
				w := int64(1)
				if c.w != nil {
					w = c.w[i]
				}
				h.Add(it, w)
				truth[it] += w
			}
			if h.Err() != 0 {
				t.Fatalf("Err %d with room for every item", h.Err())
			}
			for it, f := range truth {
				if low, high := h.Count(it); low != f || high != f {
					t.Fatalf("item %d: [%d, %d], want exactly %d", it, low, high, f)
				}
			}
		})
	}
}

func TestAFullSummaryTakesTheNextLargestOff(t *testing.T) {
	// Two counters: a 3, b 2; c comes with weight 5, so the third largest
	// (b's 2) comes off every counter.
	h := NewHeavy(2)
	h.Add(1, 3)
	h.Add(2, 2)
	h.Add(3, 5)
	top := h.Top(5)
	if h.Err() != 2 || len(top) != 2 || top[0] != (Counter{3, 3}) || top[1] != (Counter{1, 1}) {
		t.Fatalf("Err %d, top %+v; want Err 2, item 3 at 3, item 1 at 1", h.Err(), top)
	}
	checkBounds(t, "a full summary", &h, exact{1: 3, 2: 2, 3: 5})
}

func TestTheZeroSummaryTakesItsSizeFromWhatComes(t *testing.T) {
	var z Heavy
	o := NewHeavy(3)
	o.Add(1, 1)
	z.Merge(&o)
	if z.K() != 3 {
		t.Fatalf("a zero summary merged with one of 3 counters has %d", z.K())
	}
	var a Heavy
	a.Add(1, 1)
	if a.K() != DefaultCounters {
		t.Fatalf("a zero summary added to has %d counters, want %d", a.K(), DefaultCounters)
	}
}

func TestASummarySurvivesEncoding(t *testing.T) {
	h := NewHeavy(DefaultCounters)
	for _, it := range zipf(4, 1.1, 1000, 5000) {
		h.Add(it, 1)
	}
	if h.Err() == 0 {
		t.Fatal("the summary never filled: the test shows nothing")
	}
	b, err := h.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	var got Heavy
	if err := got.UnmarshalText(b); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if got.K() != h.K() || got.N() != h.N() || got.Err() != h.Err() || !slices.Equal(got.c, h.c) {
		t.Fatalf("decoded %+v, want %+v", got, h)
	}
	t.Logf("a full summary of %d counters: %d bytes as text", h.K(), len(b))
	if max := 1 + 4*10 + h.K()*(8+3); len(b) > max*4/3+1 {
		t.Fatalf("%d bytes as text, more than %d", len(b), max*4/3+1)
	}
}

func TestDecodeSummaryRejects(t *testing.T) {
	h := NewHeavy(2)
	h.Add(5, 3)
	h.Add(9, 1)
	good, _ := h.MarshalBinary()
	if err := new(Heavy).UnmarshalBinary(good); err != nil {
		t.Fatalf("the good summary: %v", err)
	}
	with := func(i int, v byte) []byte { b := slices.Clone(good); b[i] = v; return b }
	// good: version, K 2, N 4, Err 0, 2 counters, item 5 (8 bytes), 3, item 9, 1.
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"an empty value", nil},
		{"another version", with(0, 2)},
		{"no counters", with(1, 0)},
		{"more counters than K", with(4, 3)},
		{"counts above the weight", with(2, 3)},
		{"an error above the weight", with(3, 2)},
		{"a count of zero", with(13, 0)},
		{"items out of order", with(21, 4)},
		{"cut short", good[:len(good)-3]},
		{"trailing bytes", append(slices.Clone(good), 0)},
	} {
		if err := new(Heavy).UnmarshalBinary(c.b); !errors.Is(err, ErrInvalidSummary) {
			t.Errorf("%s: %v, want ErrInvalidSummary", c.name, err)
		}
	}
	if err := new(Heavy).UnmarshalText([]byte("not base64!")); err == nil || !strings.Contains(err.Error(), "invalid authors summary") {
		t.Fatalf("bad text: %v", err)
	}
}
