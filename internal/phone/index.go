package phone

import (
	"encoding/binary"
	"hash/maphash"
	"strings"
	"sync"
)

// An Index maps numbers to the keys of the records that carry them. It is safe for
// concurrent use: lookups share a read lock and never wait for each other, only for a
// Set or Remove in progress. A lookup allocates only its result.
//
// Layout (for millions of records, with as little as possible for the garbage collector
// to scan): every text (record keys, and each indexed number's field, raw text, E.164
// form, region, extension and digits) lives in one byte arena, addressed by offsets.
// Every indexed number is one slot in a flat slice, every record key one entry of
// another; both are pointer-free structs. Four maps with integer keys and values (which
// the collector never scans) point at chains of them threaded through int32 links: by
// the hash of the record key, by E.164 number, and by the last minSuffix digits. Hits
// get their strings at lookup time.
type Index struct {
	mu        sync.RWMutex
	minSuffix int
	seed      maphash.Seed

	arena     []byte // texts; see appendEntry
	dead      int    // bytes of arena that nothing refers to any more (compacted away)
	compactAt int    // the fewest dead bytes worth a compaction

	recs    []rec            // the record keys
	freeRec int32            // head of the free-rec chain (through rec.head), or none
	keys    map[uint64]int32 // hash of a key → first rec with that hash (chain through rec.nextHash)
	nkeys   int              // recs in use

	slots  []slot
	free   int32            // head of the free-slot chain (through slot.nextKey), or none
	exact  map[uint64]int32 // exactKey(E164) → first slot with that number
	suffix map[uint64]int32 // suffixKey(Digits) → first slot with those trailing digits
}

// none ends a chain.
const none int32 = -1

// rec is one record key: its text in the arena and the chain of its slots.
type rec struct {
	off, n   uint32 // the key's text: arena[off : off+n]
	head     int32  // first slot of the record, or (free rec) the next free rec
	nextHash int32  // next rec whose key has the same hash
	used     bool
}

// slot is one indexed number of one record.
type slot struct {
	rec    int32  // the record (none for a free slot)
	off, n uint32 // the entry's texts: arena[off : off+n], see appendEntry
	// nextKey chains the slots of one record (or the free slots); the exact and suffix
	// chains are doubly linked so that removing a record costs O(its numbers), even when
	// thousands of records share a switchboard number.
	nextKey                int32
	prevExact, nextExact   int32
	prevSuffix, nextSuffix int32
}

// The texts of an entry, in arena order (the ones lookups compare come first).
const (
	partE164 = iota
	partDigits
	partField
	partRaw
	partRegion
	partExtension
	nParts
)

// A Hit is one indexed number that matched.
type Hit struct {
	Key    string    // the caller's key for the record (e.g. "contact/123")
	Field  string    // which of the record's phones
	Stored Number    // the number as indexed
	How    MatchKind // how it matched
}

// NewIndex returns an empty index that uses minSuffix trailing digits for the fallback
// (0 turns the fallback off).
func NewIndex(minSuffix int) *Index {
	return &Index{
		minSuffix: max(minSuffix, 0),
		seed:      maphash.MakeSeed(),
		compactAt: 4 << 20,
		free:      none,
		freeRec:   none,
		keys:      map[uint64]int32{},
		exact:     map[uint64]int32{},
		suffix:    map[uint64]int32{},
	}
}

// Entry is one number of a record to index.
type Entry struct {
	Field  string
	Number Number
}

// Set replaces every number indexed under key with entries (none removes the key).
// Withheld numbers and numbers with nothing to match on (see Number.Lookupable) are
// skipped, and so are numbers the record already has under an earlier entry.
func (x *Index) Set(key string, entries []Entry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.set(key, maphash.String(x.seed, key), entries)
	x.maybeCompact()
}

