package lookup

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/phone"
)

// slowDir answers after release is closed, and counts its requests.
type slowDir struct {
	calls   atomic.Int64
	release chan struct{}
	matches []crm.Match
	err     error
}

func (d *slowDir) Lookup(ctx context.Context, n phone.Number) ([]crm.Match, error) {
	d.calls.Add(1)
	if d.release != nil {
		select {
		case <-d.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return append([]crm.Match(nil), d.matches...), d.err
}

func (d *slowDir) Get(ctx context.Context, ref crm.Ref) (crm.Record, error) {
	return crm.Record{}, crm.ErrNotFound
}

var jane = phone.Number{Raw: "+49 30 1234567", E164: "+49301234567", Digits: "49301234567"}

func m(e crm.Entity, id, name string, how phone.MatchKind) crm.Match {
	return crm.Match{Record: crm.Record{Ref: crm.Ref{Entity: e, ID: id}, Name: name}, How: how}
}

func TestCoalescesRingGroup(t *testing.T) {
	d := &slowDir{release: make(chan struct{}), matches: []crm.Match{m(crm.Contact, "1", "Jane", phone.MatchExact)}}
	s, err := New(d, Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make(chan Result, 30)
	for range 30 {
		wg.Go(func() {
			r, err := s.Lookup(t.Context(), jane)
			if err != nil {
				t.Error(err)
			}
			results <- r
		})
	}
	// Whether a phone joins the flight or finds its answer in the cache, the directory
	// sees one request.
	close(d.release)
	wg.Wait()
	close(results)
	for r := range results {
		if len(r.Matches) != 1 || r.Matches[0].Name != "Jane" {
			t.Fatalf("result %+v", r)
		}
	}
	if n := d.calls.Load(); n != 1 {
		t.Fatalf("directory saw %d requests for 30 phones, want 1", n)
	}
	// The answer is cached now.
	r, _ := s.Lookup(t.Context(), jane)
	if !r.Cached || d.calls.Load() != 1 {
		t.Fatalf("second lookup not from cache: %+v, %d calls", r, d.calls.Load())
	}
}

func TestWithheldNeverReachesDirectory(t *testing.T) {
	d := &slowDir{}
	s, _ := New(d, Config{}, nil)
	for _, n := range []phone.Number{{Raw: "anonymous", Withheld: true}, {Raw: ""}, {Raw: "200"}} {
		if r, err := s.Lookup(t.Context(), n); err != nil || len(r.Matches) != 0 {
			t.Fatalf("%+v: %+v %v", n, r, err)
		}
	}
	if d.calls.Load() != 0 {
		t.Fatalf("directory asked %d times", d.calls.Load())
	}
}

func TestNegativeCacheAndInvalidate(t *testing.T) {
	d := &slowDir{}
	s, _ := New(d, Config{}, nil)
	for range 3 {
		if r, err := s.Lookup(t.Context(), jane); err != nil || len(r.Matches) != 0 {
			t.Fatal(r, err)
		}
	}
	if d.calls.Load() != 1 {
		t.Fatalf("negative answer not cached: %d calls", d.calls.Load())
	}
	s.Invalidate(jane)
	d.matches = []crm.Match{m(crm.Lead, "9", "New Lead", phone.MatchExact)}
	if r, _ := s.Lookup(t.Context(), jane); len(r.Matches) != 1 {
		t.Fatalf("after invalidate: %+v", r)
	}
}

func TestErrorsAreNotCached(t *testing.T) {
	d := &slowDir{err: crm.ErrUnavailable}
	s, _ := New(d, Config{}, nil)
	if _, err := s.Lookup(t.Context(), jane); !errors.Is(err, crm.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	d.err = nil
	if _, err := s.Lookup(t.Context(), jane); err != nil || d.calls.Load() != 2 {
		t.Fatalf("err = %v, calls %d", err, d.calls.Load())
	}
}

func TestPendingThenJoin(t *testing.T) {
	d := &slowDir{release: make(chan struct{}), matches: []crm.Match{m(crm.Contact, "1", "Jane", phone.MatchExact)}}
	s, _ := New(d, Config{}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Lookup(ctx, jane); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	close(d.release)
	r, err := s.Lookup(t.Context(), jane)
	if err != nil || len(r.Matches) != 1 {
		t.Fatalf("%+v %v", r, err)
	}
	if d.calls.Load() != 1 {
		t.Fatalf("the slow request was started twice: %d", d.calls.Load())
	}
}

func TestRanking(t *testing.T) {
	d := &slowDir{matches: []crm.Match{
		m(crm.Lead, "l1", "Lead A", phone.MatchExact),
		m(crm.Contact, "c2", "Suffix Contact", phone.MatchSuffix),
		m(crm.Account, "a1", "ACME", phone.MatchExact),
		m(crm.Contact, "c1", "Jane", phone.MatchExact),
		m(crm.Contact, "c2", "Suffix Contact", phone.MatchExact), // same record, better match
	}}
	s, _ := New(d, Config{}, nil)
	r, _ := s.Lookup(t.Context(), jane)
	var got []string
	for _, x := range r.Matches {
		got = append(got, x.ID+":"+string(x.How))
	}
	want := []string{"c1:exact", "c2:exact", "a1:exact", "l1:exact"}
	if len(got) != len(want) {
		t.Fatalf("got %v want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v want %v", got, want)
		}
	}
	s2, _ := New(d, Config{EntityPriority: []crm.Entity{crm.Lead, crm.Account, crm.Contact}}, nil)
	r, _ = s2.Lookup(t.Context(), jane)
	if r.Matches[0].ID != "l1" {
		t.Fatalf("priority not applied: %+v", r.Matches)
	}
	if _, err := New(d, Config{EntityPriority: []crm.Entity{"person"}}, nil); err == nil {
		t.Fatal("bad entity accepted")
	}
}

// TestMaxInFlight: with the CRM hanging, at most max_in_flight requests reach it; the
// next number waits for a slot and is asked once one frees.
func TestMaxInFlight(t *testing.T) {
	d := &slowDir{release: make(chan struct{})}
	s, err := New(d, Config{MaxInFlight: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 3 {
		n := phone.Number{E164: "+4930123456" + string(rune('0'+i)), Digits: "4930123456" + string(rune('0'+i))}
		wg.Go(func() { s.Lookup(context.Background(), n) })
	}
	for s.Requests() < 3 {
		runtime.Gosched()
	}
	// All three flights started; only two may be in the directory.
	for d.calls.Load() < 2 {
		runtime.Gosched()
	}
	if n := d.calls.Load(); n != 2 {
		t.Fatalf("%d requests in the directory, want 2", n)
	}
	close(d.release)
	wg.Wait()
	if n := d.calls.Load(); n != 3 {
		t.Fatalf("%d requests in the directory after release, want 3", n)
	}
	if _, err := New(d, Config{MaxInFlight: -1}, nil); err == nil {
		t.Error("negative max_in_flight accepted")
	}
}

func TestCached(t *testing.T) {
	d := &slowDir{matches: []crm.Match{m(crm.Contact, "1", "Jane", phone.MatchExact)}}
	s, _ := New(d, Config{}, nil)
	if _, ok := s.Cached(jane); ok {
		t.Fatal("cached before the first lookup")
	}
	s.Lookup(context.Background(), jane)
	if ms, ok := s.Cached(jane); !ok || len(ms) != 1 {
		t.Fatalf("cached: %v %v", ms, ok)
	}
	if _, ok := s.Cached(phone.Number{Withheld: true}); !ok {
		t.Error("a withheld number needs no lookup")
	}
}

// TestReconfigure: new settings apply to the next lookup (the cache is emptied, the new
// ranking applies), a bad one is refused and leaves the old in force, and lookups running
// meanwhile are safe (-race).
func TestReconfigure(t *testing.T) {
	d := &slowDir{matches: []crm.Match{m(crm.Lead, "l1", "Lead A", phone.MatchExact), m(crm.Contact, "c1", "Jane", phone.MatchExact)}}
	s, _ := New(d, Config{}, nil)
	if r, _ := s.Lookup(t.Context(), jane); r.Matches[0].ID != "c1" {
		t.Fatalf("default ranking: %+v", r.Matches)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				s.Lookup(context.Background(), jane)
			}
		}
	})
	if err := s.Reconfigure(Config{EntityPriority: []crm.Entity{crm.Lead, crm.Contact}, CacheTTL: -1}); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	before := d.calls.Load()
	r, _ := s.Lookup(t.Context(), jane)
	if r.Matches[0].ID != "l1" || r.Cached {
		t.Fatalf("after Reconfigure: %+v (cached %v), want the lead first, from the directory", r.Matches, r.Cached)
	}
	s.Lookup(t.Context(), jane)
	if d.calls.Load() != before+2 {
		t.Errorf("cache_ttl -1 (no cache) not in force: %d directory requests for 2 lookups", d.calls.Load()-before)
	}
	if err := s.Reconfigure(Config{EntityPriority: []crm.Entity{"person"}}); err == nil {
		t.Error("a bad entity_priority was accepted")
	}
	if got := s.Config().EntityPriority; len(got) != 2 || got[0] != crm.Lead {
		t.Errorf("a refused Reconfigure changed the settings: %v", got)
	}
}
