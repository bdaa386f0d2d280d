package rank

import (
	"bytes"
	"hash/maphash"
)

// keys holds the table's hashtag keys and single spellings without a Go
// string or a pointer per hashtag: their bytes live in large chunks (an
// arena that only grows), and the index from a key to its id is an
// open-addressing table of 32-bit ids hashed over those bytes. The garbage
// collector sees a few pointer-free slices, not millions of objects, and a
// million hashtags cost their bytes plus about 10 bytes of index.
type keys struct {
	chunks [][]byte // each chunkSize long at most; spans never cross chunks
	long   [][]byte // the rare string longer than a chunk, by itself
	seed   maphash.Seed
	slots  []uint32 // id+1 of the key hashed there, 0 for free
	used   int
}

// chunkSize bounds each arena chunk: large enough that a chunk is one
// allocation for tens of thousands of hashtags, small enough that growing
// never copies what is already held.
const chunkSize = 1 << 20

// span locates a string in the arena: off is chunk×chunkSize+position, or
// an index into long when n has the long bit.
type span struct {
	off uint32
	n   uint32
}

const longBit = 1 << 31

func newKeys() keys {
	return keys{seed: maphash.MakeSeed(), slots: make([]uint32, 1024)}
}

// put copies s into the arena and returns where it is.
func (k *keys) put(s []byte) span {
	if len(s) > chunkSize/4 {
		k.long = append(k.long, bytes.Clone(s))
		return span{off: uint32(len(k.long) - 1), n: longBit | uint32(len(s))}
	}
	last := len(k.chunks) - 1
	if last < 0 || len(k.chunks[last])+len(s) > chunkSize {
		k.chunks = append(k.chunks, make([]byte, 0, chunkSize))
		last++
	}
	c := k.chunks[last]
	at := len(c)
	k.chunks[last] = append(c, s...)
	return span{off: uint32(last*chunkSize + at), n: uint32(len(s))}
}

// bytes returns the string at sp; it must not be changed.
func (k *keys) bytes(sp span) []byte {
	if sp.n&longBit != 0 {
		return k.long[sp.off]
	}
	c := k.chunks[sp.off/chunkSize]
	at := sp.off % chunkSize
	return c[at : at+sp.n : at+sp.n]
}

// find returns the slot of key: the one holding its id, or the free slot
// where it would go. key(id) returns the key bytes of an id.
func (k *keys) find(key []byte, keyOf func(id uint32) []byte) (slot int, id uint32, ok bool) {
	mask := len(k.slots) - 1
	i := int(maphash.Bytes(k.seed, key)) & mask
	for {
		v := k.slots[i]
		if v == 0 {
			return i, 0, false
		}
		if bytes.Equal(keyOf(v-1), key) {
			return i, v - 1, true
		}
		i = (i + 1) & mask
	}
}

// insert records id at slot (from a find that missed), growing the
// index when it is three quarters full.
func (k *keys) insert(slot int, id uint32, keyOf func(id uint32) []byte) {
	k.slots[slot] = id + 1
	k.used++
	if k.used*4 < len(k.slots)*3 {
		return
	}
	old := k.slots
	k.slots = make([]uint32, 2*len(old))
	mask := len(k.slots) - 1
	for _, v := range old {
		if v == 0 {
			continue
		}
		i := int(maphash.Bytes(k.seed, keyOf(v-1))) & mask
		for k.slots[i] != 0 {
			i = (i + 1) & mask
		}
		k.slots[i] = v
	}
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
		home := int(maphash.Bytes(k.seed, keyOf(v-1))) & mask
		// v may fill the hole when its home is not cyclically in (slot, i].
		if (i > slot && (home <= slot || home > i)) || (i < slot && home <= slot && home > i) {
			k.slots[slot], k.slots[i] = v, 0
			slot = i
		}
	}
}
