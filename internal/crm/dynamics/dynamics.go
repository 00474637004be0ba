// Package dynamics is the Microsoft Dynamics 365 (Dataverse) CRM adapter: it answers
// lookups from a local phone index kept current by change tracking, creates records and
// writes phone-call activities idempotently through the Web API.
package dynamics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/phone"
	"github.com/ringside/ringside/internal/store"
)

// IndexRow is one persisted index row: a record's key and its encoded data.
type IndexRow = store.IndexRow

// IndexStore persists the phone index and the sync state (delta links), so that a
// restart answers lookups without a sync. internal/store implements it.
type IndexStore interface {
	SetState(ctx context.Context, scope, key string, value []byte) error
	// State returns the value stored under key, or an error wrapping store.ErrNotFound.
	State(ctx context.Context, scope, key string) ([]byte, error)
	PutIndexRows(ctx context.Context, scope string, rows []IndexRow) error
	DeleteIndexRows(ctx context.Context, scope string, keys []string) error
	LoadIndexRows(ctx context.Context, scope string, fn func(IndexRow) error) error
	ClearIndex(ctx context.Context, scope string) error
}

// nopStore keeps nothing.
type nopStore struct{}

func (nopStore) SetState(context.Context, string, string, []byte) error { return nil }
func (nopStore) State(context.Context, string, string) ([]byte, error) {
	return nil, store.ErrNotFound
}
func (nopStore) PutIndexRows(context.Context, string, []IndexRow) error            { return nil }
func (nopStore) DeleteIndexRows(context.Context, string, []string) error           { return nil }
func (nopStore) LoadIndexRows(context.Context, string, func(IndexRow) error) error { return nil }
func (nopStore) ClearIndex(context.Context, string) error                          { return nil }

// An Option changes how New builds a Directory.
type Option func(*options)

type options struct {
	getenv    func(string) string
	now       func() time.Time
	transport http.RoundTripper
}

// WithGetenv sets how client_secret_env is read (default os.Getenv).
func WithGetenv(f func(string) string) Option { return func(o *options) { o.getenv = f } }

// WithClock sets the clock used for token expiry and Retry-After dates.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithTransport sets the HTTP transport (default: a clone of http.DefaultTransport).
func WithTransport(rt http.RoundTripper) Option { return func(o *options) { o.transport = rt } }

// Directory is the Dynamics 365 adapter. It implements crm.Directory, crm.Creator and
// crm.ActivityLogger. Its methods are safe for concurrent use.
type Directory struct {
	cfg    *resolved
	parser *phone.Parser
	st     IndexStore
	log    *slog.Logger
	c      *client
	opts   options
	scope  string
	fp     string

	idx   *phone.Index
	recMu sync.RWMutex
	recs  map[string]*row // key entity/id -> record

	syncMu sync.Mutex // one sync (or load) at a time
	loaded bool
	ready  atomic.Bool // every table has been fully synced (or loaded with its delta link)
	statMu sync.Mutex
	status crm.SyncStatus // Ready and Records are filled in by SyncStatus

	userMu sync.Mutex
	users  map[string]string // agent email -> systemuserid ("" = not found)

	completed idSet     // phonecalls this adapter completed (a later write reopens them at once)
	batches   committer // change sets waiting to go in the next $batch

	noGroupCommit bool // each change set in its own request (benchmark comparison)
}

