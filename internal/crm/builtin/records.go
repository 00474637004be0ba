package builtin

import (
	"encoding/binary"
	"hash/maphash"
	"strings"

	"github.com/ringside/ringside/internal/crm"
)

// records holds the directory's records in memory, packed for millions of them with
// next to nothing for the garbage collector to scan: every record's texts are one run
// of a byte arena (see appendRecord), found through a flat slice of pointer-free
// entries and a map from the hash of "entity/id" (integer keys and values) to chains
// of entries. Records are replaced, never removed (the store deletes none). Reading a
// record makes its strings (one allocation for the texts, one for the phones). Not safe
// for concurrent use: Directory.mu guards it.
type records struct {
	seed      maphash.Seed
	arena     []byte
	dead      int // bytes of arena nothing refers to any more (compacted away)
	compactAt int // the fewest dead bytes worth a compaction

	ents  []recEnt
	byKey map[uint64]int32 // hash of "entity/id" → first entry with that hash (chain through recEnt.next)
}

const none int32 = -1

type recEnt struct {
	off, n uint32 // the record: arena[off : off+n]
	next   int32  // the next entry with the same hash
}

// The texts of a record, in arena order; the phones (a count, then field and raw text
// of each) follow them.
const (
	partEntity = iota
	partID
	partName
	partFirstName
	partLastName
	partCompany
	partEmail
	partCountry
	partAccountID
	nParts
)

func newRecords() *records {
	return &records{seed: maphash.MakeSeed(), compactAt: 4 << 20, byKey: map[uint64]int32{}}
}

// len returns the number of records.
func (t *records) len() int { return len(t.ents) }

// hash returns the hash of "entity/id" (the index's key for the record).
func (t *records) hash(key string) uint64 { return maphash.String(t.seed, key) }

// find returns the entry of the record whose key ("entity/id") is key and whose hash is
// h, or none.
func (t *records) find(key string, h uint64) int32 {
	e, ok := t.byKey[h]
	if !ok {
		return none
	}
	for ; e != none; e = t.ents[e].next {
		b := t.bytes(e)
		var p [nParts][2]int
		parts(b, &p, partID+1)
		ent, id := b[p[partEntity][0]:p[partEntity][1]], b[p[partID][0]:p[partID][1]]
		if len(key) == len(ent)+1+len(id) && key[len(ent)] == '/' &&
			key[:len(ent)] == string(ent) && key[len(ent)+1:] == string(id) {
			return e
		}
	}
	return none
}

func (t *records) bytes(e int32) []byte {
	en := &t.ents[e]
	return t.arena[en.off : en.off+en.n]
}

// get returns the record stored under key, without a URL.
func (t *records) get(key string) (crm.Record, bool) { return t.getURL(key, false, "") }

// getURL returns the record stored under key; with withURL, its URL is urlBase +
// "/crm/{entity}/{id}".
func (t *records) getURL(key string, withURL bool, urlBase string) (crm.Record, bool) {
	e := t.find(key, t.hash(key))
	if e == none {
		return crm.Record{}, false
	}
	return decodeRecord(t.bytes(e), withURL, urlBase), true
}

// name returns the Name of the record stored under key.
func (t *records) name(key string) (string, bool) {
	e := t.find(key, t.hash(key))
	if e == none {
		return "", false
	}
	b := t.bytes(e)
	var p [nParts][2]int
	parts(b, &p, partName+1)
	return string(b[p[partName][0]:p[partName][1]]), true
}

// put stores r (URL not kept: it follows from the ref) under key, replacing the record
// stored there.
func (t *records) put(key string, r crm.Record) { t.putHash(key, t.hash(key), r) }

// putHash is put for a key whose hash is h.
func (t *records) putHash(key string, h uint64, r crm.Record) {
	off := len(t.arena)
	t.arena = appendRecord(t.arena, r)
	n := uint32(len(t.arena) - off)
	if e := t.find(key, h); e != none {
		en := &t.ents[e]
		t.dead += int(en.n)
		en.off, en.n = uint32(off), n
		t.maybeCompact()
		return
	}
	t.ents = append(t.ents, recEnt{})
	e := int32(len(t.ents) - 1)
	next, ok := t.byKey[h]
	if !ok {
		next = none
	}
	t.ents[e] = recEnt{off: uint32(off), n: n, next: next}
	t.byKey[h] = e
}

