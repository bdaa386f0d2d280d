package tally

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/services/counter/internal/kafkaio"

	"github.com/hashtrend/hashtrend/pkg/post"
)

func TestHorizon(t *testing.T) {
	type rec struct {
		id     uint64
		offset int64
		dup    bool
	}
	tests := []struct {
		name string
		size int
		recs []rec
	}{
		{"different ids are never duplicates", 4,
			[]rec{{1, 0, false}, {2, 1, false}, {3, 2, false}, {4, 3, false}, {5, 4, false}}},
		{"an id again at the next offset is a duplicate", 4,
			[]rec{{1, 0, false}, {1, 1, true}}},
		{"an id again size offsets later is a duplicate", 4,
			[]rec{{1, 0, false}, {2, 1, false}, {3, 2, false}, {4, 3, false}, {1, 4, true}}},
		{"an id again size+1 offsets later is new", 4,
			[]rec{{1, 0, false}, {2, 1, false}, {3, 2, false}, {4, 3, false}, {5, 4, false}, {1, 5, false}}},
		{"a duplicate keeps its id in the horizon from its own offset", 4,
			[]rec{{1, 0, false}, {1, 3, true}, {2, 4, false}, {3, 5, false}, {1, 6, true}, {1, 11, false}}},
		{"offsets without a post (markers, aborted records) count as records", 4,
			[]rec{{1, 0, false}, {2, 3, false}, {1, 5, false}}},
		{"a gap wider than the horizon forgets everything before it", 3,
			[]rec{{1, 0, false}, {2, 1, false}, {3, 2, false}, {4, 100, false}, {1, 101, false}, {2, 102, false}, {4, 103, true}}},
		{"an id evicted from its slot stays remembered when seen again since", 2,
			[]rec{{7, 0, false}, {7, 1, true}, {8, 2, false}, {7, 3, true}}},
		{"a horizon of one catches only the id just before", 1,
			[]rec{{1, 0, false}, {1, 1, true}, {2, 2, false}, {1, 3, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHorizon(tt.size)
			for _, r := range tt.recs {
				if got := h.repeated(r.id, r.offset); got != r.dup {
					t.Fatalf("id %d at offset %d: duplicate %v, want %v", r.id, r.offset, got, r.dup)
				}
				if h.n > tt.size {
					t.Fatalf("after offset %d: %d ids remembered, more than the horizon %d", r.offset, h.n, tt.size)
				}
			}
		})
	}
}

// TestHorizonAgainstTheRuleItImplements compares the horizon with the rule
// written out the slow way, on a sequence with many repeats and gaps.
func TestHorizonAgainstTheRuleItImplements(t *testing.T) {
	const size, n = 50, 20_000
	h := newHorizon(size)
	at := map[uint64][]int64{} // id → offsets seen
	o := int64(0)
	for i := range n {
		id := uint64(i*7919%97) + uint64(i/5000)*1000 + 1 // 97 ids per phase, repeating
		o += 1 + int64(i%3)/2                             // every other offset or so is a gap
		want := false
		for _, prev := range at[id] {
			if o-prev <= size {
				want = true
			}
		}
		at[id] = append(at[id], o)
		if got := h.repeated(id, o); got != want {
			t.Fatalf("record %d (id %d, offset %d): duplicate %v, want %v", i, id, o, got, want)
		}
		if h.n > size {
			t.Fatalf("record %d: %d ids remembered for a horizon of %d", i, h.n, size)
		}
	}
}

// heapAfter returns the live heap once f has run and what it built is
// still reachable.
func heapAfter(f func() any) (uint64, any) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := f()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc), v
}

// TestHorizonMemoryIsBounded: a horizon that has seen ten times its size
// in distinct ids holds no more memory than one that has seen its size.
func TestHorizonMemoryIsBounded(t *testing.T) {
	const size = 100_000
	fill := func(n int) func() any {
		return func() any {
			h := newHorizon(size)
			for i := range n {
				h.repeated(uint64(i)*0x9e3779b97f4a7c15+1, int64(i))
			}
			return h
		}
	}
	once, h1 := heapAfter(fill(size))
	tenfold, h2 := heapAfter(fill(10 * size))
	t.Logf("horizon of %d: %d bytes after %d ids (%.1f per id), %d after %d ids", size, once, size, float64(once)/size, tenfold, 10*size)
	if float64(tenfold) > 1.25*float64(once) {
		t.Fatalf("memory grew with the ids seen: %d bytes after %d ids, %d after %d", once, size, tenfold, 10*size)
	}
	runtime.KeepAlive(h1)
	runtime.KeepAlive(h2)
}