// New validates cfg, reads the client secret (from the environment variable named by
// client_secret_env, through WithGetenv, or from client_secret_file) and returns a
// Directory. It does no network I/O; call Run to keep the index current. st persists the
// index; nil keeps it in memory only (for validation, e.g. config check).
func New(cfg Config, parser *phone.Parser, st IndexStore, log *slog.Logger, opts ...Option) (*Directory, error) {
	o := options{getenv: getenvDefault, now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	if parser == nil {
		return nil, errors.New("dynamics: a phone parser is required")
	}
	if st == nil {
		st = nopStore{} // validation only (config check): the index then lives in memory only
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r, err := resolve(cfg, o.getenv)
	if err != nil {
		return nil, err
	}
	rt := o.transport
	if rt == nil {
		rt = http.DefaultTransport.(*http.Transport).Clone()
	}
	// No cookie jar: without the affinity cookie, requests spread over the web servers,
	// each with its own service protection budget.
	hc := &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	d := &Directory{
		cfg: r, parser: parser, st: st, log: log, opts: o,
		c:     newClient(r, hc, o.now),
		scope: "dynamics/" + strings.ToLower(r.base.Host),
		fp:    r.fingerprint(parser.Config().DefaultRegion),
		idx:   phone.NewIndex(parser.Config().MinSuffixDigits),
		recs:  map[string]*row{},
		users: map[string]string{},
	}
	return d, nil
}

// SyncStatus reports the local phone index: complete or not, the sync under way or the
// last one, and the last error (crm.SyncReporter).
func (d *Directory) SyncStatus() crm.SyncStatus {
	d.statMu.Lock()
	st := d.status
	d.statMu.Unlock()
	st.Ready = d.ready.Load()
	d.recMu.RLock()
	st.Records = len(d.recs)
	d.recMu.RUnlock()
	return st
}

func (d *Directory) setStatus(f func(*crm.SyncStatus)) {
	d.statMu.Lock()
	f(&d.status)
	d.statMu.Unlock()
}

// Ready reports whether lookups are answered from a complete local index (rather than by
// live queries).
func (d *Directory) Ready() bool { return d.ready.Load() }

// Lookup returns the records with a phone matching n: from the local index when it is
// complete (no request to the CRM), else by one live query for the likely spellings of n.
func (d *Directory) Lookup(ctx context.Context, n phone.Number) ([]crm.Match, error) {
	if !n.Lookupable() {
		return nil, nil
	}
	if d.ready.Load() {
		return d.lookupIndex(n), nil
	}
	return d.lookupLive(ctx, n)
}

func (d *Directory) lookupIndex(n phone.Number) []crm.Match {
	hits := d.idx.Lookup(n)
	if len(hits) == 0 {
		return nil
	}
	out := make([]crm.Match, 0, len(hits))
	d.recMu.RLock()
	defer d.recMu.RUnlock()
	for _, h := range hits {
		rw := d.recs[h.Key]
		if rw == nil || containsKey(out, rw) {
			continue
		}
		out = append(out, crm.Match{Record: d.record(rw), Number: h.Stored.Raw, Field: h.Field, How: h.How})
	}
	return out
}

func containsKey(ms []crm.Match, rw *row) bool {
	for _, m := range ms {
		if m.ID == rw.ID && m.Entity == rw.Entity {
			return true
		}
	}
	return false
}

// Get reads one record from the CRM.
func (d *Directory) Get(ctx context.Context, ref crm.Ref) (crm.Record, error) {
	t, ok := d.cfg.table(ref.Entity)
	if !ok {
		t = newTable(ref.Entity, nil)
		if !ref.Entity.Valid() {
			return crm.Record{}, fmt.Errorf("dynamics: get %s: unknown entity: %w", ref.Entity, crm.ErrNotFound)
		}
	}
	if !isGUID(ref.ID) {
		return crm.Record{}, fmt.Errorf("dynamics: get %s %q: not a record id: %w", ref.Entity, ref.ID, crm.ErrNotFound)
	}
	u := d.cfg.api + t.set + "(" + ref.ID + ")?$select=" + t.selectList()
	var m map[string]any
	if err := d.c.getJSON(ctx, "get "+string(ref.Entity), u, []string{annotations}, &m); err != nil {
		return crm.Record{}, err
	}
	rw := rowFromJSON(t, m)
	if rw == nil {
		return crm.Record{}, fmt.Errorf("dynamics: get %s: reply has no %s", ref.Entity, t.idAttr)
	}
	return d.record(rw), nil
}

// RecordURL is where "Open in CRM" goes for ref (Unified Interface main.aspx).
func (d *Directory) RecordURL(ref crm.Ref) string {
	q := "pagetype=entityrecord&etn=" + url.QueryEscape(string(ref.Entity)) + "&id=" + url.QueryEscape(ref.ID)
	if d.cfg.AppID != "" {
		q = "appid=" + d.cfg.AppID + "&" + q
	}
	return strings.TrimSuffix(d.cfg.base.String(), "/") + "/main.aspx?" + q
}

// CreateFormURL is the URL of the CRM's own new-record form for r.Entity, pre-filled
// with r's names, email and phones (the open_create_form action).
func (d *Directory) CreateFormURL(r crm.Record) string {
	t, ok := d.cfg.table(r.Entity)
	if !ok {
		t = newTable(r.Entity, nil)
	}
	fields := createBody(t, r, false)
	var pairs []string
	for _, k := range sortedKeys(fields) {
		if s, ok := fields[k].(string); ok && s != "" {
			pairs = append(pairs, k+"="+encodeURIComponent(s))
		}
	}
	q := "pagetype=entityrecord&etn=" + url.QueryEscape(string(r.Entity))
	if d.cfg.AppID != "" {
		q = "appid=" + d.cfg.AppID + "&" + q
	}
	if len(pairs) > 0 {
		q += "&extraqs=" + encodeURIComponent(strings.Join(pairs, "&"))
	}
	return strings.TrimSuffix(d.cfg.base.String(), "/") + "/main.aspx?" + q
}

// encodeURIComponent escapes like JavaScript's encodeURIComponent (spaces as %20).
func encodeURIComponent(s string) string {
	const keep = "-_.!~*'()"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// row is what the index keeps of a record.
type row struct {
	Entity  crm.Entity  `json:"-"`
	ID      string      `json:"-"`
	Name    string      `json:"n,omitempty"`
	First   string      `json:"f,omitempty"`
	Last    string      `json:"l,omitempty"`
	Company string      `json:"c,omitempty"`
	Email   string      `json:"e,omitempty"`
	Account string      `json:"a,omitempty"`
	Phones  [][2]string `json:"p"` // column, raw
	// Parsed keeps the parsed numbers, so that loading the index after a restart does not
	// parse every number again (the fingerprint changes when the parsing settings do).
	Parsed []parsedNumber `json:"q,omitempty"`
}

type parsedNumber struct {
	Field     string `json:"f"`
	Raw       string `json:"r"`
	E164      string `json:"e,omitempty"`
	Region    string `json:"g,omitempty"`
	Extension string `json:"x,omitempty"`
	Digits    string `json:"d,omitempty"`
}

// loadedEntries returns the index entries of a row read from the store.
func (rw *row) loadedEntries() []phone.Entry {
	es := make([]phone.Entry, 0, len(rw.Parsed))
	for _, p := range rw.Parsed {
		es = append(es, phone.Entry{Field: p.Field, Number: phone.Number{Raw: p.Raw, E164: p.E164, Region: p.Region, Extension: p.Extension, Digits: p.Digits}})
	}
	return es
}

func (rw *row) key() string { return string(rw.Entity) + "/" + rw.ID }

func (d *Directory) record(rw *row) crm.Record {
	r := crm.Record{
		Ref:  crm.Ref{Entity: rw.Entity, ID: rw.ID},
		Name: rw.Name, FirstName: rw.First, LastName: rw.Last,
		Company: rw.Company, Email: rw.Email, AccountID: rw.Account,
		URL: d.RecordURL(crm.Ref{Entity: rw.Entity, ID: rw.ID}),
	}
	for _, p := range rw.Phones {
		r.Phones = append(r.Phones, crm.Phone{Field: p[0], Raw: p[1]})
	}
	return r
}

// annotations asks for formatted values of lookups (the contact's company name).
const annotations = `odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname"`

// rowFromJSON reads one record of t from a Web API reply (nil without an id).
func rowFromJSON(t table, m map[string]any) *row {
	id, _ := m[t.idAttr].(string)
	if id == "" {
		return nil
	}
	str := func(k string) string { s, _ := m[k].(string); return s }
	rw := &row{Entity: t.entity, ID: strings.ToLower(id), Email: str("emailaddress1")}
	switch t.entity {
	case crm.Account:
		rw.Name = str("name")
	case crm.Contact:
		rw.Name, rw.First, rw.Last = str("fullname"), str("firstname"), str("lastname")
		rw.Company = str("_parentcustomerid_value@OData.Community.Display.V1.FormattedValue")
		if str("_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname") == "account" {
			rw.Account = str("_parentcustomerid_value")
		}
	case crm.Lead:
		rw.Name, rw.First, rw.Last, rw.Company = str("fullname"), str("firstname"), str("lastname"), str("companyname")
	}
	if rw.Name == "" {
		rw.Name = strings.TrimSpace(rw.First + " " + rw.Last)
	}
	for _, c := range t.columns {
		if v := strings.TrimSpace(str(c)); v != "" {
			rw.Phones = append(rw.Phones, [2]string{c, v})
		}
	}
	return rw
}

// entries parses rw's phones for the index.
func (d *Directory) entries(rw *row) []phone.Entry {
	es := make([]phone.Entry, 0, len(rw.Phones))
	for _, p := range rw.Phones {
		n := d.parser.ParseStored(p[1], "")
		if n.E164 == "" && n.Digits == "" {
			continue
		}
		es = append(es, phone.Entry{Field: p[0], Number: n})
	}
	return es
}

// put indexes rw in memory (nil phones removes it) and returns whether it stays indexed.
func (d *Directory) put(rw *row) bool { return d.putEntries(rw, d.entries(rw)) }

// parseAll parses the phones of rows on every CPU (parsing dominates a sync page).
func (d *Directory) parseAll(rows []*row) [][]phone.Entry {
	out := make([][]phone.Entry, len(rows))
	workers := min(runtime.GOMAXPROCS(0), max(len(rows)/256, 1))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(rows); i += workers {
				out[i] = d.entries(rows[i])
			}
		})
	}
	wg.Wait()
	return out
}

