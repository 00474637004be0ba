// Package builtin is Ringside's own CRM directory, for when there is no CRM yet: accounts,
// contacts and leads kept in the store, served from an in-memory phone index, with CSV
// import, demo data and phone-call activities.
package builtin

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/phone"
)

// Store is what the directory needs from the store; *store.Store satisfies it.
type Store interface {
	// PutRecords inserts or replaces records by ID in one transaction and returns the
	// last change sequence number.
	PutRecords(ctx context.Context, recs []crm.Record) (int64, error)
	// RecordsSince calls fn for every record written after sequence number after.
	RecordsSince(ctx context.Context, after int64, fn func(r crm.Record, seq int64) error) (int64, error)
	// RecordsSeq returns the current change sequence number (cheap: polled every second).
	RecordsSeq(ctx context.Context) (int64, error)
	// PutActivity upserts an activity by its key.
	PutActivity(ctx context.Context, a crm.Activity) error
	// Activities lists the activities of a call, or of a record.
	Activities(ctx context.Context, callID string, regarding *crm.Ref) ([]crm.Activity, error)
}

// SampleConfig is a commented sample of the configuration (sample.yaml).
//
//go:embed sample.yaml
var SampleConfig string

// Config is the crm section of ringside.yaml for kind builtin.
type Config struct {
	// BaseURL is put before "/crm/{entity}/{id}" in record links; default "" (links
	// relative to the Ringside web UI).
	BaseURL string `yaml:"base_url"`
	// Poll is how often to look for records written by another process (such as
	// `ringside import` while `serve` runs); default 1s.
	Poll time.Duration `yaml:"poll"`
}

// Directory is the built-in CRM directory. Lookups are answered from memory.
type Directory struct {
	st     Store
	parser *phone.Parser
	cfg    Config
	log    *slog.Logger
	idx    *phone.Index

	mu       sync.RWMutex
	recs     *records          // "entity/id" → record, as stored (packed, URL not kept)
	accounts map[string]string // folded account name → account ID

	syncMu sync.Mutex // one Sync at a time
	seq    int64      // change sequence applied (guarded by syncMu)
	poke   chan struct{}
}

// New returns an empty directory over st; call Load before serving lookups, and Run to
// follow writes by other processes. It does no I/O.
func New(st Store, parser *phone.Parser, cfg Config, log *slog.Logger) (*Directory, error) {
	if st == nil || parser == nil {
		return nil, fmt.Errorf("builtin: a store and a phone parser are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Poll < 0 {
		return nil, fmt.Errorf("builtin: poll must not be negative, got %s", cfg.Poll)
	}
	if cfg.Poll == 0 {
		cfg.Poll = time.Second
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	return &Directory{
		st: st, parser: parser, cfg: cfg, log: log,
		idx:      phone.NewIndex(parser.Config().MinSuffixDigits),
		recs:     newRecords(),
		accounts: map[string]string{},
		poke:     make(chan struct{}, 1),
	}, nil
}

// Load reads every record into memory. It is Sync from the start: calling it again
// only applies what changed.
func (d *Directory) Load(ctx context.Context) error {
	if err := d.Sync(ctx); err != nil {
		return err
	}
	d.log.Info("directory loaded", "records", d.Len())
	return nil
}

// Sync applies the records written (by any process) since the last Sync.
func (d *Directory) Sync(ctx context.Context) error {
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	const batch = 4096
	var pending []crm.Record
	seq, err := d.st.RecordsSince(ctx, d.seq, func(r crm.Record, _ int64) error {
		pending = append(pending, r)
		if len(pending) == batch {
			d.applyAll(pending)
			pending = pending[:0]
		}
		return nil
	})
	d.applyAll(pending)
	d.seq = seq // what was applied stays applied, even after an error
	if err != nil {
		return fmt.Errorf("builtin: sync: %w", err)
	}
	return nil
}

// Refresh asks Run to Sync now rather than at its next poll.
func (d *Directory) Refresh() {
	select {
	case d.poke <- struct{}{}:
	default:
	}
}

// Run follows the store's change sequence until ctx is done, so that records written by
// another process become visible within Config.Poll. It returns nil on cancellation.
func (d *Directory) Run(ctx context.Context) error {
	t := time.NewTicker(d.cfg.Poll)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-d.poke:
		}
		err := d.syncIfChanged(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && !failing:
			d.log.Warn("directory sync failing", "err", err)
		case err == nil && failing:
			d.log.Info("directory sync recovered")
		}
		failing = err != nil
	}
}

func (d *Directory) syncIfChanged(ctx context.Context) error {
	seq, err := d.st.RecordsSeq(ctx)
	if err != nil {
		return fmt.Errorf("builtin: poll: %w", err)
	}
	d.syncMu.Lock()
	current := d.seq
	d.syncMu.Unlock()
	if seq == current {
		return nil
	}
	return d.Sync(ctx)
}

// Len returns the number of records in memory.
func (d *Directory) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.recs.len()
}

func key(ref crm.Ref) string { return string(ref.Entity) + "/" + ref.ID }

