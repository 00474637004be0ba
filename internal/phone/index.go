package phone

import (
	"hash/maphash"
	"sync"
)

// An Index maps numbers to the keys of the records that carry them. It is safe for
// concurrent use: lookups share a read lock and never wait for each other, only for a
// Set or Remove in progress. A lookup allocates only its result.
//
// Layout (for millions of records): every indexed number is one slot in a flat slice;
// three maps point at chains of slots threaded through int32 links: by record key, by
// E.164 number, and by the last minSuffix digits. The number maps have integer keys and
// values, so the garbage collector never scans them, and no string is stored twice.
type Index struct {
	mu        sync.RWMutex
	minSuffix int
	seed      maphash.Seed

	slots  []slot
	free   int32            // head of the free-slot chain (through slot.nextKey), or none
	keys   map[string]int32 // record key → first slot of that record
	exact  map[uint64]int32 // exactKey(E164) → first slot with that number
	suffix map[uint64]int32 // suffixKey(Digits) → first slot with those trailing digits
}

// none ends a chain.
const none int32 = -1

// slot is one indexed number of one record.
type slot struct {
	key   string // the record's key (the same string as the keys map's key)
	field string
	num   Number
	// nextKey chains the slots of one record (or the free slots); the exact and suffix
	// chains are doubly linked so that removing a record costs O(its numbers), even when
	// thousands of records share a switchboard number.
	nextKey                int32
	prevExact, nextExact   int32
	prevSuffix, nextSuffix int32
}

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
		free:      none,
		keys:      map[string]int32{},
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
	x.remove(key)
	head := none
	for i := len(entries) - 1; i >= 0; i-- { // backwards, so the chain keeps entry order
		e := entries[i]
		if !e.Number.Lookupable() || x.duplicate(entries[:i], e.Number) {
			continue
		}
		s := x.alloc()
		x.slots[s] = slot{key: key, field: e.Field, num: e.Number, nextKey: head,
			prevExact: none, nextExact: none, prevSuffix: none, nextSuffix: none}
		head = s
		if e.Number.E164 != "" {
			x.link(x.exact, x.exactKey(e.Number.E164), s, true)
		}
		if k, ok := x.suffixKey(e.Number.Digits); ok {
			x.link(x.suffix, k, s, false)
		}
	}
	if head != none {
		x.keys[key] = head // the same string as in the slots: stored once
	}
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
	x.remove(key)
}

func (x *Index) remove(key string) {
	s, ok := x.keys[key]
	if !ok {
		return
	}
	delete(x.keys, key)
	for s != none {
		sl := &x.slots[s]
		next := sl.nextKey
		if sl.num.E164 != "" {
			x.unlink(x.exact, x.exactKey(sl.num.E164), s, true)
		}
		if k, ok := x.suffixKey(sl.num.Digits); ok {
			x.unlink(x.suffix, k, s, false)
		}
		*sl = slot{nextKey: x.free} // drop the strings for the collector
		x.free = s
		s = next
	}
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
	var r results
	if n.E164 != "" {
		if s, ok := x.exact[x.exactKey(n.E164)]; ok {
			for ; s != none; s = x.slots[s].nextExact {
				if sl := &x.slots[s]; sl.num.E164 == n.E164 {
					r.add(sl, MatchExact)
				}
			}
		}
	}
	if k, ok := x.suffixKey(n.Digits); ok {
		if s, ok := x.suffix[k]; ok {
			for ; s != none; s = x.slots[s].nextSuffix {
				if sl := &x.slots[s]; Match(n, sl.num, x.minSuffix) == MatchSuffix {
					r.add(sl, MatchSuffix)
				}
			}
		}
	}
	return r.out
}

// results collects hits, each key once. Results are short (a handful of records share a
// number), so a scan finds duplicates; past a few dozen hits (a switchboard number shared
// by thousands of contacts) a set takes over.
type results struct {
	out  []Hit
	keys map[string]struct{}
}

func (r *results) add(sl *slot, how MatchKind) {
	const scanUpTo = 32
	if r.keys != nil {
		if _, dup := r.keys[sl.key]; dup {
			return
		}
		r.keys[sl.key] = struct{}{}
	} else {
		for i := range r.out {
			if r.out[i].Key == sl.key {
				return
			}
		}
		if len(r.out) == scanUpTo {
			r.keys = make(map[string]struct{}, 2*scanUpTo)
			for i := range r.out {
				r.keys[r.out[i].Key] = struct{}{}
			}
			r.keys[sl.key] = struct{}{}
		}
	}
	r.out = append(r.out, Hit{Key: sl.key, Field: sl.field, Stored: sl.num, How: how})
}

// Len returns the number of keys indexed.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.keys)
}
