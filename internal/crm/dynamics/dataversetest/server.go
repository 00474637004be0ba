// Package dataversetest is a fake of the Dataverse Web API and of the Microsoft Entra ID
// token endpoint, built from the documented behaviour, for the dynamics adapter's tests:
// client-credentials tokens that expire, $select/$filter/$top with a strict filter
// parser, paging with Prefer: odata.maxpagesize and @odata.nextLink, change tracking with
// delta links and $deletedEntity rows, create with Prefer: return=representation, PATCH
// upsert with If-Match/If-None-Match, $batch with atomic change sets, the error JSON
// shape, the service protection limits (requests per user in a sliding window and
// concurrent requests, answered 429 with Retry-After and Dataverse's error codes), and
// injectable 429 (with Retry-After) and 5xx faults.
package dataversetest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configure a Server.
type Options struct {
	Tenant        string        // default "tenant"
	ClientID      string        // default "client"
	ClientSecret  string        // default "secret"
	TokenLifetime time.Duration // default 1h
	PageLatency   time.Duration // simulated latency of every collection page
	Latency       time.Duration // simulated latency of every API request (a $batch once)
	NoLeads       bool          // an environment without Dynamics 365 Sales (no lead table)
	Now           func() time.Time

	// Service protection limits, per user (application): at most RequestLimit requests
	// in any Window (a $batch counts as one request, as Dataverse counts it), and at
	// most Concurrency requests at once. Beyond, requests get 429 with Retry-After and
	// error 0x80072322 (requests) or 0x80072326 (concurrency). Defaults: Dataverse's
	// 6000 in 5 minutes and 52.
	RequestLimit int
	Window       time.Duration
	Concurrency  int
}

// Service protection error codes (the Web API's hex codes).
const (
	CodeRequestLimit     = "0x80072322"
	CodeExecutionTime    = "0x80072321"
	CodeConcurrencyLimit = "0x80072326"
)

// Stats counts what the fake was asked.
type Stats struct {
	Requests   int // API requests (a $batch is one), throttled ones included
	Operations int // requests, with each operation inside a $batch counted instead of the $batch
	Throttled  int // requests refused by the service protection limits
}

// A Fault makes the next Count API requests (matching Method and PathPrefix when set)
// fail with Status, and a Retry-After header when RetryAfter is set.
type Fault struct {
	Status     int
	RetryAfter string
	Count      int
	Method     string
	PathPrefix string // relative to /api/data/v9.2/, e.g. "phonecalls"
}

// Server is the fake Dataverse environment. Its methods are safe for concurrent use.
type Server struct {
	URL  string // environment URL and authority (the token endpoint is URL/{tenant}/oauth2/v2.0/token)
	opts Options
	hs   *httptest.Server

	mu        sync.Mutex
	version   int64
	tables    map[string]*tbl // by logical name
	bySet     map[string]*tbl
	tokens    map[string]time.Time
	faults    []Fault
	cursors   map[string]*cursor
	log       []string
	tokenReqs int
	onWrite   func(method, path string)

	users    map[string]string      // access token -> the application (client id) it was issued to
	recent   map[string][]time.Time // per user: counted requests in the window
	inflight map[string]int
	stats    Stats
	txMu     sync.Mutex // one change set at a time
}

type tbl struct {
	name, set, id string
	attrs         map[string]bool
	navs          map[string]string // bind name -> target entity set ("" = any)
	required      []string
	tracking      bool
	rows          map[string]*rec
	order         []string
	tombs         []tomb
}

type rec struct {
	data    map[string]any
	version int64
}

type tomb struct {
	id      string
	version int64
}

type cursor struct {
	rows   []map[string]any
	size   int
	next   int
	delta  string
	base   string // request URL without $skiptoken
	prefer string
}

// New starts a fake environment; it is closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Tenant == "" {
		opts.Tenant = "tenant"
	}
	if opts.ClientID == "" {
		opts.ClientID = "client"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "secret"
	}
	if opts.TokenLifetime == 0 {
		opts.TokenLifetime = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RequestLimit == 0 {
		opts.RequestLimit = 6000
	}
	if opts.Window == 0 {
		opts.Window = 5 * time.Minute
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = 52
	}
	s := &Server{opts: opts, tables: map[string]*tbl{}, bySet: map[string]*tbl{}, tokens: map[string]time.Time{}, cursors: map[string]*cursor{},
		users: map[string]string{}, recent: map[string][]time.Time{}, inflight: map[string]int{}}
	phones := []string{"telephone1", "telephone2", "telephone3", "mobilephone", "business2", "home2", "fax", "address1_telephone1"}
	s.addTable("contact", "contacts", true, append([]string{"fullname", "firstname", "lastname", "emailaddress1", "_parentcustomerid_value"}, phones...),
		map[string]string{"parentcustomerid_account": "accounts", "parentcustomerid_contact": "contacts", "ownerid": "systemusers"}, "lastname")
	s.addTable("account", "accounts", true, []string{"name", "emailaddress1", "telephone1", "telephone2", "telephone3", "fax", "address1_telephone1"},
		map[string]string{"ownerid": "systemusers"}, "name")
	if !opts.NoLeads {
		s.addTable("lead", "leads", true, append([]string{"fullname", "firstname", "lastname", "companyname", "subject", "emailaddress1"}, phones...),
			map[string]string{"ownerid": "systemusers"}, "lastname", "subject")
	}
	s.addTable("phonecall", "phonecalls", false, []string{"subject", "phonenumber", "directioncode", "description", "actualdurationminutes",
		"actualstart", "actualend", "scheduledstart", "scheduledend", "statecode", "statuscode", "_regardingobjectid_value", "phonecall_activity_parties"},
		map[string]string{"regardingobjectid_contact_phonecall": "contacts", "regardingobjectid_account_phonecall": "accounts",
			"regardingobjectid_lead_phonecall": "leads", "ownerid": "systemusers"}, "subject")
	s.addTable("systemuser", "systemusers", false, []string{"fullname", "internalemailaddress", "domainname", "azureactivedirectoryobjectid"}, nil)
	s.hs = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.hs.URL
	t.Cleanup(s.hs.Close)
	return s
}

