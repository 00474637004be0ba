package dynamics

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ringside/ringside/internal/crm/dynamics/dataversetest"
	"github.com/ringside/ringside/internal/phone"
	"github.com/ringside/ringside/internal/store"
)

// memStore is an in-memory IndexStore.
type memStore struct {
	mu    sync.Mutex
	state map[string][]byte
	rows  map[string]map[string][]byte
	puts  int
}

func newMemStore() *memStore {
	return &memStore{state: map[string][]byte{}, rows: map[string]map[string][]byte{}}
}

func (m *memStore) SetState(_ context.Context, scope, key string, v []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state[scope+"\x00"+key] = slices.Clone(v)
	return nil
}

func (m *memStore) State(_ context.Context, scope, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.state[scope+"\x00"+key]
	if !ok {
		return nil, fmt.Errorf("mem: %s: %w", key, store.ErrNotFound)
	}
	return v, nil
}

func (m *memStore) PutIndexRows(_ context.Context, scope string, rows []IndexRow) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rows[scope] == nil {
		m.rows[scope] = map[string][]byte{}
	}
	for _, r := range rows {
		m.rows[scope][r.Key] = slices.Clone(r.Data)
	}
	m.puts += len(rows)
	return nil
}

func (m *memStore) DeleteIndexRows(_ context.Context, scope string, keys []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		delete(m.rows[scope], k)
	}
	return nil
}

func (m *memStore) LoadIndexRows(_ context.Context, scope string, fn func(IndexRow) error) error {
	m.mu.Lock()
	rows := make([]IndexRow, 0, len(m.rows[scope]))
	for k, v := range m.rows[scope] {
		rows = append(rows, IndexRow{Key: k, Data: v})
	}
	m.mu.Unlock()
	for _, r := range rows {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) ClearIndex(_ context.Context, scope string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.rows, scope)
	return nil
}

func (m *memStore) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, rs := range m.rows {
		n += len(rs)
	}
	return n
}

var _ IndexStore = (*memStore)(nil)
var _ IndexStore = (*store.Store)(nil)

func testParser(t testing.TB) *phone.Parser {
	t.Helper()
	p, err := phone.NewParser(phone.Config{DefaultRegion: "DE", MinSuffixDigits: 8})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// testConfig points an adapter at the fake.
func testConfig(fake *dataversetest.Server) Config {
	return Config{
		URL: fake.URL, Authority: fake.URL, TenantID: "tenant", ClientID: "client",
		ClientSecretEnv: "DYN_SECRET", AppID: "22222222-2222-2222-2222-222222222222",
	}
}

func testGetenv(k string) string {
	if k == "DYN_SECRET" {
		return "secret"
	}
	return ""
}

// newTestDirectory returns a Directory on the fake and st (a fresh memStore when nil).
func newTestDirectory(t testing.TB, fake *dataversetest.Server, st IndexStore, mod ...func(*Config)) *Directory {
	t.Helper()
	if st == nil {
		st = newMemStore()
	}
	cfg := testConfig(fake)
	for _, f := range mod {
		f(&cfg)
	}
	d, err := New(cfg, testParser(t), st, slog.New(slog.DiscardHandler), WithGetenv(testGetenv))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// countRequests returns how many API requests the fake got after the first skip.
func countRequests(fake *dataversetest.Server, skip int, prefix string) int {
	n := 0
	for _, r := range fake.Requests()[skip:] {
		if strings.Contains(r, prefix) {
			n++
		}
	}
	return n
}

func matchIDs(ms []crmMatch) []string {
	var out []string
	for _, m := range ms {
		out = append(out, string(m.Entity)+"/"+m.ID)
	}
	slices.Sort(out)
	return out
}

func contextWithCancel(t testing.TB) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}