func TestDedupeRestoresBeforeTheCommittedOffset(t *testing.T) {
	d := newDedupe(1000)
	got := d.from([]kafkaio.Offset{
		{Partition: 0, Offset: 5000},
		{Partition: 1, Offset: 300},
		{Partition: 2, Offset: kafkaio.Beginning},
	})
	want := []int64{4000, 0, kafkaio.Beginning}
	for i, tp := range got {
		if tp.Offset != want[i] || tp.Partition != int32(i) {
			t.Errorf("partition %d starts at %v, want %v", tp.Partition, tp.Offset, want[i])
		}
	}
	msg := func(part int32, o int64, id string) kafkaio.Record {
		v := `{"v":1,"id":"` + id + `","source":"s","created_at":"2024-01-01T00:00:00Z","text":"#x"}`
		return kafkaio.Record{Partition: part, Offset: o, Value: []byte(v)}
	}
	// Partition 0: offsets 4000..4999 are only remembered.
	if yes, done := d.restoring(msg(0, 4000, "a")); !yes || done != nil {
		t.Fatalf("offset 4000 of 5000: restoring %v, done %v", yes, done)
	}
	if yes, done := d.restoring(msg(0, 4999, "b")); !yes || done == nil || done.read != 2 {
		t.Fatalf("offset 4999 of 5000: restoring %v, done %+v", yes, done)
	}
	if yes, _ := d.restoring(msg(0, 5000, "a")); yes {
		t.Fatal("the committed offset is counted, not restored")
	}
	if !d.repeated(msg(0, 5000, "a"), "a") {
		t.Fatal("an id restored before the committed offset is not caught after it")
	}
	if d.repeated(msg(0, 5001, "c"), "c") {
		t.Fatal("a new id is taken for a duplicate")
	}
	// Partition 1: the restore ends at the first record at or past the
	// committed offset when the last ones before it are not delivered.
	d.restoring(msg(1, 10, "p1"))
	if yes, done := d.restoring(msg(1, 302, "z")); yes || done == nil || done.read != 1 {
		t.Fatalf("first record past the committed offset: restoring %v, done %+v", yes, done)
	}
	if d.repeated(msg(1, 302, "a"), "a") {
		t.Fatal("an id of another partition's horizon is taken for a duplicate")
	}
	// Partition 2 had nothing committed: nothing to restore.
	if yes, done := d.restoring(msg(2, 0, "a")); yes || done != nil {
		t.Fatalf("partition without a committed offset: restoring %v, done %v", yes, done)
	}
	d.forget([]int32{got[0].Partition})
	if d.repeated(msg(0, 5002, "a"), "a") {
		t.Fatal("a forgotten partition still dedupes")
	}
	if n := d.remembered(); n != 2 {
		t.Fatalf("%d ids remembered, want 2 (partition 1: p1 and a)", n)
	}
}

func TestDedupeOffChangesNothing(t *testing.T) {
	d := newDedupe(0)
	in := []kafkaio.Offset{{Partition: 0, Offset: 5000}}
	if got := d.from(in); got[0].Offset != 5000 {
		t.Fatalf("with dedupe off partition 0 starts at %v, want the committed 5000", got[0].Offset)
	}
	m := kafkaio.Record{Partition: 0, Offset: 5000}
	if yes, _ := d.restoring(m); yes || d.repeated(m, "a") || d.repeated(m, "a") {
		t.Fatal("dedupe off skipped a record")
	}
}

func BenchmarkHorizon(b *testing.B) {
	const size = 100_000
	ids := make([]string, 4*size)
	for i := range ids {
		ids[i] = strconv.Itoa(1_900_000_000_000_000_000 + i*7)
	}
	d := newDedupe(size)
	h := newHorizon(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.repeated(d.hash(ids[i%len(ids)]), int64(i))
	}
}

// TestARewoundPartitionForgetsTheAbortedWindow: after an abort the stage
// rewinds to the committed offset through from, and the posts of the
// aborted window, read again, are counted, not taken for duplicates.
func TestARewoundPartitionForgetsTheAbortedWindow(t *testing.T) {
	d := newDedupe(1000)
	committed := []kafkaio.Offset{{Partition: 0, Offset: 100}}
	msg := func(o int64, id string) kafkaio.Record {
		v := `{"v":1,"id":"` + id + `","source":"s","created_at":"2024-01-01T00:00:00Z","text":"#x"}`
		return kafkaio.Record{Partition: 0, Offset: o, Value: []byte(v)}
	}
	read := func(what string) {
		from := d.from(committed)
		for o := from[0].Offset; o < 110; o++ {
			id := strconv.Itoa(int(o))
			if yes, _ := d.restoring(msg(o, id)); yes {
				continue
			}
			if d.repeated(msg(o, id), id) {
				t.Fatalf("%s: post %s at offset %d taken for a duplicate", what, id, o)
			}
		}
	}
	read("first reading")
	read("reading again after the abort")
}

// TestAPostIsTheSameIDWhetherReadByKeyOrDecoded: a restore takes the id
// from the record key without decoding, the counting path has the decoded
// id; both must give one hash, and a keyless record falls back to its post.
func TestAPostIsTheSameIDWhetherReadByKeyOrDecoded(t *testing.T) {
	d := newDedupe(10)
	p := post.Post{ID: "at://did:plc:abc/app.bsky.feed.post/3k", Source: "bluesky", CreatedAt: time.Unix(1, 0).UTC(), Text: "x"}
	value, err := post.Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	keyed, ok := d.key(kafkaio.Record{Key: []byte(p.ID), Value: []byte("not even json")}, "")
	if !ok {
		t.Fatal("a keyed record was decoded")
	}
	counted, _ := d.key(kafkaio.Record{Key: []byte(p.ID), Value: value}, p.ID)
	keyless, ok := d.key(kafkaio.Record{Value: value}, "")
	if !ok || keyed != counted || keyed != keyless || keyed != d.hash(p.ID) {
		t.Fatalf("hashes differ: keyed %x, counted %x, keyless %x (ok %v)", keyed, counted, keyless, ok)
	}
	if _, ok := d.key(kafkaio.Record{Value: []byte("{")}, ""); ok {
		t.Fatal("a keyless record that is no post gave an id")
	}
}
