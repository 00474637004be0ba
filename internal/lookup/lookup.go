// Package lookup is the one way Ringside asks the CRM who is calling: it ranks matches,
// caches answers (negative ones too), coalesces concurrent lookups of one number into one
// directory request, and bounds how long the CRM may take.
package lookup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/phone"
)

// Config is the lookup section of ringside.yaml.
type Config struct {
	// PopTimeout is how long a pop waits for the CRM before it goes out marked "lookup
	// pending" (it is updated when the answer arrives). Default 300ms.
	PopTimeout time.Duration `yaml:"pop_timeout"`
	// Timeout bounds one directory request. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// CacheTTL keeps a found answer this long. Default 60s; negative disables the cache.
	CacheTTL time.Duration `yaml:"cache_ttl"`
	// NegativeTTL keeps a "nobody" answer this long. Default 30s.
	NegativeTTL time.Duration `yaml:"negative_ttl"`
	// CacheSize bounds the number of cached numbers. Default 10000.
	CacheSize int `yaml:"cache_size"`
	// EntityPriority ranks matches of equal quality. Default contact, account, lead.
	EntityPriority []crm.Entity `yaml:"entity_priority"`
	// MaxInFlight bounds the directory requests under way at once (a hanging CRM holds at
	// most this many; further numbers wait for a slot, within Timeout). Default 64.
	MaxInFlight int `yaml:"max_in_flight"`
}

// Result says where an answer came from, for metrics and the UI.
type Result struct {
	Matches []crm.Match
	Cached  bool // answered from the cache
	Shared  bool // joined a lookup another caller had started
}

// A Service answers "who has this number". It is safe for concurrent use.
type Service struct {
	dir crm.Directory
	set atomic.Pointer[settings] // swapped by Reconfigure
	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex
	cache   map[string]entry
	flights map[string]*flight

	// Requests counts directory requests (for tests and metrics).
	requests int64

	observe func(cached bool, found bool, err error)

	slots chan struct{} // one per directory request under way (MaxInFlight)
}

// SetObserver has f called after every lookup that reached the cache or the directory:
// whether the cache answered, whether someone was found, and the error (metrics). Set it
// before the first lookup.
func (s *Service) SetObserver(f func(cached, found bool, err error)) { s.observe = f }

type entry struct {
	matches []crm.Match
	expires time.Time
}

type flight struct {
	done    chan struct{}
	matches []crm.Match
	err     error
}

// New returns a Service in front of dir.
func New(dir crm.Directory, cfg Config, log *slog.Logger) (*Service, error) {
	if dir == nil {
		return nil, errors.New("lookup: no CRM directory configured")
	}
	if cfg.PopTimeout == 0 {
		cfg.PopTimeout = 300 * time.Millisecond
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = time.Minute
	}
	if cfg.NegativeTTL == 0 {
		cfg.NegativeTTL = 30 * time.Second
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 10000
	}
	if cfg.MaxInFlight < 0 {
		return nil, fmt.Errorf("lookup: max_in_flight must not be negative")
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = 64
	}
	if len(cfg.EntityPriority) == 0 {
		cfg.EntityPriority = []crm.Entity{crm.Contact, crm.Account, crm.Lead}
	}
	prio := map[crm.Entity]int{}
	for i, e := range cfg.EntityPriority {
		if !e.Valid() {
			return nil, fmt.Errorf("lookup: entity_priority: %q is not contact, account or lead", e)
		}
		prio[e] = i
	}
	s := &Service{dir: dir, log: log, now: time.Now,
		cache: map[string]entry{}, flights: map[string]*flight{}, slots: make(chan struct{}, cfg.MaxInFlight)}
	s.set.Store(&settings{cfg: cfg, prio: prio})
	return s, nil
}

// settings are a Config with its defaults applied and the entity ranks it gives.
type settings struct {
	cfg  Config
	prio map[crm.Entity]int
}

// Reconfigure puts cfg in force (SIGHUP): lookups from now on use its timeouts, cache
// sizes and ranking; the cache is emptied, since its answers were ranked and kept under
// the old settings. Lookups in flight finish under the settings they started with.
func (s *Service) Reconfigure(cfg Config) error {
	n, err := New(s.dir, cfg, s.log)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.set.Store(n.settings())
	clear(s.cache)
	s.mu.Unlock()
	return nil
}

func (s *Service) settings() *settings { return s.set.Load() }

// Config returns the configuration in force, defaults applied.
func (s *Service) Config() Config { return s.settings().cfg }

// Requests returns how many requests reached the directory so far.
func (s *Service) Requests() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func cacheKey(n phone.Number) string {
	if n.E164 != "" {
		return n.E164
	}
	return "#" + n.Digits
}

