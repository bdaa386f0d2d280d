package tally

import (
	"hash/maphash"
	"math/bits"
	"time"

	"github.com/hashtrend/hashtrend/services/counter/internal/kafkaio"

	"github.com/hashtrend/hashtrend/pkg/post"
)

// Dedupe by post id: the last line of defence against a post that reaches
// the tweets topic twice (a source's reconnect overlap: X's backfill,
// Jetstream's cursor rewind; a producer that cannot resume). Posts are
// keyed by id, so a repeated post lands on the same partition as the
// first; a post is a duplicate when a post with the same id sits at one of
// the previous Records offsets of its partition. Duplicates are skipped
// before counting; their offsets are consumed all the same.
//
// The horizon is rebuilt from the topic itself: an assigned partition (or
// one rewound after an abort) starts Records offsets before its committed
// offset, and the posts read there are only remembered, not counted, until
// the committed offset is reached. So dedupe survives restarts,
// rebalances and aborts, and a restored horizon holds exactly what one
// kept in memory since the beginning would: the same posts at the same
// offsets.

// horizon remembers the post ids at the last size offsets of one
// partition, as 64-bit hashes (never 0): ring[o % size] is the hash of the
// post at offset o, and an open-addressing table (linear probing, deletion
// by backward shift, so no tombstones) maps each hash to its newest offset.
// An id is dropped from the table when its newest offset leaves the
// horizon, which is when its ring slot is reused; so every id in the table
// has its own slot in the ring and the table never holds more than size
// ids, whatever gaps the offsets have (transaction markers, aborted or
// undecodable records). Both are allocated once: 8 bytes of ring and 1.5
// table slots of 16 bytes per record of the horizon, 32 bytes in all.
type horizon struct {
	size  int64
	ring  []uint64
	table []entry
	n     int       // ids held
	until int64     // offsets below it are read only to be remembered
	began time.Time // when the restore up to until began
	read  int64     // records read by that restore
}

func newHorizon(size int) *horizon {
	slots := size + size/2 + 1 // at most 2/3 full
	return &horizon{size: int64(size), ring: make([]uint64, size), table: make([]entry, slots)}
}

// entry is a slot of the table: an id's hash (0: empty) and its newest
// offset, side by side so that a probe touches one cache line.
type entry struct {
	key uint64
	off int64
}

// repeated tells whether the post hashed id at offset o has an earlier
// post with the same hash among the size offsets before o, and remembers
// it at o either way.
func (h *horizon) repeated(id uint64, o int64) bool {
	i, ok := h.find(id)
	dup := ok && h.table[i].off < o && o-h.table[i].off <= h.size
	slot := o % h.size
	// The slot's old entry is at o-size or earlier: out of every later
	// post's horizon unless that id was seen again since.
	if old := h.ring[slot]; old != 0 {
		if j, found := h.find(old); found && h.table[j].off <= o-h.size {
			h.delete(j)
			i, ok = h.find(id) // entries may have moved
		}
	}
	h.ring[slot] = id
	if !ok {
		h.table[i].key = id
		h.n++
	}
	h.table[i].off = o
	return dup
}

// home is the table slot where the probe for k begins.
func (h *horizon) home(k uint64) int {
	hi, _ := bits.Mul64(k, uint64(len(h.table)))
	return int(hi)
}

// find returns the slot holding k, or the empty slot where it would go.
func (h *horizon) find(k uint64) (int, bool) {
	for i := h.home(k); ; {
		switch h.table[i].key {
		case k:
			return i, true
		case 0:
			return i, false
		}
		if i++; i == len(h.table) {
			i = 0
		}
	}
}

// delete empties slot i and moves later entries of its probe run back, so
// that every entry stays reachable from its home slot.
func (h *horizon) delete(i int) {
	for j := i; ; {
		if j++; j == len(h.table) {
			j = 0
		}
		if h.table[j].key == 0 {
			break
		}
		// The entry at j may fill the hole at i unless its home lies
		// cyclically in (i, j].
		k := h.home(h.table[j].key)
		if i <= j && (k <= i || k > j) || i > j && k <= i && k > j {
			h.table[i] = h.table[j]
			i = j
		}
	}
	h.table[i].key = 0
	h.n--
}