func (s *Server) addTable(name, set string, tracking bool, attrs []string, navs map[string]string, required ...string) {
	t := &tbl{name: name, set: set, id: name + "id", attrs: map[string]bool{}, navs: navs, required: required, tracking: tracking, rows: map[string]*rec{}}
	if name == "phonecall" {
		t.id = "activityid"
	}
	t.attrs[t.id] = true
	for _, a := range attrs {
		t.attrs[a] = true
	}
	s.tables[name], s.bySet[set] = t, t
}

// ---- test controls ----

// Put adds or replaces a record of table (a logical name) and returns its id (taken
// from the record's primary key column, or generated).
func (s *Server) Put(table string, data map[string]any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.mustTable(table)
	id, _ := data[t.id].(string)
	if id == "" {
		id = NewGUID()
	}
	d := maps.Clone(data)
	d[t.id] = strings.ToLower(id)
	s.store(t, strings.ToLower(id), d)
	return strings.ToLower(id)
}

// Delete removes a record (a $deletedEntity row in the next delta).
func (s *Server) Delete(table, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remove(s.mustTable(table), id)
}

// Record returns a copy of one record.
func (s *Server) Record(table, id string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.mustTable(table).rows[strings.ToLower(id)]
	if !ok {
		return nil, false
	}
	return maps.Clone(r.data), true
}

// Records returns copies of every record of table, in insertion order.
func (s *Server) Records(table string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.mustTable(table)
	out := make([]map[string]any, 0, len(t.order))
	for _, id := range t.order {
		out = append(out, maps.Clone(t.rows[id].data))
	}
	return out
}

// SetChangeTracking turns change tracking of table on or off.
func (s *Server) SetChangeTracking(table string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustTable(table).tracking = on
}

// Fail queues a fault.
func (s *Server) Fail(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Count == 0 {
		f.Count = 1
	}
	s.faults = append(s.faults, f)
}

// ExpireTokens makes every issued access token expired (the next API request gets 401).
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.tokens {
		s.tokens[k] = time.Time{}
	}
}

// OnWrite sets a function called after each write (POST, PATCH, DELETE) is applied and
// before its response is sent.
func (s *Server) OnWrite(f func(method, path string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onWrite = f
}

// Requests returns the API requests received so far ("GET contacts", …; a $batch counts
// once), token requests excluded.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// Stats returns the counts of requests, operations and throttled requests so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// TokenRequests returns how many tokens were requested.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenReqs
}

func (s *Server) mustTable(name string) *tbl {
	t, ok := s.tables[name]
	if !ok {
		panic("dataversetest: no table " + name)
	}
	return t
}

func (s *Server) store(t *tbl, id string, d map[string]any) {
	s.version++
	if t.name == "contact" || t.name == "lead" {
		first, _ := d["firstname"].(string)
		last, _ := d["lastname"].(string)
		if _, ok := d["fullname"]; !ok || first != "" || last != "" {
			d["fullname"] = strings.TrimSpace(first + " " + last)
		}
	}
	if _, ok := t.rows[id]; !ok {
		t.order = append(t.order, id)
	}
	t.rows[id] = &rec{data: d, version: s.version}
}

// annotate adds the formatted value (the name) of bound lookups, as Dataverse returns it
// with odata.include-annotations.
func (s *Server) annotate(d map[string]any) {
	for _, col := range []string{"_parentcustomerid_value", "_regardingobjectid_value"} {
		id, _ := d[col].(string)
		ln, _ := d[col+"@Microsoft.Dynamics.CRM.lookuplogicalname"].(string)
		t, ok := s.tables[ln]
		if id == "" || !ok {
			continue
		}
		if r, ok := t.rows[id]; ok {
			name, _ := r.data["name"].(string)
			if name == "" {
				name, _ = r.data["fullname"].(string)
			}
			d[col+"@OData.Community.Display.V1.FormattedValue"] = name
		}
	}
}

func (s *Server) remove(t *tbl, id string) bool {
	id = strings.ToLower(id)
	if _, ok := t.rows[id]; !ok {
		return false
	}
	delete(t.rows, id)
	t.order = slices.DeleteFunc(t.order, func(x string) bool { return x == id })
	s.version++
	t.tombs = append(t.tombs, tomb{id: id, version: s.version})
	return true
}

// NewGUID returns a random GUID.
func NewGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ---- HTTP ----