// URL returns the link of a record: Config.BaseURL + "/crm/{entity}/{id}".
func (d *Directory) URL(ref crm.Ref) string {
	return d.cfg.BaseURL + "/crm/" + string(ref.Entity) + "/" + ref.ID
}

// fold is the form of an account name used to find it again: case and spacing ignored.
func fold(name string) string { return strings.ToLower(strings.Join(strings.Fields(name), " ")) }

// apply puts r (as stored) into memory and the phone index.
func (d *Directory) apply(r crm.Record) { d.install(d.prepare(r)) }

// prepared is a record with its numbers parsed, ready for install.
type prepared struct {
	rec     crm.Record
	entries []phone.Entry
}

// prepare parses r's numbers: the slow part of applying a record, done outside locks.
func (d *Directory) prepare(r crm.Record) prepared {
	r.URL = d.URL(r.Ref)
	entries := make([]phone.Entry, 0, len(r.Phones))
	for _, p := range r.Phones {
		entries = append(entries, phone.Entry{Field: p.Field, Number: d.parser.ParseStored(p.Raw, r.Country)})
	}
	return prepared{r, entries}
}

func (d *Directory) install(p prepared) {
	r := p.rec
	k := key(r.Ref)
	d.mu.Lock()
	if r.Entity == crm.Account {
		if name, ok := d.recs.name(k); ok && d.accounts[fold(name)] == r.ID {
			delete(d.accounts, fold(name))
		}
	}
	d.recs.put(k, r)
	if r.Entity == crm.Account {
		if _, taken := d.accounts[fold(r.Name)]; !taken {
			d.accounts[fold(r.Name)] = r.ID
		}
	}
	d.mu.Unlock()
	d.idx.Set(k, p.entries)
}

// applyAll applies many records in order, parsing their numbers on all CPUs (loading
// a million records is mostly number parsing).
func (d *Directory) applyAll(recs []crm.Record) {
	ps := make([]prepared, len(recs))
	workers := min(runtime.GOMAXPROCS(0), 1+len(recs)/256)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(recs); i += workers {
				ps[i] = d.prepare(recs[i])
			}
		})
	}
	wg.Wait()
	for _, p := range ps {
		d.install(p)
	}
}

// view returns the record stored under key as callers see it: with its URL, and a
// contact's company is its account's name. The caller holds d.mu (read).
func (d *Directory) view(key string) (crm.Record, bool) {
	out, ok := d.recs.getURL(key, true, d.cfg.BaseURL)
	if !ok {
		return crm.Record{}, false
	}
	if out.Entity == crm.Contact && out.AccountID != "" {
		if name, ok := d.recs.name("account/" + out.AccountID); ok {
			out.Company = name
		}
	}
	return out, true
}

// Lookup returns every record with a phone matching n, exact matches before suffix
// matches. It touches only memory.
func (d *Directory) Lookup(_ context.Context, n phone.Number) ([]crm.Match, error) {
	hits := d.idx.Lookup(n)
	if len(hits) == 0 {
		return nil, nil
	}
	out := make([]crm.Match, 0, len(hits))
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, h := range hits {
		r, ok := d.view(h.Key)
		if !ok {
			continue // replaced between the index and the map; the next lookup sees it
		}
		out = append(out, crm.Match{Record: r, Number: h.Stored.Raw, Field: h.Field, How: h.How})
	}
	return out, nil
}

// Get returns one record, or an error wrapping crm.ErrNotFound.
func (d *Directory) Get(ctx context.Context, ref crm.Ref) (crm.Record, error) {
	if r, ok := d.get(ref); ok {
		return r, nil
	}
	// Perhaps another process just wrote it.
	if err := d.Sync(ctx); err != nil {
		return crm.Record{}, err
	}
	if r, ok := d.get(ref); ok {
		return r, nil
	}
	return crm.Record{}, fmt.Errorf("builtin: %s/%s: %w", ref.Entity, ref.ID, crm.ErrNotFound)
}

func (d *Directory) get(ref crm.Ref) (crm.Record, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.view(key(ref))
}

// newID returns a fresh record ID.
func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// A FieldError says what is wrong with a record given to Create.
type FieldError struct {
	Field string // first_name, company, country, …
	Msg   string
}

func (e *FieldError) Error() string { return "builtin: " + e.Field + ": " + e.Msg }