// dedupe is a stage's horizons, one per assigned partition.
type dedupe struct {
	size  int // 0: off
	seed  maphash.Seed
	parts map[int32]*horizon
}

func newDedupe(size int) *dedupe {
	return &dedupe{size: size, seed: maphash.MakeSeed(), parts: map[int32]*horizon{}}
}

// from is called with the committed offsets of partitions the stage is
// about to read from there (assigned, or rewound after an abort) and
// returns where to read them from instead: size offsets earlier, so that
// their horizons are rebuilt before anything is counted.
func (d *dedupe) from(committed []kafkaio.Offset) []kafkaio.Offset {
	if d.size == 0 {
		return committed
	}
	out := make([]kafkaio.Offset, len(committed))
	for i, tp := range committed {
		h := newHorizon(d.size)
		d.parts[tp.Partition] = h
		if tp.Offset > 0 {
			h.until, h.began = tp.Offset, time.Now()
			tp.Offset = max(tp.Offset-int64(d.size), 0)
		}
		out[i] = tp
	}
	return out
}

// forget drops the horizons of partitions the stage no longer reads.
func (d *dedupe) forget(parts []int32) {
	for _, p := range parts {
		delete(d.parts, p)
	}
}

// restoring tells whether r was read only to rebuild its partition's
// horizon, and remembers its post if so. done is set to the partition's
// restore figures when r is the last such record.
func (d *dedupe) restoring(r kafkaio.Record) (yes bool, done *horizon) {
	h := d.parts[r.Partition]
	if h == nil || h.until == 0 {
		return false, nil
	}
	o := r.Offset
	if o >= h.until { // the records before it were markers or aborted
		h.until = 0
		return false, h
	}
	h.read++
	if k, ok := d.key(r, ""); ok {
		h.repeated(k, o)
	}
	if o+1 == h.until {
		h.until = 0
		return true, h
	}
	return true, nil
}

// repeated tells whether the post id at r's offset is a duplicate within
// its partition's horizon, and remembers it.
func (d *dedupe) repeated(r kafkaio.Record, id string) bool {
	h := d.parts[r.Partition]
	if h == nil {
		return false
	}
	k, _ := d.key(r, id)
	return h.repeated(k, r.Offset)
}

// key is the hash that stands for r's post in a horizon: of the record key,
// which ingest sets to the post id (so a restore reads the horizon back
// without decoding a single post), or of the post id for a record without
// a key. id is the decoded post id where the caller has it; without it a
// keyless record is decoded here, and ok is false when it is no post.
func (d *dedupe) key(r kafkaio.Record, id string) (k uint64, ok bool) {
	if len(r.Key) > 0 {
		return nonzero(maphash.Bytes(d.seed, r.Key)), true
	}
	if id == "" {
		p, err := post.Decode(r.Value)
		if err != nil {
			return 0, false
		}
		id = p.ID
	}
	return d.hash(id), true
}

// hash is a 64-bit hash of a post id; maphash gives a string and the same
// bytes as a record key the same hash. The seed is random per stage: a
// restored horizon hashes the ids again, and nobody can craft ids that
// collide. With at most size ids remembered per partition, a new id is
// taken for a duplicate with probability size / 2^64 (1e5 ids: 5e-15).
func (d *dedupe) hash(id string) uint64 { return nonzero(maphash.String(d.seed, id)) }

// nonzero keeps a hash off 0, which marks an empty slot.
func nonzero(k uint64) uint64 {
	if k != 0 {
		return k
	}
	return 1
}

// remembered is the number of ids held over all partitions.
func (d *dedupe) remembered() int {
	n := 0
	for _, h := range d.parts {
		n += h.n
	}
	return n
}

// restoring tells whether r was read only to rebuild its partition's
// dedupe horizon, and logs the end of each partition's restore.
func (s *Stage) restoring(r kafkaio.Record) bool {
	yes, done := s.dedupe.restoring(r)
	if done != nil {
		s.m.DedupeRestored.Add(float64(done.read))
		s.log.Info("dedupe horizon restored", "partition", r.Partition,
			"records", done.read, "ids", done.n, "took", time.Since(done.began).Round(time.Millisecond))
	}
	return yes
}
