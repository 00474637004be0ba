package dynamics

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ringside/ringside/internal/crm"
)

// SampleConfig is the documented sample of the crm section for this adapter.
//
//go:embed sample.yaml
var SampleConfig string

// Config is the crm section of ringside.yaml for kind dynamics. Every key but url,
// tenant_id, client_id and one of client_secret_env/client_secret_file is optional.
type Config struct {
	Kind             string `yaml:"kind"`               // "dynamics" (or empty)
	URL              string `yaml:"url"`                // environment URL, e.g. https://contoso.crm4.dynamics.com
	TenantID         string `yaml:"tenant_id"`          // Entra tenant id or domain
	ClientID         string `yaml:"client_id"`          // app registration (application user) id
	ClientSecretEnv  string `yaml:"client_secret_env"`  // name of the environment variable holding the secret
	ClientSecretFile string `yaml:"client_secret_file"` // or a file holding it
	AppID            string `yaml:"app_id"`             // model-driven app for record links; optional
	Authority        string `yaml:"authority"`          // default https://login.microsoftonline.com
	// Tables maps contact, account and lead to the phone columns indexed; default: all
	// three with telephone1-3 (and mobilephone for contact and lead). A table left out is
	// not indexed nor searched.
	Tables       map[string][]string `yaml:"tables"`
	SyncInterval time.Duration       `yaml:"sync_interval"` // change-tracking poll; default 60s
	PageSize     int                 `yaml:"page_size"`     // initial sync page size; default 1000, at most 5000
	Timeout      time.Duration       `yaml:"timeout"`       // per request; default 10s
	// UserMap maps a Ringside user name or email to a Dataverse systemuserid, for agents
	// whose systemuser cannot be found by email.
	UserMap map[string]string `yaml:"user_map"`
}

// Defaults.
const (
	DefaultAuthority    = "https://login.microsoftonline.com"
	DefaultSyncInterval = 60 * time.Second
	DefaultPageSize     = 1000
	DefaultTimeout      = 10 * time.Second
	apiPath             = "/api/data/v9.2/"
)

// DefaultTables are the tables and phone columns indexed when Config.Tables is empty.
func DefaultTables() map[string][]string {
	return map[string][]string{
		"contact": {"telephone1", "telephone2", "telephone3", "mobilephone"},
		"account": {"telephone1", "telephone2", "telephone3"},
		"lead":    {"telephone1", "telephone2", "telephone3", "mobilephone"},
	}
}

// table describes one Dataverse table the adapter reads.
type table struct {
	entity  crm.Entity
	set     string   // entity set name
	idAttr  string   // primary key column
	fields  []string // non-phone columns selected
	columns []string // phone columns indexed
}

func newTable(e crm.Entity, cols []string) table {
	t := table{entity: e, columns: cols}
	switch e {
	case crm.Contact:
		t.set, t.idAttr = "contacts", "contactid"
		t.fields = []string{"fullname", "firstname", "lastname", "emailaddress1", "_parentcustomerid_value"}
	case crm.Account:
		t.set, t.idAttr = "accounts", "accountid"
		t.fields = []string{"name", "emailaddress1"}
	case crm.Lead:
		t.set, t.idAttr = "leads", "leadid"
		t.fields = []string{"fullname", "firstname", "lastname", "companyname", "emailaddress1"}
	}
	return t
}

// selectList is the $select value of t: id, name fields, phone columns.
func (t table) selectList() string {
	return strings.Join(append(append([]string{t.idAttr}, t.fields...), t.columns...), ",")
}

// resolved is a validated Config with defaults applied and the secret read.
type resolved struct {
	Config
	base     *url.URL // environment URL, no trailing slash
	api      string   // base + /api/data/v9.2/
	tokenURL string
	secret   string
	tables   []table // sorted by entity
}