// set is Set for a key whose hash is h.
func (x *Index) set(key string, h uint64, entries []Entry) {
	x.remove(key, h)
	r := none
	head := none
	for i := len(entries) - 1; i >= 0; i-- { // backwards, so the chain keeps entry order
		e := entries[i]
		if !e.Number.Lookupable() || x.duplicate(entries[:i], e.Number) {
			continue
		}
		if r == none {
			r = x.allocRec(key, h)
		}
		s := x.alloc()
		off := len(x.arena)
		x.arena = appendEntry(x.arena, e)
		x.slots[s] = slot{rec: r, off: uint32(off), n: uint32(len(x.arena) - off), nextKey: head,
			prevExact: none, nextExact: none, prevSuffix: none, nextSuffix: none}
		head = s
		if e.Number.E164 != "" {
			x.link(x.exact, x.exactKey(e.Number.E164), s, true)
		}
		if k, ok := x.suffixKey(e.Number.Digits); ok {
			x.link(x.suffix, k, s, false)
		}
	}
	if r != none {
		x.recs[r].head = head
	}
}

// appendEntry appends e's texts to b in part order, each as a uvarint (its length + 1)
// and its bytes, or as a uvarint 0 when it is the E.164 form's (digits: the E.164 form
// without its "+"; raw: the E.164 form itself), as it is for most parsed numbers.
func appendEntry(b []byte, e Entry) []byte {
	n := e.Number
	for i, s := range [nParts]string{partE164: n.E164, partDigits: n.Digits, partField: e.Field,
		partRaw: n.Raw, partRegion: n.Region, partExtension: n.Extension} {
		if n.E164 != "" && (i == partDigits && s == n.E164[1:] || i == partRaw && s == n.E164) {
			b = append(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(s))+1)
		b = append(b, s...)
	}
	return b
}

// parts returns the bounds of the first want texts of an entry b (written by
// appendEntry): text i is b[p[i][0]:p[i][1]].
func parts(b []byte, want int) (p [nParts][2]int) {
	at := 0
	for i := range want {
		n, w := uint64(b[at]), 1
		if n >= 0x80 { // not one byte: a text of 127 bytes or more
			n, w = binary.Uvarint(b[at:])
		}
		at += w
		if n == 0 { // the E.164 form's
			p[i] = p[partE164]
			if i == partDigits {
				p[i][0]++
			}
			continue
		}
		p[i] = [2]int{at, at + int(n) - 1}
		at += int(n) - 1
	}
	return p
}

// duplicate says whether an earlier entry of the same record carries the same number.
func (x *Index) duplicate(earlier []Entry, n Number) bool {
	for _, e := range earlier {
		if e.Number.Lookupable() && e.Number.E164 == n.E164 && e.Number.Digits == n.Digits {
			return true
		}
	}
	return false
}

// Remove drops every number indexed under key.
func (x *Index) Remove(key string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.remove(key, maphash.String(x.seed, key))
	x.maybeCompact()
}

// findRec returns the rec of key (whose hash is h) and the rec before it in its hash
// chain (none when it is the first), or r = none.
func (x *Index) findRec(key string, h uint64) (r, prev int32) {
	r, ok := x.keys[h]
	if !ok {
		return none, none
	}
	prev = none
	for ; r != none; prev, r = r, x.recs[r].nextHash {
		if rc := &x.recs[r]; string(x.arena[rc.off:rc.off+rc.n]) == key {
			return r, prev
		}
	}
	return none, none
}

func (x *Index) remove(key string, h uint64) {
	r, prev := x.findRec(key, h)
	if r == none {
		return
	}
	rc := &x.recs[r]
	if prev != none {
		x.recs[prev].nextHash = rc.nextHash
	} else if rc.nextHash != none {
		x.keys[h] = rc.nextHash
	} else {
		delete(x.keys, h)
	}
	for s := rc.head; s != none; {
		sl := &x.slots[s]
		next := sl.nextKey
		b := x.arena[sl.off : sl.off+sl.n]
		p := parts(b, partDigits+1)
		if e164 := b[p[partE164][0]:p[partE164][1]]; len(e164) > 0 {
			x.unlink(x.exact, x.exactKey(string(e164)), s, true)
		}
		if k, ok := x.suffixKey(string(b[p[partDigits][0]:p[partDigits][1]])); ok {
			x.unlink(x.suffix, k, s, false)
		}
		x.dead += int(sl.n)
		*sl = slot{rec: none, nextKey: x.free}
		x.free = s
		s = next
	}
	x.dead += int(rc.n)
	*rc = rec{head: x.freeRec, nextHash: none}
	x.freeRec = r
	x.nkeys--
}