const apiPrefix = "/api/data/v9.2/"

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
		s.token(w, r)
		return
	}
	if !strings.HasPrefix(r.URL.Path, apiPrefix) {
		writeError(w, http.StatusNotFound, "", "Resource not found for the segment '"+r.URL.Path+"'.")
		return
	}
	rel := strings.TrimPrefix(r.URL.Path, apiPrefix)
	s.mu.Lock()
	s.log = append(s.log, r.Method+" "+rel)
	s.stats.Requests++
	if rel != "$batch" {
		s.stats.Operations++
	}
	if f := s.takeFault(r.Method, rel); f != nil {
		s.mu.Unlock()
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		code := "0x80072322"
		msg := "Number of requests exceeded the limit of 6000 over time window of 300 seconds."
		if f.Status != http.StatusTooManyRequests {
			code, msg = "0x80040216", "An unexpected error occurred."
		}
		writeError(w, f.Status, code, msg)
		return
	}
	auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	exp, ok := s.tokens[auth]
	if !ok || !s.opts.Now().Before(exp) {
		s.mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Bearer authorization_uri=`+s.URL+"/"+s.opts.Tenant+"/oauth2/authorize")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	user := s.users[auth]
	if after, code, msg := s.admit(user); code != "" {
		s.stats.Throttled++
		s.mu.Unlock()
		w.Header().Set("Retry-After", strconv.Itoa(after))
		writeError(w, http.StatusTooManyRequests, code, msg)
		return
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inflight[user]--
		s.mu.Unlock()
	}()
	if s.opts.Latency > 0 {
		time.Sleep(s.opts.Latency) // simulated network and server time, not synchronisation
	}
	if r.Header.Get("OData-MaxVersion") != "4.0" || r.Header.Get("OData-Version") != "4.0" || !strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeError(w, http.StatusBadRequest, "0x80060888", "send Accept: application/json, OData-MaxVersion: 4.0 and OData-Version: 4.0")
		return
	}
	if rel == "$batch" && r.Method == http.MethodPost {
		s.batch(w, r)
		return
	}
	s.route(w, r, rel)
}

// admit applies the service protection limits to a request of user (s.mu held): it
// counts the request, or returns the Retry-After seconds, error code and message of the
// 429 that refuses it. Refused requests are not counted.
func (s *Server) admit(user string) (after int, code, msg string) {
	now := s.opts.Now()
	if s.inflight[user] >= s.opts.Concurrency {
		return 1, CodeConcurrencyLimit, fmt.Sprintf("Number of concurrent requests exceeded the limit of %d.", s.opts.Concurrency)
	}
	rs := s.recent[user]
	i := 0
	for i < len(rs) && !rs[i].After(now.Add(-s.opts.Window)) {
		i++
	}
	rs = rs[i:]
	if len(rs) >= s.opts.RequestLimit {
		s.recent[user] = rs
		wait := rs[0].Add(s.opts.Window).Sub(now)
		secs := int((wait + time.Second - 1) / time.Second)
		return max(secs, 1), CodeRequestLimit, fmt.Sprintf("Number of requests exceeded the limit of %d over time window of %d seconds.",
			s.opts.RequestLimit, int(s.opts.Window/time.Second))
	}
	s.recent[user] = append(rs, now)
	s.inflight[user]++
	return 0, "", ""
}

func (s *Server) takeFault(method, rel string) *Fault {
	for i := range s.faults {
		f := &s.faults[i]
		if f.Method != "" && f.Method != method || f.PathPrefix != "" && !strings.HasPrefix(rel, f.PathPrefix) {
			continue
		}
		out := *f
		if f.Count--; f.Count <= 0 {
			s.faults = slices.Delete(s.faults, i, i+1)
		}
		return &out
	}
	return nil
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenReqs++
	aad := func(code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": code, "error_description": desc, "error_codes": []int{0}})
	}
	if r.Method != http.MethodPost || r.URL.Path != "/"+s.opts.Tenant+"/oauth2/v2.0/token" {
		aad("invalid_tenant", "AADSTS90002: Tenant not found.")
		return
	}
	if err := r.ParseForm(); err != nil {
		aad("invalid_request", "AADSTS900144: malformed request body.")
		return
	}
	f := r.PostForm
	id, secret := f.Get("client_id"), f.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	switch {
	case f.Get("grant_type") != "client_credentials":
		aad("unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.")
	case id != s.opts.ClientID:
		aad("unauthorized_client", "AADSTS700016: Application with identifier '"+id+"' was not found in the directory.")
	case secret != s.opts.ClientSecret:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})
	case f.Get("scope") != s.URL+"/.default":
		aad("invalid_scope", "AADSTS70011: The provided value for the input parameter 'scope' is not valid.")
	default:
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		tok := hex.EncodeToString(b)
		s.tokens[tok] = s.opts.Now().Add(s.opts.TokenLifetime)
		s.users[tok] = id
		w.Header().Set("Content-Type", "application/json")
		secs := int(s.opts.TokenLifetime / time.Second)
		_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok})
	}
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// route serves one (authenticated) API request; rel is the path below /api/data/v9.2/.
func (s *Server) route(w http.ResponseWriter, r *http.Request, rel string) {
	switch {
	case rel == "WhoAmI":
		writeJSON(w, 200, map[string]any{"UserId": "00000000-0000-0000-0000-0000000000aa", "BusinessUnitId": NewGUID(), "OrganizationId": NewGUID()})
		return
	case strings.HasPrefix(rel, "EntityDefinitions(LogicalName='"):
		name := strings.TrimSuffix(strings.TrimPrefix(rel, "EntityDefinitions(LogicalName='"), "')")
		s.mu.Lock()
		t, ok := s.tables[name]
		var tracking bool
		if ok {
			tracking = t.tracking
		}
		s.mu.Unlock()
		if !ok {
			writeError(w, 404, "0x80040217", "Could not find an entity with name "+name)
			return
		}
		writeJSON(w, 200, map[string]any{"LogicalName": name, "ChangeTrackingEnabled": tracking})
		return
	case strings.HasPrefix(rel, "RetrieveTotalRecordCount(EntityNames="):
		var names []string
		if err := json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimPrefix(rel, "RetrieveTotalRecordCount(EntityNames="), ")")), &names); err != nil {
			writeError(w, 400, "0x80060888", "Bad Request - Error in query syntax.")
			return
		}
		s.mu.Lock()
		var vals []int
		for _, n := range names {
			t, ok := s.tables[n]
			if !ok {
				s.mu.Unlock()
				writeError(w, 404, "0x80040217", "Could not find an entity with name "+n)
				return
			}
			vals = append(vals, len(t.rows))
		}
		s.mu.Unlock()
		writeJSON(w, 200, map[string]any{"EntityRecordCountCollection": map[string]any{"Count": len(names), "IsReadOnly": false, "Keys": names, "Values": vals}})
		return
	}
	set, key, hasKey := strings.Cut(rel, "(")
	s.mu.Lock()
	t, ok := s.bySet[set]
	s.mu.Unlock()
	if !ok {
		writeError(w, 404, "0x80060888", "Resource not found for the segment '"+set+"'.")
		return
	}
	if !hasKey {
		switch r.Method {
		case http.MethodGet:
			s.list(w, r, t)
		case http.MethodPost:
			s.create(w, r, t)
		default:
			writeError(w, 405, "", "Method not allowed")
		}
		return
	}
	id := strings.TrimSuffix(key, ")")
	if !isGUID(id) {
		writeError(w, 400, "0x80060888", "Bad Request - Error in query syntax.")
		return
	}
	id = strings.ToLower(id)
	switch r.Method {
	case http.MethodGet:
		s.get(w, r, t, id)
	case http.MethodPatch:
		s.patch(w, r, t, id)
	case http.MethodDelete:
		s.mu.Lock()
		ok := s.remove(t, id)
		s.mu.Unlock()
		if !ok {
			writeError(w, 404, "0x80040217", t.name+" With Id = "+id+" Does Not Exist")
			return
		}
		s.wrote(r)
		w.WriteHeader(204)
	default:
		writeError(w, 405, "", "Method not allowed")
	}
}

func (s *Server) wrote(r *http.Request) {
	if r.Context().Value(ctxKey{}) != nil {
		return // in a change set: told when it is committed
	}
	s.mu.Lock()
	f := s.onWrite
	s.mu.Unlock()
	if f != nil {
		f(r.Method, strings.TrimPrefix(r.URL.Path, apiPrefix))
	}
}

// prefs parses the Prefer header.
type prefs struct {
	maxPage        int
	track          bool
	representation bool
	annotations    bool
}

func parsePrefer(h http.Header) (prefs, error) {
	var p prefs
	for _, v := range h.Values("Prefer") {
		for _, part := range splitPrefer(v) {
			k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch k {
			case "odata.maxpagesize":
				n, err := strconv.Atoi(val)
				if err != nil || n < 1 {
					return p, fmt.Errorf("invalid odata.maxpagesize %q", val)
				}
				p.maxPage = min(n, 5000)
			case "odata.track-changes":
				p.track = true
			case "return":
				p.representation = val == "representation"
			case "odata.include-annotations":
				p.annotations = true
			}
		}
	}
	return p, nil
}

// splitPrefer splits on commas outside double quotes.
func splitPrefer(v string) []string {
	var out []string
	inQ, start := false, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			inQ = !inQ
		case ',':
			if !inQ {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	return append(out, v[start:])
}

func (s *Server) selectList(t *tbl, q url.Values) ([]string, error) {
	sel := q.Get("$select")
	if sel == "" {
		return nil, nil
	}
	cols := strings.Split(sel, ",")
	for _, c := range cols {
		if !t.attrs[c] {
			return nil, fmt.Errorf("Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.%s'.", c, t.name)
		}
	}
	return cols, nil
}

// project renders a record as the Web API does: etag, id, the selected columns (null
// when empty) and their annotations when asked for.
func project(t *tbl, r *rec, cols []string, ann bool) map[string]any {
	out := map[string]any{"@odata.etag": fmt.Sprintf("W/\"%d\"", r.version), t.id: r.data[t.id]}
	if cols == nil {
		for k, v := range r.data {
			if !strings.Contains(k, "@") {
				out[k] = v
			}
		}
	}
	for _, c := range cols {
		out[c] = r.data[c]
	}
	if ann {
		for k, v := range r.data {
			if a, _, ok := strings.Cut(k, "@"); ok && (cols == nil || slices.Contains(cols, a)) {
				out[k] = v
			}
		}
	}
	return out
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, t *tbl) {
	q := r.URL.Query()
	p, err := parsePrefer(r.Header)
	if err != nil {
		writeError(w, 400, "0x80060888", err.Error())
		return
	}
	if tok := q.Get("$skiptoken"); tok != "" {
		s.mu.Lock()
		c, ok := s.cursors[tok]
		s.mu.Unlock()
		if !ok || r.URL.Query().Get("$skiptoken") != tok {
			writeError(w, 400, "0x80040203", "Invalid paging cookie.")
			return
		}
		s.page(w, r, c, tok)
		return
	}
	cols, err := s.selectList(t, q)
	if err != nil {
		writeError(w, 400, "0x80060888", err.Error())
		return
	}
	for k := range q {
		switch k {
		case "$select", "$filter", "$top", "$deltatoken":
		default:
			writeError(w, 400, "0x80060888", "The query parameter '"+k+"' is not supported")
			return
		}
	}
	base := s.URL + r.URL.Path + "?" + r.URL.RawQuery
	c := &cursor{base: base}
	s.mu.Lock()
	defer func() {
		if c != nil {
			s.mu.Unlock()
		}
	}()
	if dt := q.Get("$deltatoken"); dt != "" {
		v, _, _ := strings.Cut(dt, "!")
		since, err := strconv.ParseInt(v, 10, 64)
		if err != nil || !t.tracking {
			writeError(w, 400, "0x80044352", "Version stamp associated with the client has expired. Please perform a full sync.")
			return
		}
		for _, id := range t.order {
			if rr := t.rows[id]; rr.version > since {
				c.rows = append(c.rows, project(t, rr, cols, p.annotations))
			}
		}
		for _, tb := range t.tombs {
			if tb.version > since {
				c.rows = append(c.rows, map[string]any{"@odata.context": s.URL + apiPrefix + "$metadata#" + t.set + "/$deletedEntity", "id": tb.id, "reason": "deleted"})
			}
		}
		c.delta = s.deltaLink(t, r.URL.Query().Get("$select"))
	} else {
		var f filter
		if fs := q.Get("$filter"); fs != "" {
			if p.track {
				writeError(w, 400, "0x80060888", `The "$filter" query parameter isn't supported when Change Tracking is enabled.`)
				return
			}
			f, err = parseFilter(fs, func(a string) bool { return t.attrs[a] })
			if err != nil {
				writeError(w, 400, "0x80060888", err.Error())
				return
			}
		}
		top := -1
		if ts := q.Get("$top"); ts != "" {
			if p.track {
				writeError(w, 400, "0x80060888", `The "$top" query parameter isn't supported when Change Tracking is enabled.`)
				return
			}
			if top, err = strconv.Atoi(ts); err != nil || top < 0 {
				writeError(w, 400, "0x80060888", "Invalid $top")
				return
			}
			if p.maxPage > 0 {
				top = -1 // $top is ignored with odata.maxpagesize
			}
		}
		if p.track && !t.tracking {
			writeError(w, 400, "0x80048d8e", "Entity '"+t.name+"' is not enabled for change tracking.")
			return
		}
		for _, id := range t.order {
			rr := t.rows[id]
			if f != nil && !f.eval(rr.data) {
				continue
			}
			c.rows = append(c.rows, project(t, rr, cols, p.annotations))
			if top >= 0 && len(c.rows) >= top {
				break
			}
		}
		if p.track {
			c.delta = s.deltaLink(t, r.URL.Query().Get("$select"))
		}
	}
	c.size = p.maxPage
	if c.size == 0 {
		c.size = 5000
	}
	tok := fmt.Sprintf(`<cookie pagenumber="2" pagingcookie="%s" istracking="%v" />`, NewGUID(), p.track)
	s.cursors[tok] = c
	s.mu.Unlock()
	cc := c
	c = nil
	s.page(w, r, cc, tok)
}