// maybeCompact copies the live records into a new arena once more than half of it (and
// at least a few MB) is dead: replacing records over and over keeps memory bounded.
func (t *records) maybeCompact() {
	if t.dead < t.compactAt || t.dead < len(t.arena)/2 {
		return
	}
	a := make([]byte, 0, len(t.arena)-t.dead+len(t.arena)/8)
	for e := range t.ents {
		en := &t.ents[e]
		off := len(a)
		a = append(a, t.arena[en.off:en.off+en.n]...)
		en.off = uint32(off)
	}
	t.arena, t.dead = a, 0
}

// appendRecord appends r's texts to b, each as a uvarint length and its bytes, in part
// order, then the number of phones and each phone's field and raw text.
func appendRecord(b []byte, r crm.Record) []byte {
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	for _, s := range [nParts]string{partEntity: string(r.Entity), partID: r.ID, partName: r.Name,
		partFirstName: r.FirstName, partLastName: r.LastName, partCompany: r.Company,
		partEmail: r.Email, partCountry: r.Country, partAccountID: r.AccountID} {
		str(s)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Phones)))
	for _, p := range r.Phones {
		str(p.Field)
		str(p.Raw)
	}
	return b
}

// parts sets p to the bounds of the first want texts of b (written by appendRecord):
// text i is b[p[i][0]:p[i][1]]. It returns where the next value starts.
func parts(b []byte, p *[nParts][2]int, want int) int {
	at := 0
	for i := range want {
		n, w := binary.Uvarint(b[at:])
		at += w
		p[i] = [2]int{at, at + int(n)}
		at += int(n)
	}
	return at
}

// decodeRecord reads a record written by appendRecord, with its URL when withURL (see
// records.getURL).
func decodeRecord(b []byte, withURL bool, urlBase string) crm.Record {
	var p [nParts][2]int
	at := parts(b, &p, nParts)
	// One allocation for every text of the record: b, then the URL.
	var sb strings.Builder
	ent, id := b[p[partEntity][0]:p[partEntity][1]], b[p[partID][0]:p[partID][1]]
	sb.Grow(len(b) + len(urlBase) + len("/crm//") + len(ent) + len(id))
	sb.Write(b)
	if withURL {
		sb.WriteString(urlBase)
		sb.WriteString("/crm/")
		sb.Write(ent)
		sb.WriteByte('/')
		sb.Write(id)
	}
	s := sb.String()
	part := func(i int) string { return s[p[i][0]:p[i][1]] }
	r := crm.Record{
		Ref:  crm.Ref{Entity: crm.Entity(part(partEntity)), ID: part(partID)},
		Name: part(partName), FirstName: part(partFirstName), LastName: part(partLastName),
		Company: part(partCompany), Email: part(partEmail), Country: part(partCountry),
		AccountID: part(partAccountID), URL: s[len(b):],
	}
	next := func() string {
		n, w := binary.Uvarint(b[at:])
		at += w
		v := s[at : at+int(n)]
		at += int(n)
		return v
	}
	count, w := binary.Uvarint(b[at:])
	at += w
	if count > 0 {
		r.Phones = make([]crm.Phone, count)
		for i := range r.Phones {
			r.Phones[i].Field = next()
			r.Phones[i].Raw = next()
		}
	}
	return r
}

// eachIdentity calls fn with the key ("entity/id"), email and name of every record,
// and whether it has any phone, decoding nothing else.
func (t *records) eachIdentity(fn func(key, email, name string, phones bool)) {
	var p [nParts][2]int
	for _, e := range t.ents {
		b := t.arena[e.off : e.off+e.n]
		at := parts(b, &p, nParts)
		n, _ := binary.Uvarint(b[at:])
		ent, id := b[p[partEntity][0]:p[partEntity][1]], b[p[partID][0]:p[partID][1]]
		fn(string(ent)+"/"+string(id), string(b[p[partEmail][0]:p[partEmail][1]]), string(b[p[partName][0]:p[partName][1]]), n > 0)
	}
}