// Lookup returns the records matching n, best first. A withheld number never reaches the
// directory. Concurrent lookups of one number share one directory request; when ctx ends
// first, Lookup returns ctx's error while the request goes on, so that a later Lookup of
// the same number joins it or finds its answer in the cache.
func (s *Service) Lookup(ctx context.Context, n phone.Number) (Result, error) {
	if !n.Lookupable() {
		return Result{}, nil
	}
	key := cacheKey(n)
	now := s.now()
	s.mu.Lock()
	if e, ok := s.cache[key]; ok && now.Before(e.expires) {
		s.mu.Unlock()
		if s.observe != nil {
			s.observe(true, len(e.matches) > 0, nil)
		}
		return Result{Matches: e.matches, Cached: true}, nil
	}
	f, shared := s.flights[key]
	if !shared {
		f = &flight{done: make(chan struct{})}
		s.flights[key] = f
		s.requests++
		// The request outlives the caller that started it: others may be waiting, and
		// its answer fills the cache.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.settings().cfg.Timeout)
		go func() {
			defer cancel()
			s.fly(rctx, key, n, f)
		}()
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		if s.observe != nil {
			s.observe(false, len(f.matches) > 0, f.err)
		}
		return Result{Matches: f.matches, Shared: shared}, f.err
	case <-ctx.Done():
		if s.observe != nil {
			s.observe(false, false, ctx.Err())
		}
		return Result{}, ctx.Err()
	}
}

// Cached returns the cached answer for n without asking the directory: a withheld
// number is answered (nobody), a number neither cached nor withheld is not.
func (s *Service) Cached(n phone.Number) ([]crm.Match, bool) {
	if !n.Lookupable() {
		return nil, true
	}
	key := cacheKey(n)
	now := s.now()
	s.mu.Lock()
	e, ok := s.cache[key]
	s.mu.Unlock()
	if !ok || !now.Before(e.expires) {
		return nil, false
	}
	if s.observe != nil {
		s.observe(true, len(e.matches) > 0, nil)
	}
	return e.matches, true
}

func (s *Service) fly(ctx context.Context, key string, n phone.Number, f *flight) {
	var ms []crm.Match
	var err error
	select {
	case s.slots <- struct{}{}:
		ms, err = s.dir.Lookup(ctx, n)
		<-s.slots
	case <-ctx.Done():
		err = fmt.Errorf("waiting for one of %d CRM requests under way to finish: %w", cap(s.slots), ctx.Err())
	}
	if err != nil {
		err = fmt.Errorf("lookup: %w", err)
	} else {
		ms = s.rank(ms)
	}
	f.matches, f.err = ms, err
	s.mu.Lock()
	delete(s.flights, key)
	cfg := s.settings().cfg
	if err == nil && cfg.CacheTTL > 0 {
		ttl := cfg.CacheTTL
		if len(ms) == 0 {
			ttl = cfg.NegativeTTL
		}
		if len(s.cache) >= cfg.CacheSize {
			s.evictLocked()
		}
		s.cache[key] = entry{matches: ms, expires: s.now().Add(ttl)}
	}
	s.mu.Unlock()
	close(f.done)
}

// evictLocked drops expired entries, and then about a tenth of the rest (map order is
// random enough for a cache whose entries live a minute).
func (s *Service) evictLocked() {
	now := s.now()
	for k, e := range s.cache {
		if !now.Before(e.expires) {
			delete(s.cache, k)
		}
	}
	drop := len(s.cache) - s.settings().cfg.CacheSize*9/10
	for k := range s.cache {
		if drop <= 0 {
			break
		}
		delete(s.cache, k)
		drop--
	}
}

// Invalidate forgets the cached answer for a number (after a record was created or
// changed through Ringside).
func (s *Service) Invalidate(n phone.Number) {
	s.mu.Lock()
	delete(s.cache, cacheKey(n))
	s.mu.Unlock()
}

// rank orders matches: exact before suffix, then by entity priority, then by name; a
// record matched through several of its numbers appears once, with its best match.
func (s *Service) rank(ms []crm.Match) []crm.Match {
	if len(ms) == 0 {
		return nil
	}
	prio := s.settings().prio
	best := map[crm.Ref]int{}
	out := ms[:0:0]
	for _, m := range ms {
		if i, ok := best[m.Ref]; ok {
			if quality(m.How) < quality(out[i].How) {
				out[i] = m
			}
			continue
		}
		best[m.Ref] = len(out)
		out = append(out, m)
	}
	slices.SortStableFunc(out, func(a, b crm.Match) int {
		return cmp.Or(
			cmp.Compare(quality(a.How), quality(b.How)),
			cmp.Compare(priority(prio, a.Entity), priority(prio, b.Entity)),
			cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.ID, b.ID),
		)
	})
	return out
}

func quality(k phone.MatchKind) int {
	switch k {
	case phone.MatchExact:
		return 0
	case phone.MatchSuffix:
		return 1
	}
	return 2
}

func priority(prio map[crm.Entity]int, e crm.Entity) int {
	if p, ok := prio[e]; ok {
		return p
	}
	return len(prio)
}