func (s *Server) deltaLink(t *tbl, sel string) string {
	v := url.Values{}
	if sel != "" {
		v.Set("$select", sel)
	}
	v.Set("$deltatoken", fmt.Sprintf("%d!%s", s.version, s.opts.Now().UTC().Format("01/02/2006 15:04:05")))
	return s.URL + apiPrefix + t.set + "?" + v.Encode()
}

func (s *Server) page(w http.ResponseWriter, r *http.Request, c *cursor, tok string) {
	if s.opts.PageLatency > 0 {
		time.Sleep(s.opts.PageLatency) // simulated network and server time, not synchronisation
	}
	s.mu.Lock()
	end := min(c.next+c.size, len(c.rows))
	rows := c.rows[c.next:end]
	c.next = end
	out := map[string]any{"@odata.context": s.URL + apiPrefix + "$metadata#" + strings.TrimPrefix(r.URL.Path, apiPrefix), "value": rows}
	if end < len(c.rows) {
		delete(s.cursors, tok)
		ntok := fmt.Sprintf(`<cookie pagenumber="%d" pagingcookie="%s" />`, end/c.size+1, NewGUID())
		s.cursors[ntok] = c
		out["@odata.nextLink"] = c.base + "&%24skiptoken=" + url.QueryEscape(ntok)
	} else {
		delete(s.cursors, tok)
		if c.delta != "" {
			out["@odata.deltaLink"] = c.delta
		}
	}
	s.mu.Unlock()
	if c.delta != "" {
		w.Header().Set("Preference-Applied", "odata.track-changes")
	}
	writeJSON(w, 200, out)
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, t *tbl, id string) {
	q := r.URL.Query()
	p, _ := parsePrefer(r.Header)
	cols, err := s.selectList(t, q)
	if err != nil {
		writeError(w, 400, "0x80060888", err.Error())
		return
	}
	s.mu.Lock()
	rr, ok := t.rows[id]
	var out map[string]any
	if ok {
		out = project(t, rr, cols, p.annotations)
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, 404, "0x80040217", t.name+" With Id = "+id+" Does Not Exist")
		return
	}
	writeJSON(w, 200, out)
}

