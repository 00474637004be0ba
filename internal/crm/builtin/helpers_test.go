package builtin

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/phone"
	"github.com/ringside/ringside/internal/store"
)

func testParser(t testing.TB) *phone.Parser {
	t.Helper()
	p, err := phone.NewParser(phone.Config{DefaultRegion: "DE", MinSuffixDigits: 8})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// openStore opens the SQLite store in dir (a second call on one dir is a second process).
func openStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{}, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newDir(t testing.TB, st Store) *Directory {
	t.Helper()
	d, err := New(st, testParser(t), Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

// eventually waits (up to 10s) for cond, checking every few milliseconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// memStore is an in-memory Store for the fuzz target and the benchmark.
type memStore struct {
	mu   sync.Mutex
	seq  int64
	recs map[string]memRec
	acts map[string]crm.Activity
}

type memRec struct {
	rec crm.Record
	seq int64
}

func newMemStore() *memStore {
	return &memStore{recs: map[string]memRec{}, acts: map[string]crm.Activity{}}
}

func (m *memStore) PutRecords(_ context.Context, recs []crm.Record) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range recs {
		m.seq++
		m.recs[r.ID] = memRec{r, m.seq}
	}
	return m.seq, nil
}

func (m *memStore) RecordsSince(_ context.Context, after int64, fn func(crm.Record, int64) error) (int64, error) {
	m.mu.Lock()
	var rs []memRec
	for _, r := range m.recs {
		if r.seq > after {
			rs = append(rs, r)
		}
	}
	m.mu.Unlock()
	sort.Slice(rs, func(i, j int) bool { return rs[i].seq < rs[j].seq })
	for _, r := range rs {
		if err := fn(r.rec, r.seq); err != nil {
			return after, err
		}
		after = r.seq
	}
	return after, nil
}

func (m *memStore) RecordsSeq(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seq, nil
}

func (m *memStore) PutActivity(_ context.Context, a crm.Activity) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.acts[a.Key] = a
	return nil
}

func (m *memStore) Activities(_ context.Context, callID string, ref *crm.Ref) ([]crm.Activity, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []crm.Activity
	for _, a := range m.acts {
		if (callID != "" && a.CallID == callID) || (callID == "" && a.Regarding != nil && *a.Regarding == *ref) {
			out = append(out, a)
		}
	}
	return out, nil
}

var _ Store = (*memStore)(nil)
var _ Store = (*store.Store)(nil)
