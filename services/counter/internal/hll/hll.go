// Package hll is a mergeable HyperLogLog sketch: an estimate of how many
// distinct values (here: authors of a hashtag in one time bucket) were
// added, in at most 4 KiB whatever the number of values, such that two
// sketches merge into the sketch of the union. tally fills one per hashtag
// per bucket and carries it in its deltas; rank merges them over the recent
// and baseline windows of the trending score.
//
// Precision 12: 4,096 one-byte registers, standard error 1.04/√4096 ≈ 1.6 %
// of the count (so 99.7 % of estimates within ±4.9 %). Small sketches are
// kept sparse, as in HyperLogLog++ (Heule, Nunkesser, Hall, 2013): a sorted
// list of 25-bit register indexes with their ranks, one 4-byte entry per
// distinct value, turned into the dense registers past 1,024 entries. A
// sparse sketch counts by linear counting over 2²⁵ registers and is exact
// in all but a vanishing number of cases (two values colliding in 25 bits:
// about n²/2²⁶, 0.016 for n = 1,024). Dense estimates use Ertl's improved
// estimator ("New cardinality estimation algorithms for HyperLogLog
// sketches", 2017), which needs no bias tables and holds its error bound
// over the whole range. The figures are measured against exact counts in
// hll_test.go.
//
// Values are hashed with xxHash64, fixed across processes and versions,
// so sketches written by one instance merge with another's.
package hll

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/cespare/xxhash/v2"
)

const (
	// Precision is the number of index bits of the dense registers.
	Precision = 12
	// StandardError is the relative standard error of a dense estimate.
	StandardError = 1.04 / 64 // 1.04/√(2^Precision)

	registers   = 1 << Precision
	sparseBits  = 25 // index bits of a sparse entry
	rhoBits     = 6  // rank bits of a sparse entry
	sparseMax   = registers / 4
	maxRank     = 64 - Precision + 1 // a dense register's largest value
	maxRankLow  = 64 - sparseBits + 1
	lowBits     = sparseBits - Precision
	encSparse   = 0
	encDense    = 1
	encodingVer = 1
)

// Sketch is one HyperLogLog sketch. The zero value is an empty sketch.
type Sketch struct {
	sparse []uint32 // sorted by index, one entry per index: index<<rhoBits | rank
	dense  []uint8  // nil while sparse
}

// Hash is the hash of a value as Add takes it.
func Hash(v string) uint64 { return xxhash.Sum64String(v) }

// HashBytes is Hash of a value held in bytes.
func HashBytes(v []byte) uint64 { return xxhash.Sum64(v) }

// AddString adds the value v.
func (s *Sketch) AddString(v string) { s.Add(Hash(v)) }

// Add adds a value by its 64-bit hash.
func (s *Sketch) Add(h uint64) {
	if s.dense != nil {
		s.addDense(h)
		return
	}
	idx := uint32(h >> (64 - sparseBits))
	rank := min(bits.LeadingZeros64(h<<sparseBits)+1, maxRankLow)
	s.addSparse(idx<<rhoBits | uint32(rank))
	if len(s.sparse) > sparseMax {
		s.toDense()
	}
}

func (s *Sketch) addDense(h uint64) {
	idx := h >> (64 - Precision)
	rank := uint8(min(bits.LeadingZeros64(h<<Precision)+1, maxRank))
	if rank > s.dense[idx] {
		s.dense[idx] = rank
	}
}

// addSparse inserts entry e, keeping the larger rank of an index.
func (s *Sketch) addSparse(e uint32) {
	idx := e >> rhoBits
	i, _ := slices.BinarySearchFunc(s.sparse, idx, func(x, t uint32) int { return int(x>>rhoBits) - int(t) })
	if i < len(s.sparse) && s.sparse[i]>>rhoBits == idx {
		s.sparse[i] = max(s.sparse[i], e)
		return
	}
	s.sparse = slices.Insert(s.sparse, i, e)
}

// denseOf maps a sparse entry to its dense register and rank.
func denseOf(e uint32) (int, uint8) {
	idx := e >> rhoBits
	low := idx & (1<<lowBits - 1)
	if low != 0 {
		return int(idx >> lowBits), uint8(lowBits - bits.Len32(low) + 1)
	}
	return int(idx >> lowBits), uint8(lowBits + e&(1<<rhoBits-1))
}

func (s *Sketch) toDense() {
	s.dense = make([]uint8, registers)
	for _, e := range s.sparse {
		r, rank := denseOf(e)
		s.dense[r] = max(s.dense[r], rank)
	}
	s.sparse = nil
}

// Merge adds every value of o to s: s becomes the sketch of the union.
func (s *Sketch) Merge(o *Sketch) {
	switch {
	case o.dense != nil:
		if s.dense == nil {
			s.toDense()
		}
		for i, v := range o.dense {
			s.dense[i] = max(s.dense[i], v)
		}
	case s.dense != nil:
		for _, e := range o.sparse {
			r, rank := denseOf(e)
			s.dense[r] = max(s.dense[r], rank)
		}
	default:
		s.sparse = mergeSparse(s.sparse, o.sparse)
		if len(s.sparse) > sparseMax {
			s.toDense()
		}
	}
}