// decodeBody reads a JSON record body and checks its columns and bindings.
func (s *Server) decodeBody(r *http.Request, t *tbl) (map[string]any, error) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return nil, fmt.Errorf("Content-Type must be application/json")
	}
	var body map[string]any
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		return nil, fmt.Errorf("Error in JSON payload: %v", err)
	}
	out := map[string]any{}
	for k, v := range body {
		if nav, ok := strings.CutSuffix(k, "@odata.bind"); ok {
			target, known := t.navs[nav]
			s2, _ := v.(string)
			set, id, okRef := parseRef(s2)
			if !known || !okRef || target != "" && set != target {
				return nil, fmt.Errorf("An undeclared property '%s' which only has property annotations in the payload but no property value was found in the payload, or the reference %q is invalid.", nav, s2)
			}
			if strings.HasPrefix(nav, "regardingobjectid_") {
				s.mu.Lock()
				rt, ok := s.bySet[set]
				exists := false
				if ok {
					_, exists = rt.rows[id]
				}
				s.mu.Unlock()
				if !ok || !exists {
					return nil, fmt.Errorf("%s With Id = %s Does Not Exist", strings.TrimSuffix(set, "s"), id)
				}
				out["_regardingobjectid_value"] = id
				out["_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] = strings.TrimSuffix(set, "s")
			} else if strings.HasPrefix(nav, "parentcustomerid_") {
				out["_parentcustomerid_value"] = id
				out["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] = strings.TrimSuffix(set, "s")
			} else {
				out["_"+nav+"_value"] = id
			}
			out[k] = s2
			continue
		}
		if !t.attrs[k] || k == "_regardingobjectid_value" || k == "_parentcustomerid_value" {
			return nil, fmt.Errorf("The property '%s' does not exist on type 'Microsoft.Dynamics.CRM.%s'.", k, t.name)
		}
		switch n := v.(type) {
		case json.Number:
			f, _ := n.Float64()
			v = f
		}
		if k == "phonecall_activity_parties" {
			ps, err := checkParties(v)
			if err != nil {
				return nil, err
			}
			v = ps
		}
		out[k] = v
	}
	return out, nil
}

func checkParties(v any) ([]any, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("phonecall_activity_parties must be an array")
	}
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("activity party must be an object")
		}
		binds := 0
		for k, pv := range m {
			switch {
			case k == "participationtypemask":
				n, _ := pv.(json.Number)
				if n != "1" && n != "2" {
					return nil, fmt.Errorf("participationtypemask %v is not valid for a phone call (1 from, 2 to)", pv)
				}
				f, _ := n.Float64()
				m[k] = f
			case strings.HasPrefix(k, "partyid_") && strings.HasSuffix(k, "@odata.bind"):
				s, _ := pv.(string)
				if _, _, ok := parseRef(s); !ok {
					return nil, fmt.Errorf("invalid party reference %q", s)
				}
				binds++
			default:
				return nil, fmt.Errorf("The property '%s' does not exist on type 'Microsoft.Dynamics.CRM.activityparty'.", k)
			}
		}
		if binds != 1 {
			return nil, fmt.Errorf("an activity party needs exactly one partyid binding")
		}
	}
	return list, nil
}