// putEntries indexes rw with its parsed phones es.
func (d *Directory) putEntries(rw *row, es []phone.Entry) bool {
	rw.Parsed = rw.Parsed[:0]
	for _, e := range es {
		n := e.Number
		rw.Parsed = append(rw.Parsed, parsedNumber{Field: e.Field, Raw: n.Raw, E164: n.E164, Region: n.Region, Extension: n.Extension, Digits: n.Digits})
	}
	key := rw.key()
	d.idx.Set(key, es)
	d.recMu.Lock()
	defer d.recMu.Unlock()
	if len(es) == 0 {
		delete(d.recs, key)
		return false
	}
	d.recs[key] = rw
	return true
}

func (d *Directory) remove(key string) bool {
	d.idx.Set(key, nil)
	d.recMu.Lock()
	defer d.recMu.Unlock()
	_, ok := d.recs[key]
	delete(d.recs, key)
	return ok
}

func encodeRow(rw *row) []byte {
	b, _ := json.Marshal(rw) // a row always encodes
	return b
}

func decodeRow(key string, data []byte) (*row, error) {
	ent, id, ok := strings.Cut(key, "/")
	if !ok || !crm.Entity(ent).Valid() {
		return nil, fmt.Errorf("dynamics: bad index key %q", key)
	}
	rw := &row{Entity: crm.Entity(ent), ID: id}
	if err := json.Unmarshal(data, rw); err != nil {
		return nil, fmt.Errorf("dynamics: index row %s: %w", key, err)
	}
	return rw, nil
}

// Interface guards.
var (
	_ crm.Directory      = (*Directory)(nil)
	_ crm.Creator        = (*Directory)(nil)
	_ crm.ActivityLogger = (*Directory)(nil)
)