// normalise checks r and fills in what follows from the rest (Name, Country case).
func normalise(r *crm.Record) error {
	if !r.Entity.Valid() {
		return &FieldError{"type", fmt.Sprintf("%q is not contact, lead or account", r.Entity)}
	}
	r.Country = strings.ToUpper(strings.TrimSpace(r.Country))
	if r.Country != "" && phonenumbers.GetCountryCodeForRegion(r.Country) == 0 {
		return &FieldError{"country", fmt.Sprintf("%q is not an ISO 3166 country code (such as DE, AT, CH, GB, US)", r.Country)}
	}
	switch r.Entity {
	case crm.Account:
		if strings.TrimSpace(r.Name) == "" {
			r.Name = r.Company
		}
		if strings.TrimSpace(r.Name) == "" {
			return &FieldError{"company", "an account needs a name"}
		}
		r.Company, r.FirstName, r.LastName, r.AccountID = "", "", "", ""
	default:
		if strings.TrimSpace(r.FirstName) == "" && strings.TrimSpace(r.LastName) == "" {
			if strings.TrimSpace(r.Name) == "" {
				return &FieldError{"last_name", "a " + string(r.Entity) + " needs a first or last name"}
			}
		} else {
			r.Name = strings.TrimSpace(strings.TrimSpace(r.FirstName) + " " + strings.TrimSpace(r.LastName))
		}
	}
	var ps []crm.Phone
	for _, p := range r.Phones {
		if strings.TrimSpace(p.Raw) == "" {
			continue
		}
		if p.Field == "" {
			p.Field = crm.FieldBusiness
		}
		ps = append(ps, p)
	}
	r.Phones = ps
	return nil
}

// Create stores a new record (its ID is ignored) and returns it as stored. A contact
// with a company and no account is linked to the account of that name, which is
// created when there is none.
func (d *Directory) Create(ctx context.Context, r crm.Record) (crm.Record, error) {
	r.ID = newID()
	return d.save(ctx, r, "create")
}

// Update replaces the record r.Ref (which must exist, with the same entity) and returns
// it as stored; a contact's company is linked as in Create.
func (d *Directory) Update(ctx context.Context, r crm.Record) (crm.Record, error) {
	if _, err := d.Get(ctx, r.Ref); err != nil {
		return crm.Record{}, err
	}
	return d.save(ctx, r, "update")
}

func (d *Directory) save(ctx context.Context, r crm.Record, what string) (crm.Record, error) {
	if err := normalise(&r); err != nil {
		return crm.Record{}, err
	}
	r.URL = ""
	batch := []crm.Record{r}
	if r.Entity == crm.Contact && r.AccountID == "" && strings.TrimSpace(r.Company) != "" {
		if err := d.Sync(ctx); err != nil {
			return crm.Record{}, err
		}
		d.mu.RLock()
		id, ok := d.accounts[fold(r.Company)]
		d.mu.RUnlock()
		if !ok {
			acc := crm.Record{Ref: crm.Ref{Entity: crm.Account, ID: newID()}, Name: strings.TrimSpace(r.Company), Country: r.Country}
			batch = append(batch, acc)
			id = acc.ID
		}
		batch[0].AccountID = id
	}
	if err := d.write(ctx, batch); err != nil {
		return crm.Record{}, fmt.Errorf("builtin: %s %s: %w", what, r.Entity, err)
	}
	rec, _ := d.get(batch[0].Ref)
	return rec, nil
}

// Seed stores recs (which carry their IDs, such as DemoRecords) unless a record with
// that ID exists already: seeding twice changes nothing, and edits survive.
func (d *Directory) Seed(ctx context.Context, recs []crm.Record) error {
	if err := d.Sync(ctx); err != nil {
		return err
	}
	var todo []crm.Record
	for _, r := range recs {
		if r.ID == "" {
			return fmt.Errorf("builtin: seed: record %q has no id", r.Name)
		}
		if err := normalise(&r); err != nil {
			return fmt.Errorf("builtin: seed %s: %w", r.ID, err)
		}
		if _, exists := d.get(r.Ref); !exists {
			r.URL = ""
			todo = append(todo, r)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if err := d.write(ctx, todo); err != nil {
		return fmt.Errorf("builtin: seed: %w", err)
	}
	return nil
}

// write stores recs in one transaction and applies them to memory at once. It holds
// syncMu so that a concurrent Sync cannot apply an older copy of them afterwards.
func (d *Directory) write(ctx context.Context, recs []crm.Record) error {
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	if _, err := d.st.PutRecords(ctx, recs); err != nil {
		return err
	}
	d.applyAll(recs)
	return nil
}

// LogCall records a phone-call activity; a second call with the same a.Key updates it.
func (d *Directory) LogCall(ctx context.Context, a crm.Activity) error {
	if a.Key == "" {
		return fmt.Errorf("builtin: log call %s: the activity has no key", a.CallID)
	}
	if err := d.st.PutActivity(ctx, a); err != nil {
		return fmt.Errorf("builtin: log call %s: %w", a.CallID, err)
	}
	return nil
}

// Activities returns the activities logged for call callID, or (with callID "") those
// regarding ref.
func (d *Directory) Activities(ctx context.Context, callID string, regarding *crm.Ref) ([]crm.Activity, error) {
	if callID == "" && regarding == nil {
		return nil, errors.New("builtin: activities: give a call id or a record")
	}
	as, err := d.st.Activities(ctx, callID, regarding)
	if err != nil {
		return nil, fmt.Errorf("builtin: activities: %w", err)
	}
	return as, nil
}

// Interface guards.
var (
	_ crm.Directory      = (*Directory)(nil)
	_ crm.Creator        = (*Directory)(nil)
	_ crm.ActivityLogger = (*Directory)(nil)
)