// parseRef reads "/contacts(<guid>)" or "contacts(<guid>)".
func parseRef(s string) (set, id string, ok bool) {
	s = strings.TrimPrefix(s, "/")
	set, rest, ok := strings.Cut(s, "(")
	if !ok || !strings.HasSuffix(rest, ")") {
		return "", "", false
	}
	id = strings.TrimSuffix(rest, ")")
	return set, strings.ToLower(id), isGUID(id)
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, t *tbl) {
	p, _ := parsePrefer(r.Header)
	cols, err := s.selectList(t, r.URL.Query())
	if err != nil {
		writeError(w, 400, "0x80060888", err.Error())
		return
	}
	body, err := s.decodeBody(r, t)
	if err != nil {
		writeError(w, 400, "0x80048d19", err.Error())
		return
	}
	if err := checkCreate(t, body); err != nil {
		writeError(w, 400, "0x80040203", err.Error())
		return
	}
	id, _ := body[t.id].(string)
	if id == "" {
		id = NewGUID()
	}
	id = strings.ToLower(id)
	body[t.id] = id
	s.mu.Lock()
	if _, exists := t.rows[id]; exists {
		s.mu.Unlock()
		writeError(w, 412, "0x80040237", "A record with matching key values already exists.")
		return
	}
	s.annotate(body)
	s.store(t, id, body)
	out := project(t, t.rows[id], cols, p.annotations)
	s.mu.Unlock()
	s.wrote(r)
	if p.representation {
		w.Header().Set("Preference-Applied", "return=representation")
		writeJSON(w, 201, out)
		return
	}
	w.Header().Set("OData-EntityId", s.URL+apiPrefix+t.set+"("+id+")")
	w.WriteHeader(204)
}