// allocRec stores key (whose hash is h) and returns its new rec, at the head of its
// hash chain and with no slots yet.
func (x *Index) allocRec(key string, h uint64) int32 {
	var r int32
	if x.freeRec != none {
		r = x.freeRec
		x.freeRec = x.recs[r].head
	} else {
		x.recs = append(x.recs, rec{})
		r = int32(len(x.recs) - 1)
	}
	next, ok := x.keys[h]
	if !ok {
		next = none
	}
	off := len(x.arena)
	x.arena = append(x.arena, key...)
	x.recs[r] = rec{off: uint32(off), n: uint32(len(key)), head: none, nextHash: next, used: true}
	x.keys[h] = r
	x.nkeys++
	return r
}

// alloc returns a free slot index.
func (x *Index) alloc() int32 {
	if x.free != none {
		s := x.free
		x.free = x.slots[s].nextKey
		return s
	}
	x.slots = append(x.slots, slot{})
	return int32(len(x.slots) - 1)
}

// maybeCompact copies the live texts into a new arena once more than half of it (and
// at least a few MB) is dead, so that replacing records over and over keeps memory
// bounded at an amortised O(1) cost per byte written.
func (x *Index) maybeCompact() {
	if x.dead < x.compactAt || x.dead < len(x.arena)/2 {
		return
	}
	x.compact()
}

func (x *Index) compact() {
	a := make([]byte, 0, len(x.arena)-x.dead+len(x.arena)/8)
	for r := range x.recs {
		rc := &x.recs[r]
		if !rc.used {
			continue
		}
		off := len(a)
		a = append(a, x.arena[rc.off:rc.off+rc.n]...)
		rc.off = uint32(off)
		for s := rc.head; s != none; s = x.slots[s].nextKey {
			sl := &x.slots[s]
			off := len(a)
			a = append(a, x.arena[sl.off:sl.off+sl.n]...)
			sl.off = uint32(off)
		}
	}
	x.arena, x.dead = a, 0
}

// link puts slot s at the head of chain k of m.
func (x *Index) link(m map[uint64]int32, k uint64, s int32, exact bool) {
	head, ok := m[k]
	if !ok {
		head = none
	}
	if exact {
		x.slots[s].nextExact = head
		if head != none {
			x.slots[head].prevExact = s
		}
	} else {
		x.slots[s].nextSuffix = head
		if head != none {
			x.slots[head].prevSuffix = s
		}
	}
	m[k] = s
}

// unlink takes slot s out of chain k of m.
func (x *Index) unlink(m map[uint64]int32, k uint64, s int32, exact bool) {
	sl := &x.slots[s]
	prev, next := sl.prevSuffix, sl.nextSuffix
	if exact {
		prev, next = sl.prevExact, sl.nextExact
	}
	if prev != none {
		if exact {
			x.slots[prev].nextExact = next
		} else {
			x.slots[prev].nextSuffix = next
		}
	} else if next != none {
		m[k] = next
	} else {
		delete(m, k)
	}
	if next != none {
		if exact {
			x.slots[next].prevExact = prev
		} else {
			x.slots[next].prevSuffix = prev
		}
	}
}

// exactKey turns an E.164 string into a map key: its digits as a number when there are at
// most 18 (every real E.164 number: distinct numbers, distinct keys, as a country code
// never starts with 0), else a hash with the top bit set. Lookups compare the E.164
// strings anyway, so a hash collision costs time, never a wrong hit.
func (x *Index) exactKey(e164 string) uint64 {
	return x.digitKey(e164[1:])
}

// suffixKey returns the key of the last minSuffix digits of d, or ok=false when the
// fallback is off or d is too short.
func (x *Index) suffixKey(d string) (uint64, bool) {
	if x.minSuffix == 0 || len(d) < x.minSuffix {
		return 0, false
	}
	// Every suffix key has exactly minSuffix digits, so leading zeros cannot collide.
	return x.digitKey(d[len(d)-x.minSuffix:]), true
}

func (x *Index) digitKey(d string) uint64 {
	if len(d) <= 18 {
		var v uint64
		for i := 0; i < len(d); i++ {
			c := d[i]
			if c < '0' || c > '9' {
				return maphash.String(x.seed, d) | 1<<63
			}
			v = v*10 + uint64(c-'0')
		}
		return v
	}
	return maphash.String(x.seed, d) | 1<<63
}