func mergeSparse(a, b []uint32) []uint32 {
	if len(b) == 0 {
		return a
	}
	out := make([]uint32, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ia, ib := a[i]>>rhoBits, b[j]>>rhoBits
		switch {
		case ia < ib:
			out = append(out, a[i])
			i++
		case ib < ia:
			out = append(out, b[j])
			j++
		default:
			out = append(out, max(a[i], b[j]))
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return slices.Clip(append(out, b[j:]...))
}

// Clone returns an independent copy of s.
func (s *Sketch) Clone() Sketch {
	return Sketch{sparse: slices.Clone(s.sparse), dense: slices.Clone(s.dense)}
}

// Empty reports whether nothing was added.
func (s *Sketch) Empty() bool { return s.dense == nil && len(s.sparse) == 0 }

// Estimate is the estimated number of distinct values added.
func (s *Sketch) Estimate() float64 {
	if s.dense == nil {
		// Linear counting over the 2^25 sparse registers.
		m := float64(uint64(1) << sparseBits)
		return m * math.Log(m/(m-float64(len(s.sparse))))
	}
	return ertl(s.dense)
}

// ertl is the improved raw estimator of Ertl (2017), algorithm 6.
func ertl(regs []uint8) float64 {
	const q = 64 - Precision
	var c [q + 2]int
	for _, v := range regs {
		c[v]++
	}
	m := float64(len(regs))
	z := m * tau(1-float64(c[q+1])/m)
	for k := q; k >= 1; k-- {
		z = 0.5 * (z + float64(c[k]))
	}
	z += m * sigma(float64(c[0])/m)
	return m * m / (2 * math.Ln2 * z)
}

func sigma(x float64) float64 {
	if x == 1 {
		return math.Inf(1)
	}
	y, z := 1.0, x
	for {
		x *= x
		prev := z
		z += x * y
		y += y
		if z == prev {
			return z
		}
	}
}

func tau(x float64) float64 {
	if x == 0 || x == 1 {
		return 0
	}
	y, z := 1.0, 1-x
	for {
		x = math.Sqrt(x)
		prev := z
		y *= 0.5
		z -= (1 - x) * (1 - x) * y
		if z == prev {
			return z / 3
		}
	}
}

// Bytes is the memory the sketch holds, its header included.
func (s *Sketch) Bytes() int { return 48 + 4*cap(s.sparse) + cap(s.dense) }

// ErrInvalid marks bytes that are not an encoded sketch.
var ErrInvalid = errors.New("invalid sketch")

// MarshalBinary encodes s: a version byte, a form byte, then either the
// sparse entries as a count and ascending gaps (uvarints) or the 4,096
// dense registers.
func (s *Sketch) MarshalBinary() ([]byte, error) {
	if s.dense != nil {
		return append([]byte{encodingVer, encDense}, s.dense...), nil
	}
	b := binary.AppendUvarint([]byte{encodingVer, encSparse}, uint64(len(s.sparse)))
	prev := uint32(0)
	for _, e := range s.sparse {
		b = binary.AppendUvarint(b, uint64(e-prev))
		prev = e
	}
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary wrote, strictly.
func (s *Sketch) UnmarshalBinary(b []byte) error {
	*s = Sketch{}
	if len(b) < 2 || b[0] != encodingVer {
		return fmt.Errorf("%w: no version %d header", ErrInvalid, encodingVer)
	}
	switch b[1] {
	case encDense:
		if len(b) != 2+registers {
			return fmt.Errorf("%w: %d dense registers, want %d", ErrInvalid, len(b)-2, registers)
		}
		for i, v := range b[2:] {
			if v > maxRank {
				return fmt.Errorf("%w: register %d holds %d", ErrInvalid, i, v)
			}
		}
		s.dense = slices.Clone(b[2:])
		return nil
	case encSparse:
		b = b[2:]
		n, k := binary.Uvarint(b)
		if k <= 0 || n > sparseMax {
			return fmt.Errorf("%w: sparse length", ErrInvalid)
		}
		b = b[k:]
		s.sparse = make([]uint32, 0, n)
		prev := uint64(0)
		for i := range n {
			gap, k := binary.Uvarint(b)
			if k <= 0 || (i > 0 && gap == 0) {
				return fmt.Errorf("%w: sparse entry %d", ErrInvalid, i)
			}
			b = b[k:]
			e := prev + gap
			rank := e & (1<<rhoBits - 1)
			if e >= 1<<(sparseBits+rhoBits) || rank == 0 || rank > maxRankLow ||
				(i > 0 && e>>rhoBits == prev>>rhoBits) {
				return fmt.Errorf("%w: sparse entry %d: %#x", ErrInvalid, i, e)
			}
			s.sparse = append(s.sparse, uint32(e))
			prev = e
		}
		if len(b) != 0 {
			return fmt.Errorf("%w: %d trailing bytes", ErrInvalid, len(b))
		}
		return nil
	}
	return fmt.Errorf("%w: form %d", ErrInvalid, b[1])
}

// MarshalText is the base64 of MarshalBinary, so that a sketch is a JSON
// string.
func (s Sketch) MarshalText() ([]byte, error) {
	b, _ := s.MarshalBinary()
	out := make([]byte, base64.RawStdEncoding.EncodedLen(len(b)))
	base64.RawStdEncoding.Encode(out, b)
	return out, nil
}

// UnmarshalText decodes what MarshalText wrote.
func (s *Sketch) UnmarshalText(t []byte) error {
	b := make([]byte, base64.RawStdEncoding.DecodedLen(len(t)))
	n, err := base64.RawStdEncoding.Decode(b, t)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return s.UnmarshalBinary(b[:n])
}