func checkCreate(t *tbl, body map[string]any) error {
	if _, ok := body["statecode"]; ok {
		return fmt.Errorf("statecode is not valid for create: create the %s, then update its statecode and statuscode", t.name)
	}
	if _, ok := body["statuscode"]; ok {
		return fmt.Errorf("statuscode %v is not valid for an open %s", body["statuscode"], t.name)
	}
	for _, req := range t.required {
		if s, _ := body[req].(string); strings.TrimSpace(s) == "" {
			return fmt.Errorf("Required field '%s' is missing", req)
		}
	}
	return nil
}

func (s *Server) patch(w http.ResponseWriter, r *http.Request, t *tbl, id string) {
	p, _ := parsePrefer(r.Header)
	body, err := s.decodeBody(r, t)
	if err != nil {
		writeError(w, 400, "0x80048d19", err.Error())
		return
	}
	s.mu.Lock()
	cur, exists := t.rows[id]
	switch {
	case r.Header.Get("If-Match") == "*" && !exists:
		s.mu.Unlock()
		writeError(w, 404, "0x80040217", t.name+" With Id = "+id+" Does Not Exist")
		return
	case r.Header.Get("If-None-Match") == "*" && exists:
		s.mu.Unlock()
		writeError(w, 412, "0x80040237", "A record with matching key values already exists.")
		return
	}
	_, hasState := body["statecode"]
	_, hasStatus := body["statuscode"]
	if !exists {
		body[t.id] = id
		if err := checkCreate(t, body); err != nil {
			s.mu.Unlock()
			writeError(w, 400, "0x80040203", err.Error())
			return
		}
		s.annotate(body)
		s.store(t, id, body)
	} else {
		if hasState != hasStatus {
			s.mu.Unlock()
			writeError(w, 400, "0x80040203", "send statecode and statuscode together")
			return
		}
		if st, _ := cur.data["statecode"].(float64); st != 0 && t.name == "phonecall" {
			for k := range body {
				if k != "statecode" && k != "statuscode" {
					s.mu.Unlock()
					writeError(w, 400, "0x80043b09", "This phonecall cannot be modified because it is read-only (closed).")
					return
				}
			}
		}
		if hasState && t.name == "phonecall" {
			st, _ := body["statecode"].(float64)
			su, _ := body["statuscode"].(float64)
			valid := map[float64][]float64{0: {1}, 1: {2, 4}, 2: {3}}
			if !slices.Contains(valid[st], su) {
				s.mu.Unlock()
				writeError(w, 400, "0x80040203", fmt.Sprintf("%v is not a valid status code for state code %v", su, st))
				return
			}
		}
		s.annotate(body)
		d := maps.Clone(cur.data)
		maps.Copy(d, body)
		s.store(t, id, d)
	}
	out := project(t, t.rows[id], nil, p.annotations)
	s.mu.Unlock()
	s.wrote(r)
	if p.representation {
		writeJSON(w, 200, out)
		return
	}
	w.Header().Set("OData-EntityId", s.URL+apiPrefix+t.set+"("+id+")")
	w.WriteHeader(204)
}

// batch serves a $batch request: independent requests (each answered in its own part,
// errors included), and change sets, whose operations are applied all or none: when one
// fails, the ones before it are rolled back and the change set's reply is that
// operation's error; then the batch stops, with the error's status as the batch's,
// unless the request says Prefer: odata.continue-on-error (then the next change sets
// are applied, and the batch answers 200).
func (s *Server) batch(w http.ResponseWriter, r *http.Request) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		writeError(w, 400, "0x80060888", "The batch request must have a Content-Type of multipart/mixed with a boundary.")
		return
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	var out bytes.Buffer
	mw := multipart.NewWriter(&out)
	_ = mw.SetBoundary("batchresponse_" + NewGUID())
	n := 0
	status := 200
	cont := slices.ContainsFunc(r.Header.Values("Prefer"), func(v string) bool { return strings.Contains(v, "odata.continue-on-error") })
	for status == 200 {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			writeError(w, 400, "0x80060888", "malformed batch: "+err.Error())
			return
		}
		if cmt, cparams, err := mime.ParseMediaType(part.Header.Get("Content-Type")); err == nil && cmt == "multipart/mixed" {
			reqs, err := readParts(multipart.NewReader(part, cparams["boundary"]))
			if err != nil {
				writeError(w, 400, "0x80060888", "malformed change set: "+err.Error())
				return
			}
			if n += len(reqs); n > 1000 {
				writeError(w, 400, "0x80060888", "The batch has more than 1000 requests.")
				return
			}
			if st := s.changeset(mw, reqs); !cont {
				status = st
			}
			continue
		}
		if part.Header.Get("Content-Type") != "application/http" || part.Header.Get("Content-Transfer-Encoding") != "binary" {
			writeError(w, 400, "0x80060888", "batch parts must be application/http, binary")
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(part))
		if err != nil {
			writeError(w, 400, "0x80060888", "malformed batch part: "+err.Error())
			return
		}
		if n++; n > 1000 {
			writeError(w, 400, "0x80060888", "The batch has more than 1000 requests.")
			return
		}
		rec := s.routeInner(req, false)
		writePart(mw, rec, "")
	}
	_ = mw.Close()
	w.Header().Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(status)
	_, _ = w.Write(out.Bytes())
}

