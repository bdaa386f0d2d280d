package rank

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
)

// keys holds the table's hashtag keys and single spellings without a Go
// string or a pointer per hashtag: each hashtag's key and spelling are one
// record in large chunks of bytes (an arena that only grows), and the
// index from a key to its id is an open-addressing table of 32-bit slots,
// each holding an id and 5 bits of its key's hash, so that a probe that
// misses reads a key only once in 32 times. The garbage collector sees a
// few pointer-free slices, not millions of objects, and a million
// hashtags cost their bytes, two or three bytes of lengths and about 8
// bytes of index each.
type keys struct {
	chunks [][]byte // each chunkSize long at most; records never cross chunks
	long   [][]byte // the rare record longer than a quarter chunk, by itself
	seed   maphash.Seed
	slots  []uint32 // tag<<idBits | id+1 of the key hashed there, 0 for free
	used   int
	warm   uint32 // what grow read ahead, kept so the reads are not left out
}

// A slot holds an id+1 in its low idBits and the top bits of its key's
// hash above them; ids therefore go up to 2^27-2 (134 million).
const (
	idBits = 27
	idMask = 1<<idBits - 1
)

func slotOf(h uint64, id uint32) uint32 {
	if id+1 > idMask {
		panic(fmt.Sprintf("rank: more than %d hashtags", idMask-1))
	}
	return uint32(h>>(64-(32-idBits)))<<idBits | (id + 1)
}

// chunkSize bounds each arena chunk: large enough that a chunk is one
// allocation for tens of thousands of hashtags, small enough that growing
// never copies what is already held.
const chunkSize = 1 << 20

// ref locates a record: chunk×chunkSize+position, or an index into long
// when it has the long bit. The arena therefore holds up to 2 GiB of keys
// and spellings: some 90 million hashtags.
type ref uint32

const longBit = 1 << 31

// A record is uvarint(len(key)<<1 | sameBit), the key, and, unless the
// hashtag is spelled as its key, uvarint(len(spelling)) and the spelling.
const sameBit = 1

func newKeys() keys {
	return keys{seed: maphash.MakeSeed(), slots: make([]uint32, 1024)}
}

// put copies key and its spelling into the arena and returns where they are.
func (k *keys) put(key, spelling []byte) ref {
	same := bytes.Equal(key, spelling)
	head := uint64(len(key)) << 1
	size := uvarintLen(head) + len(key)
	if same {
		head |= sameBit
	} else {
		size += uvarintLen(uint64(len(spelling))) + len(spelling)
	}
	appendRecord := func(b []byte) []byte {
		b = binary.AppendUvarint(b, head)
		b = append(b, key...)
		if !same {
			b = binary.AppendUvarint(b, uint64(len(spelling)))
			b = append(b, spelling...)
		}
		return b
	}
	if size > chunkSize/4 {
		k.long = append(k.long, appendRecord(make([]byte, 0, size)))
		return ref(longBit | (len(k.long) - 1))
	}
	last := len(k.chunks) - 1
	if last < 0 || len(k.chunks[last])+size > chunkSize {
		if (last+1)*chunkSize >= longBit {
			panic(fmt.Sprintf("rank: more than %d bytes of hashtag keys", longBit))
		}
		k.chunks = append(k.chunks, make([]byte, 0, chunkSize))
		last++
	}
	at := len(k.chunks[last])
	// The chunk never grows past its capacity, so key and spelling may
	// be bytes of this same chunk (a record written again).
	k.chunks[last] = appendRecord(k.chunks[last])
	return ref(last*chunkSize + at)
}

func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// record returns the bytes from r's record to the end of its chunk.
func (k *keys) record(r ref) []byte {
	if r&longBit != 0 {
		return k.long[r&^longBit]
	}
	return k.chunks[r/chunkSize][r%chunkSize:]
}

// key returns the key of r's record; it must not be changed.
func (k *keys) key(r ref) []byte {
	b := k.record(r)
	head, n := binary.Uvarint(b)
	l := n + int(head>>1)
	return b[n:l:l]
}

// spelling returns the spelling of r's record; it must not be changed.
func (k *keys) spelling(r ref) []byte {
	b := k.record(r)
	head, n := binary.Uvarint(b)
	l := n + int(head>>1)
	if head&sameBit != 0 {
		return b[n:l:l]
	}
	b = b[l:]
	sl, n := binary.Uvarint(b)
	l = n + int(sl)
	return b[n:l:l]
}

func (k *keys) hash(key []byte) uint64 { return maphash.Bytes(k.seed, key) }

// find returns the slot of key: the one holding its id, or the free slot
// where it would go. keyOf returns the key bytes of an id.
func (k *keys) find(key []byte, keyOf func(id uint32) []byte) (slot int, id uint32, ok bool) {
	return k.probe(k.hash(key), key, keyOf)
}

// probe is find for a key whose hash is h.
func (k *keys) probe(h uint64, key []byte, keyOf func(id uint32) []byte) (slot int, id uint32, ok bool) {
	mask := len(k.slots) - 1
	tag := slotOf(h, 0) &^ idMask
	for i := int(h) & mask; ; i = (i + 1) & mask {
		v := k.slots[i]
		if v == 0 {
			return i, 0, false
		}
		if v&^idMask == tag && bytes.Equal(keyOf(v&idMask-1), key) {
			return i, v&idMask - 1, true
		}
	}
}

// insert records id, whose key hashes to h, at slot (from a probe that
// missed). It reports whether the index is now three quarters full and
// must grow before the next probe.
func (k *keys) insert(slot int, h uint64, id uint32) (full bool) {
	k.slots[slot] = slotOf(h, id)
	k.used++
	return k.used*4 >= len(k.slots)*3
}

// grow doubles the index and hashes every id again, taking them in the
// order ids yields them (the table's, which reads its entries and the
// arena front to back rather than at random). It places them a batch at a
// time, reading each one's home slot before placing any: those reads do
// not wait on each other, so the cache misses of a batch overlap instead
// of following one another.
func (k *keys) grow(ids func(yield func(uint32) bool), keyOf func(id uint32) []byte) {
	k.slots = make([]uint32, 2*len(k.slots))
	mask := len(k.slots) - 1
	var batch [64]struct {
		h  uint64
		id uint32
	}
	n := 0
	place := func() {
		var seen uint32
		for _, b := range batch[:n] {
			seen |= k.slots[int(b.h)&mask]
		}
		k.warm = seen
		for _, b := range batch[:n] {
			i := int(b.h) & mask
			for k.slots[i] != 0 {
				i = (i + 1) & mask
			}
			k.slots[i] = slotOf(b.h, b.id)
		}
		n = 0
	}
	for id := range ids {
		batch[n].h, batch[n].id = k.hash(keyOf(id)), id
		if n++; n == len(batch) {
			place()
		}
	}
	place()
}

// remove frees slot (from a find that hit), moving back the entries of
// its probe run so that no lookup stops early (linear probing's deletion
// without tombstones).
func (k *keys) remove(slot int, keyOf func(id uint32) []byte) {
	mask := len(k.slots) - 1
	k.slots[slot] = 0
	k.used--
	for i := (slot + 1) & mask; k.slots[i] != 0; i = (i + 1) & mask {
		v := k.slots[i]
		home := int(k.hash(keyOf(v&idMask-1))) & mask
		// v may fill the hole when its home is not cyclically in (slot, i].
		if (i > slot && (home <= slot || home > i)) || (i < slot && home <= slot && home > i) {
			k.slots[slot], k.slots[i] = v, 0
			slot = i
		}
	}
}
