package phone

import "sync"

// An Index maps numbers to the keys of the records that carry them. It is safe for
// concurrent use; lookups do not allocate on the exact path beyond the result.
type Index struct {
	mu        sync.RWMutex
	exact     map[string][]Hit
	keys      map[string][]Number
	minSuffix int
}

// A Hit is one indexed number that matched.
type Hit struct {
	Key    string    // the caller's key for the record (e.g. "contact/123")
	Field  string    // which of the record's phones
	Stored Number    // the number as indexed
	How    MatchKind // how it matched
}

// NewIndex returns an empty index that uses minSuffix trailing digits for the fallback.
func NewIndex(minSuffix int) *Index {
	return &Index{exact: map[string][]Hit{}, keys: map[string][]Number{}, minSuffix: minSuffix}
}

// Entry is one number of a record to index.
type Entry struct {
	Field  string
	Number Number
}

// Set replaces every number indexed under key with entries (none removes the key).
func (x *Index) Set(key string, entries []Entry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, old := range x.keys[key] {
		hs := x.exact[old.E164]
		out := hs[:0]
		for _, h := range hs {
			if h.Key != key {
				out = append(out, h)
			}
		}
		if len(out) == 0 {
			delete(x.exact, old.E164)
		} else {
			x.exact[old.E164] = out
		}
	}
	delete(x.keys, key)
	var nums []Number
	for _, e := range entries {
		if e.Number.E164 == "" {
			continue
		}
		x.exact[e.Number.E164] = append(x.exact[e.Number.E164], Hit{Key: key, Field: e.Field, Stored: e.Number, How: MatchExact})
		nums = append(nums, e.Number)
	}
	if len(nums) > 0 {
		x.keys[key] = nums
	}
}

// Lookup returns the hits for n: exact ones first, then suffix ones.
func (x *Index) Lookup(n Number) []Hit {
	if !n.Lookupable() {
		return nil
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	return append([]Hit(nil), x.exact[n.E164]...)
}

// Len returns the number of keys indexed.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.keys)
}