// changeReq is one operation of a change set.
type changeReq struct {
	req       *http.Request
	contentID string
}

func readParts(mr *multipart.Reader) ([]changeReq, error) {
	var out []changeReq
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if part.Header.Get("Content-Type") != "application/http" || part.Header.Get("Content-Transfer-Encoding") != "binary" {
			return nil, fmt.Errorf("change set parts must be application/http, binary")
		}
		br := bufio.NewReader(part)
		req, err := http.ReadRequest(br)
		if err != nil {
			return nil, err
		}
		// Batch operations carry no Content-Length (Dataverse's examples): the body is
		// the rest of the part.
		body, err := io.ReadAll(io.MultiReader(req.Body, br))
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		if req.Method == http.MethodGet {
			return nil, fmt.Errorf("GET requests are not allowed in a change set")
		}
		out = append(out, changeReq{req: req, contentID: part.Header.Get("Content-ID")})
	}
}

// undo restores one record as it was before a change set's operation.
type undo struct {
	t       *tbl
	id      string
	existed bool
	data    map[string]any
}

// changeset applies reqs atomically and writes their replies (or the failing one's)
// to mw; it returns the batch status (200, or the failure's).
func (s *Server) changeset(mw *multipart.Writer, reqs []changeReq) int {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	var undos []undo
	var recs []*httptest.ResponseRecorder
	for _, cr := range reqs {
		u, target := s.before(cr.req)
		rec := s.routeInner(cr.req, true)
		if rec.Code >= 400 {
			s.rollback(undos)
			writePart(mw, rec, cr.contentID)
			return rec.Code
		}
		if target != nil && !u.existed && u.id == "" {
			// A create: its id is in the reply.
			if _, id, ok := parseRef(strings.TrimPrefix(rec.Header().Get("OData-EntityId"), s.URL+apiPrefix)); ok {
				u.id = id
			}
		}
		if target != nil && u.id != "" {
			undos = append(undos, u)
		}
		recs = append(recs, rec)
	}
	// Committed: tell the test, then answer.
	for _, cr := range reqs {
		s.wrote(cr.req)
	}
	var buf bytes.Buffer
	inner := multipart.NewWriter(&buf)
	_ = inner.SetBoundary("changesetresponse_" + NewGUID())
	for i, rec := range recs {
		writePart(inner, rec, reqs[i].contentID)
	}
	_ = inner.Close()
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", "multipart/mixed; boundary="+inner.Boundary())
	pw, _ := mw.CreatePart(h)
	_, _ = pw.Write(buf.Bytes())
	return 200
}

// before notes the state of the record req changes.
func (s *Server) before(req *http.Request) (undo, *tbl) {
	rel, ok := strings.CutPrefix(req.URL.Path, apiPrefix)
	if !ok {
		rel = strings.TrimPrefix(req.URL.Path, "/")
	}
	set, key, hasKey := strings.Cut(rel, "(")
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.bySet[set]
	if !ok {
		return undo{}, nil
	}
	if !hasKey {
		return undo{t: t}, t
	}
	id := strings.ToLower(strings.TrimSuffix(key, ")"))
	u := undo{t: t, id: id}
	if r, ok := t.rows[id]; ok {
		u.existed, u.data = true, maps.Clone(r.data)
	}
	return u, t
}

func (s *Server) rollback(undos []undo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(undos) - 1; i >= 0; i-- {
		u := undos[i]
		if u.existed {
			s.store(u.t, u.id, u.data)
		} else {
			s.remove(u.t, u.id)
		}
	}
}

type ctxKey struct{}

// routeInner serves one operation of a batch; inChangeset holds back the OnWrite call
// until the change set is committed.
func (s *Server) routeInner(req *http.Request, inChangeset bool) *httptest.ResponseRecorder {
	rel, ok := strings.CutPrefix(req.URL.Path, apiPrefix)
	if !ok {
		rel = strings.TrimPrefix(req.URL.Path, "/")
	}
	req.URL.Path = apiPrefix + rel
	if inChangeset {
		req = req.WithContext(context.WithValue(req.Context(), ctxKey{}, true))
	}
	s.mu.Lock()
	s.stats.Operations++
	s.mu.Unlock()
	rec := httptest.NewRecorder()
	s.route(rec, req, rel)
	return rec
}

func writePart(mw *multipart.Writer, rec *httptest.ResponseRecorder, contentID string) {
	res := rec.Result()
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", "application/http")
	h.Set("Content-Transfer-Encoding", "binary")
	if contentID != "" {
		h.Set("Content-ID", contentID)
	}
	pw, _ := mw.CreatePart(h)
	fmt.Fprintf(pw, "HTTP/1.1 %d %s\r\n", res.StatusCode, http.StatusText(res.StatusCode))
	for k, vs := range res.Header {
		for _, v := range vs {
			fmt.Fprintf(pw, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(pw, "\r\n")
	_, _ = pw.Write(rec.Body.Bytes())
}