// Lookup returns the hits for n: exact ones first, then suffix ones. Each key appears at
// most once, with its best match (the first of its fields that matched that way).
func (x *Index) Lookup(n Number) []Hit {
	if !n.Lookupable() {
		return nil
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	r := results{x: x}
	if n.E164 != "" {
		if s, ok := x.exact[x.exactKey(n.E164)]; ok {
			for ; s != none; s = x.slots[s].nextExact {
				sl := &x.slots[s]
				b := x.arena[sl.off : sl.off+sl.n]
				if p := parts(b, partE164+1); string(b[p[partE164][0]:p[partE164][1]]) == n.E164 {
					r.add(sl, MatchExact)
				}
			}
		}
	}
	if k, ok := x.suffixKey(n.Digits); ok {
		if s, ok := x.suffix[k]; ok {
			for ; s != none; s = x.slots[s].nextSuffix {
				sl := &x.slots[s]
				b := x.arena[sl.off : sl.off+sl.n]
				p := parts(b, partDigits+1)
				if suffixMatchStored(n, b[p[partE164][0]:p[partE164][1]], b[p[partDigits][0]:p[partDigits][1]], x.minSuffix) {
					r.add(sl, MatchSuffix)
				}
			}
		}
	}
	return r.out
}

// suffixMatchStored says whether Match(n, stored, minSuffix) == MatchSuffix, for a
// stored number (never withheld) given by its E.164 form and digits, without making
// strings of them.
func suffixMatchStored(n Number, e164, digits []byte, minSuffix int) bool {
	if n.Withheld || minSuffix <= 0 {
		return false
	}
	if n.E164 != "" && (string(e164) == n.E164 || len(e164) > 0) {
		return false // an exact match, or two parsed numbers
	}
	a, b := n.Digits, digits
	if len(a) < minSuffix || len(b) < minSuffix {
		return false
	}
	if len(a) > len(b) {
		return a[len(a)-len(b):] == string(b)
	}
	return string(b[len(b)-len(a):]) == a
}

// results collects hits, each key once. Results are short (a handful of records share a
// number), so a scan finds duplicates; past a few dozen hits (a switchboard number shared
// by thousands of contacts) a set takes over.
type results struct {
	x     *Index
	out   []Hit
	recs  [scanUpTo]int32 // the recs of the first hits
	nrecs int
	set   map[int32]struct{}
}

const scanUpTo = 32

func (r *results) add(sl *slot, how MatchKind) {
	if r.set != nil {
		if _, dup := r.set[sl.rec]; dup {
			return
		}
		r.set[sl.rec] = struct{}{}
	} else {
		for _, rc := range r.recs[:r.nrecs] {
			if rc == sl.rec {
				return
			}
		}
		if r.nrecs < scanUpTo {
			r.recs[r.nrecs] = sl.rec
			r.nrecs++
		} else {
			r.set = make(map[int32]struct{}, 2*scanUpTo)
			for _, rc := range r.recs {
				r.set[rc] = struct{}{}
			}
			r.set[sl.rec] = struct{}{}
		}
	}
	r.out = append(r.out, r.x.hit(sl, how))
}

// hit makes the Hit of slot sl, with one allocation for its strings: the entry's texts
// followed by the key.
func (x *Index) hit(sl *slot, how MatchKind) Hit {
	rc := &x.recs[sl.rec]
	b := x.arena[sl.off : sl.off+sl.n]
	var sb strings.Builder
	sb.Grow(len(b) + int(rc.n))
	sb.Write(b)
	sb.Write(x.arena[rc.off : rc.off+rc.n])
	s := sb.String()
	p := parts(b, nParts)
	part := func(i int) string { return s[p[i][0]:p[i][1]] }
	return Hit{
		Key:   s[len(b):],
		Field: part(partField),
		Stored: Number{Raw: part(partRaw), E164: part(partE164), Region: part(partRegion),
			Extension: part(partExtension), Digits: part(partDigits)},
		How: how,
	}
}

// Len returns the number of keys indexed.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.nkeys
}