func resolve(cfg Config, getenv func(string) string) (*resolved, error) {
	if cfg.Kind != "" && cfg.Kind != "dynamics" {
		return nil, fmt.Errorf("dynamics: kind is %q, want dynamics", cfg.Kind)
	}
	r := &resolved{Config: cfg}
	u, err := parseBaseURL("url", cfg.URL)
	if err != nil {
		return nil, err
	}
	r.base = u
	r.api = strings.TrimSuffix(u.String(), "/") + apiPath
	if cfg.TenantID == "" || strings.ContainsAny(cfg.TenantID, "/?#% ") {
		return nil, fmt.Errorf("dynamics: tenant_id must be set to the Entra tenant id or domain (got %q)", cfg.TenantID)
	}
	if cfg.ClientID == "" {
		return nil, fmt.Errorf("dynamics: client_id must be set to the app registration's Application (client) ID")
	}
	if cfg.AppID != "" && !isGUID(cfg.AppID) {
		return nil, fmt.Errorf("dynamics: app_id must be the app module GUID, not %q", cfg.AppID)
	}
	if r.Authority == "" {
		r.Authority = DefaultAuthority
	}
	au, err := parseBaseURL("authority", r.Authority)
	if err != nil {
		return nil, err
	}
	r.tokenURL = strings.TrimSuffix(au.String(), "/") + "/" + url.PathEscape(cfg.TenantID) + "/oauth2/v2.0/token"
	switch {
	case cfg.ClientSecretEnv != "" && cfg.ClientSecretFile != "":
		return nil, fmt.Errorf("dynamics: set client_secret_env or client_secret_file, not both")
	case cfg.ClientSecretEnv != "":
		r.secret = getenv(cfg.ClientSecretEnv)
		if r.secret == "" {
			return nil, fmt.Errorf("dynamics: client_secret_env: environment variable %s is empty or unset", cfg.ClientSecretEnv)
		}
	case cfg.ClientSecretFile != "":
		b, err := os.ReadFile(cfg.ClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("dynamics: client_secret_file: %w", err)
		}
		r.secret = strings.TrimSpace(string(b))
		if r.secret == "" {
			return nil, fmt.Errorf("dynamics: client_secret_file %s is empty", cfg.ClientSecretFile)
		}
	default:
		return nil, fmt.Errorf("dynamics: set client_secret_env (an environment variable name) or client_secret_file")
	}
	if r.SyncInterval == 0 {
		r.SyncInterval = DefaultSyncInterval
	}
	if r.SyncInterval < time.Second {
		return nil, fmt.Errorf("dynamics: sync_interval must be at least 1s, not %s", r.SyncInterval)
	}
	if r.PageSize == 0 {
		r.PageSize = DefaultPageSize
	}
	if r.PageSize < 1 || r.PageSize > 5000 {
		return nil, fmt.Errorf("dynamics: page_size must be between 1 and 5000, not %d", r.PageSize)
	}
	if r.Timeout == 0 {
		r.Timeout = DefaultTimeout
	}
	if r.Timeout < 0 {
		return nil, fmt.Errorf("dynamics: timeout must be positive, not %s", r.Timeout)
	}
	tables := cfg.Tables
	if len(tables) == 0 {
		tables = DefaultTables()
	}
	names := make([]string, 0, len(tables))
	for name := range tables {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		e := crm.Entity(name)
		if !e.Valid() {
			return nil, fmt.Errorf("dynamics: tables: unknown table %q (use contact, account or lead)", name)
		}
		cols := tables[name]
		if len(cols) == 0 {
			return nil, fmt.Errorf("dynamics: tables.%s: list at least one phone column", name)
		}
		for _, c := range cols {
			if !isIdent(c) {
				return nil, fmt.Errorf("dynamics: tables.%s: %q is not a column logical name", name, c)
			}
		}
		r.tables = append(r.tables, newTable(e, slices.Clone(cols)))
	}
	for k, v := range cfg.UserMap {
		if !isGUID(v) {
			return nil, fmt.Errorf("dynamics: user_map.%s: %q is not a systemuserid GUID", k, v)
		}
	}
	return r, nil
}

func parseBaseURL(key, raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSuffix(raw, "/"))
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("dynamics: %s must be a URL like https://contoso.crm4.dynamics.com, not %q", key, raw)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return nil, fmt.Errorf("dynamics: %s must use https (got %q)", key, raw)
	}
	u.Path = ""
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// fingerprint identifies what the index holds: a change of tables or columns makes the
// persisted index unusable.
func (r *resolved) fingerprint(region string) string {
	h := sha256.New()
	fmt.Fprintf(h, "v2|%s|%s", r.base.Host, region)
	for _, t := range r.tables {
		fmt.Fprintf(h, "|%s:%s", t.entity, strings.Join(t.columns, ","))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func (r *resolved) table(e crm.Entity) (table, bool) {
	for _, t := range r.tables {
		if t.entity == e {
			return t, true
		}
	}
	return table{}, false
}

func isIdent(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// isGUID reports whether s is a GUID in its 8-4-4-4-12 hex form.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
