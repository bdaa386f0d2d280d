package hll

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand"
	"strconv"
	"testing"
)

func sketchOf(values ...string) *Sketch {
	var s Sketch
	for _, v := range values {
		s.AddString(v)
	}
	return &s
}

func authors(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

// The error bound in the package comment, measured: for each cardinality,
// 20 independent sets of distinct values against their exact count.
func TestEstimatesStayWithinTheDocumentedErrorBound(t *testing.T) {
	if testing.Short() {
		t.Skip("measures up to 1,000,000 values")
	}
	for _, n := range []int{1, 5, 50, 500, 1024, 1025, 3000, 10_000, 50_000, 200_000, 1_000_000} {
		trials := 20
		if n >= 200_000 {
			trials = 4
		}
		var sumSq, worst float64
		for trial := range trials {
			var s Sketch
			for _, v := range authors("t"+strconv.Itoa(trial)+"-", n) {
				s.AddString(v)
				s.AddString(v) // duplicates change nothing
			}
			rel := (s.Estimate() - float64(n)) / float64(n)
			sumSq += rel * rel
			worst = max(worst, math.Abs(rel))
		}
		rmse := math.Sqrt(sumSq / float64(trials))
		t.Logf("n=%7d: relative error rms %.4f, worst %.4f", n, rmse, worst)
		if n <= sparseMax {
			// Sparse: exact but for 25-bit collisions.
			if worst > 0.002 && worst*float64(n) > 0.5 {
				t.Errorf("n=%d: sparse estimate off by %.4f", n, worst)
			}
			continue
		}
		if worst > 4*StandardError {
			t.Errorf("n=%d: worst relative error %.4f above 4σ = %.4f", n, worst, 4*StandardError)
		}
		if trials >= 20 && rmse > 1.6*StandardError {
			t.Errorf("n=%d: rms relative error %.4f above 1.6 × %.4f", n, rmse, StandardError)
		}
	}
}

func TestSmallCountsAreExact(t *testing.T) {
	for n := range 200 {
		s := sketchOf(authors("a", n)...)
		if got := math.Round(s.Estimate()); got != float64(n) {
			t.Fatalf("%d distinct values estimated as %v", n, s.Estimate())
		}
	}
}

func TestOneAuthorPostingAThousandTimesIsOne(t *testing.T) {
	var s Sketch
	for range 1000 {
		s.AddString("flooder")
	}
	if got := math.Round(s.Estimate()); got != 1 {
		t.Fatalf("estimate %v, want 1", s.Estimate())
	}
}

// Merging is the union: the merged sketch equals the sketch of all values,
// byte for byte, whichever forms the two sides have.
func TestMergeIsTheSketchOfTheUnion(t *testing.T) {
	cases := []struct {
		name string
		a, b []string
	}{
		{"two empty sketches", nil, nil},
		{"sparse into empty", nil, authors("x", 10)},
		{"sparse and sparse, overlapping", authors("x", 300), authors("x", 500)},
		{"two sparse sketches that become dense together", authors("a", 900), authors("b", 900)},
		{"sparse into dense", authors("a", 5000), authors("b", 40)},
		{"dense into sparse", authors("b", 40), authors("a", 5000)},
		{"dense and dense", authors("a", 5000), authors("b", 7000)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := sketchOf(c.a...), sketchOf(c.b...)
			want := sketchOf(append(append([]string{}, c.a...), c.b...)...)
			a.Merge(b)
			ga, _ := a.MarshalBinary()
			gw, _ := want.MarshalBinary()
			if !bytes.Equal(ga, gw) && !(a.dense != nil && want.dense == nil && bytes.Equal(a.dense, denseCopy(want))) {
				t.Fatalf("merged sketch differs from the union's (estimates %v and %v)", a.Estimate(), want.Estimate())
			}
		})
	}
}

// denseCopy is want's registers in dense form.
func denseCopy(s *Sketch) []uint8 {
	c := s.Clone()
	c.toDense()
	return c.dense
}

func TestTheOrderOfValuesDoesNotMatter(t *testing.T) {
	vals := authors("o", 3000)
	for _, n := range []int{10, 1000, 3000} {
		fwd, rev := sketchOf(vals[:n]...), &Sketch{}
		rnd := rand.New(rand.NewSource(int64(n)))
		for _, i := range rnd.Perm(n) {
			rev.AddString(vals[i])
		}
		a, _ := fwd.MarshalBinary()
		b, _ := rev.MarshalBinary()
		if !bytes.Equal(a, b) {
			t.Fatalf("n=%d: the same values in another order give another sketch", n)
		}
	}
}

func TestEncodingRoundTrips(t *testing.T) {
	for _, n := range []int{0, 1, 100, sparseMax, sparseMax + 1, 20_000} {
		s := sketchOf(authors("r", n)...)
		j, err := json.Marshal(map[string]Sketch{"s": *s})
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]Sketch
		if err := json.Unmarshal(j, &back); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		got := back["s"]
		if got.Estimate() != s.Estimate() {
			t.Fatalf("n=%d: estimate %v after a round trip, %v before", n, got.Estimate(), s.Estimate())
		}
		if n == 1 && len(j) > 40 {
			t.Errorf("a one-author sketch takes %d bytes of JSON: %s", len(j), j)
		}
	}
}

func TestDecodingRejectsWhatIsNotASketch(t *testing.T) {
	dense := append([]byte{encodingVer, encDense}, make([]byte, registers)...)
	bad := dense[:len(dense)-1]
	tooHigh := append([]byte{}, dense...)
	tooHigh[10] = maxRank + 1
	cases := map[string][]byte{
		"empty":                             {},
		"a wrong version":                   {9, encSparse, 0},
		"an unknown form":                   {encodingVer, 7, 0},
		"a short dense sketch":              bad,
		"a register above the largest rank": tooHigh,
		"a sparse entry without rank":       {encodingVer, encSparse, 1, 64},
		"the same index twice":              {encodingVer, encSparse, 2, 65, 1},
		"trailing bytes":                    {encodingVer, encSparse, 1, 65, 0},
		"a truncated list":                  {encodingVer, encSparse, 3, 65},
	}
	for name, b := range cases {
		var s Sketch
		if err := s.UnmarshalBinary(b); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err %v, want ErrInvalid", name, err)
		}
	}
	var s Sketch
	if err := s.UnmarshalText([]byte("not base64!")); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad base64: err %v", err)
	}
}

func TestASketchIsSmallUntilItIsDense(t *testing.T) {
	one := sketchOf("a")
	if b := one.Bytes(); b > 64 {
		t.Errorf("one value takes %d bytes", b)
	}
	big := sketchOf(authors("d", 100_000)...)
	if b := big.Bytes(); b > registers+64 {
		t.Errorf("a dense sketch takes %d bytes", b)
	}
}

func BenchmarkAdd(b *testing.B) {
	vals := authors("b", 4096)
	var s Sketch
	for i := 0; b.Loop(); i++ {
		s.AddString(vals[i%len(vals)])
	}
}
