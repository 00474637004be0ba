// Package config reads ringside.yaml strictly: every key optional with a documented default,
// an unknown key or a wrong type is an error naming the file, line and key, and each
// connector's section is handed on undecoded for the connector's own Config.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ringside/ringside/internal/cluster"
	"github.com/ringside/ringside/internal/lookup"
	"github.com/ringside/ringside/internal/phone"
	"github.com/ringside/ringside/internal/store"
)

// Config is ringside.yaml.
type Config struct {
	// Listen is the HTTP address. Default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// DataDir holds the SQLite database. Default ./ringside-data.
	DataDir string `yaml:"data_dir"`
	// BaseURL is how users reach Ringside (for links in notifications and webhooks).
	// Default http://{listen}.
	BaseURL string `yaml:"base_url"`
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string `yaml:"log_level"`
	// LogFormat is text or json. Default text.
	LogFormat string `yaml:"log_format"`
	// LogMaskNumbers masks phone numbers in the log (all digits but the last two).
	// Caller names and note texts are never logged at info level, whatever this says.
	LogMaskNumbers bool          `yaml:"log_mask_numbers"`
	Phone          phone.Config  `yaml:"phone"`
	Store          store.Config  `yaml:"store"`
	Lookup         lookup.Config `yaml:"lookup"`
	CRM            Section       `yaml:"crm"`
	Telephony      []Section     `yaml:"telephony"`
	Users          []User        `yaml:"users"`
	Calls          Calls         `yaml:"calls"`
	Web            Web           `yaml:"web"`
	// Cluster joins other nodes over NATS (see internal/cluster); empty: this node runs alone.
	Cluster cluster.Config `yaml:"cluster"`
	// Rules is decoded by the rules engine.
	Rules Raw `yaml:"rules"`
	// Outbox tunes the delivery of CRM writes and webhooks.
	Outbox Outbox `yaml:"outbox"`
	// Retention says how long the journal and delivered outbox rows are kept.
	Retention Retention `yaml:"retention"`

	// File is the path the config was read from ("" for the embedded defaults).
	File string `yaml:"-"`
	// lines maps dotted key paths to their line in File.
	lines map[string]int
}

// User is an agent declared in the config; it is created in the store at start if missing.
type User struct {
	Name       string   `yaml:"name"`
	Extensions []string `yaml:"extensions"`
	Email      string   `yaml:"email"`
	Admin      bool     `yaml:"admin"`
}

// Calls tunes the call tracker.
type Calls struct {
	// MaxAge ends calls the phone system never said were over. Default 4h.
	MaxAge time.Duration `yaml:"max_age"`
	// LegGrace is how long a call whose phones all stopped ringing waits for another
	// phone (queues) before it counts as missed. Default 3s.
	LegGrace time.Duration `yaml:"leg_grace"`
}

// Outbox tunes the delivery of CRM writes and webhooks.
type Outbox struct {
	// Workers is how many deliveries run at once (each destination of each call is still
	// delivered in order, one at a time). Default 32.
	Workers int `yaml:"workers"`
	// MaxAge is how long temporary errors are retried before the item is parked for an
	// admin. Default 24h.
	MaxAge time.Duration `yaml:"max_age"`
}

// Retention says how long data is kept; the server purges older data every hour.
type Retention struct {
	// Calls is how long call journal entries (with their notes) are kept. Default 2160h
	// (90 days).
	Calls time.Duration `yaml:"calls"`
	// Outbox is how long delivered outbox rows are kept. Default 168h (7 days).
	Outbox time.Duration `yaml:"outbox"`
	// Audit is how long the audit log's entries (admin actions) are kept. Default 8784h
	// (366 days: a year's review, a leap year included).
	Audit time.Duration `yaml:"audit"`
}

// Web tunes the HTTP side.
type Web struct {
	// SessionTTL is how long a browser login lasts. Default 12h.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// OriginPatterns are extra origins allowed to embed the agent page and open its
	// stream (e.g. "*.crm4.dynamics.com" for the Dynamics 365 side panel).
	OriginPatterns []string `yaml:"origin_patterns"`
	// TLSCert and TLSKey serve HTTPS when both are set.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`

	// ReadTimeout bounds reading one request, body included. Default 60s.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds writing one response. Default 60s. Streams (WebSockets) are
	// exempt after the upgrade: they have their own ping and write rules.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout closes a keep-alive connection that waits this long for its next
	// request. Default 120s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// StopGrace is how long, on SIGTERM, a server with a webhook source keeps answering
	// events 503 with Retry-After (and /readyz not ready) before it closes its listener:
	// a phone system's POST then gets "send it again" rather than a cut connection.
	// Default 1s; at most 60s.
	StopGrace time.Duration `yaml:"stop_grace"`
	// MaxConnections caps the connections open at once; past it, new ones are closed at
	// once. Default: 80% of the process's open-files limit.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerAddress caps the connections from one client address (trusted
	// proxies are exempt). Default 512: raise it for a large office behind one NAT address.
	MaxConnectionsPerAddress int `yaml:"max_connections_per_address"`
	// TrustedProxies are the addresses or CIDR ranges of reverse proxies whose
	// X-Forwarded-For header names the client (for login throttling and logs). Default
	// none: the header is ignored.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// MaxStreamsPerUser caps one user's open agent streams (browser tabs, CRM panels).
	// Default 10.
	MaxStreamsPerUser int `yaml:"max_streams_per_user"`
	// MaxCompanionsPerUser caps one user's desktop companion connections. Default 2.
	MaxCompanionsPerUser int `yaml:"max_companions_per_user"`
	// MetricsTokenEnv or MetricsTokenFile name a bearer token that /metrics then requires
	// and that also shows the checks of /readyz. Default none: /metrics is open.
	MetricsTokenEnv  string `yaml:"metrics_token_env"`
	MetricsTokenFile string `yaml:"metrics_token_file"`
}

// A Section is a connector's or adapter's config: its kind and name, and the rest
// undecoded until the connector's own Config is known.
type Section struct {
	Kind string
	Name string
	// Extensions is the telephony section's extensions: list, the extensions the
	// source serves (click-to-dial goes through it for them); empty: all. Its entries
	// are checked by telephony.ParseExtensions.
	Extensions []string
	node       *yaml.Node
	file       string
	path       string // "crm", "telephony[1]": prefixes the keys in messages
}

// UnmarshalYAML keeps the node for later strict decoding.
func (s *Section) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: expected a mapping with a kind", n.Line)}}
	}
	s.node = n
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case "kind":
			s.Kind = n.Content[i+1].Value
		case "name":
			s.Name = n.Content[i+1].Value
		case "extensions":
			if err := n.Content[i+1].Decode(&s.Extensions); err != nil {
				return err
			}
		}
	}
	return nil
}

// Line is the section's line in the file (0 when unknown).
func (s Section) Line() int {
	if s.node == nil {
		return 0
	}
	return s.node.Line
}

// Where names the section for messages: "ringside.yaml:12" or "defaults".
func (s Section) Where() string {
	if s.file == "" || s.node == nil {
		return "defaults"
	}
	return fmt.Sprintf("%s:%d", s.file, s.node.Line)
}

// Decode decodes the section into out strictly: keys other than kind, name and
// extensions (Section's own) must be fields of out. Errors name file, line and key.
func (s Section) Decode(out any) error {
	if s.node == nil {
		return nil
	}
	// Decode a copy without kind and name, so that out needs no fields for them.
	cp := *s.node
	cp.Content = nil
	for i := 0; i+1 < len(s.node.Content); i += 2 {
		if k := s.node.Content[i].Value; k == "kind" || k == "name" || k == "extensions" {
			continue
		}
		cp.Content = append(cp.Content, s.node.Content[i], s.node.Content[i+1])
	}
	if errs := decodeChecked(&cp, out, s.file, s.path); len(errs) > 0 {
		return joinByLine(s.file, errs)
	}
	return nil
}

// Raw is a part of the config decoded later by its owner (rules).
type Raw struct {
	node *yaml.Node
	file string
}

// UnmarshalYAML keeps the node.
func (r *Raw) UnmarshalYAML(n *yaml.Node) error { r.node = n; return nil }

// Empty reports whether the part is absent.
func (r Raw) Empty() bool { return r.node == nil }

// Decode decodes the part strictly into out, like Section.Decode.
func (r Raw) Decode(out any) error {
	if r.node == nil {
		return nil
	}
	if errs := decodeChecked(r.node, out, r.file, ""); len(errs) > 0 {
		return joinByLine(r.file, errs)
	}
	return nil
}

// Default returns the embedded defaults: no file, every default applied.
func Default() *Config {
	c := &Config{}
	c.applyDefaults()
	return c
}

// Load reads and checks a config file. An empty path means the embedded defaults.
func Load(path string) (*Config, error) {
	if path == "" {
		return Default(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse reads a config from data; file names it in messages. Every mistake of the file
// is reported at once (errors.Join, one per line, in file order).
func Parse(file string, data []byte) (*Config, error) {
	c, err := ParseAll(file, data)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ParseAll is Parse for `config check`: beside the errors it returns what it could read
// (nil only when the file is not YAML at all), so that the connectors' sections can be
// checked in the same pass.
func ParseAll(file string, data []byte) (*Config, error) {
	c := &Config{File: file, lines: map[string]int{}}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, errEOF) || err.Error() == "EOF" {
			c.applyDefaults()
			return c, nil // an empty file is all defaults
		}
		return nil, withFile(file, err)
	}
	if len(root.Content) == 0 {
		c.applyDefaults()
		return c, nil
	}
	doc := root.Content[0]
	recordLines(doc, "", c.lines)
	errs := decodeChecked(doc, c, file, "")
	c.CRM.file, c.CRM.path = file, "crm"
	for i := range c.Telephony {
		c.Telephony[i].file, c.Telephony[i].path = file, fmt.Sprintf("telephony[%d]", i)
	}
	c.Rules.file = file
	c.applyDefaults()
	if err := c.validate(); err != nil {
		errs = append(errs, unjoin(err)...)
	}
	if len(errs) > 0 {
		return c, joinByLine(file, errs)
	}
	return c, nil
}

// decodeChecked checks n against out's type (unknown keys, values of the wrong kind, in
// plain words) and decodes what it can: the decoder goes on after a wrong value, and its
// own messages are kept only for lines the check did not already explain.
func decodeChecked(n *yaml.Node, out any, file, path string) []error {
	var errs []error
	strictCheck(n, reflect.TypeOf(out), path, file, nil, &errs)
	said := map[int]bool{}
	for _, e := range errs {
		said[lineOf(file, e)] = true
	}
	if err := n.Decode(out); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, m := range te.Errors {
				l, rest, _ := strings.Cut(strings.TrimPrefix(m, "line "), ":")
				if ln, _ := strconv.Atoi(l); said[ln] {
					continue
				}
				errs = append(errs, fmt.Errorf("%s:%s:%s", nonEmpty(file), l, rest))
			}
		} else {
			errs = append(errs, withFile(file, err))
		}
	}
	return errs
}

// unjoin splits an errors.Join into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// lineOf reads the line from a "file:12: ..." message (0 when it has none).
func lineOf(file string, err error) int {
	rest, ok := strings.CutPrefix(err.Error(), nonEmpty(file)+":")
	if !ok {
		return 0
	}
	l, _, _ := strings.Cut(rest, ":")
	n, _ := strconv.Atoi(l)
	return n
}

// joinByLine joins errors in file order (those without a line last), dropping repeats.
func joinByLine(file string, errs []error) error {
	sort.SliceStable(errs, func(i, j int) bool {
		li, lj := lineOf(file, errs[i]), lineOf(file, errs[j])
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
	seen := map[string]bool{}
	out := errs[:0]
	for _, e := range errs {
		if seen[e.Error()] {
			continue
		}
		seen[e.Error()] = true
		out = append(out, e)
	}
	return errors.Join(out...)
}

var errEOF = errors.New("EOF")

func (c *Config) applyDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.DataDir == "" {
		c.DataDir = "./ringside-data"
	}
	if c.BaseURL == "" {
		c.BaseURL = "http://" + c.Listen
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.LogFormat == "" {
		c.LogFormat = "text"
	}
	if c.Phone.DefaultRegion == "" {
		c.Phone.DefaultRegion = "DE"
	}
	if c.lines == nil || c.lines["phone.min_suffix_digits"] == 0 {
		if c.Phone.MinSuffixDigits == 0 {
			c.Phone.MinSuffixDigits = 8
		}
	}
	if c.CRM.Kind == "" {
		c.CRM.Kind = "builtin"
	}
	if len(c.Telephony) == 0 {
		c.Telephony = []Section{{Kind: "webhook"}}
	}
	for i := range c.Telephony {
		if c.Telephony[i].Name == "" {
			c.Telephony[i].Name = c.Telephony[i].Kind
			if i > 0 {
				c.Telephony[i].Name = fmt.Sprintf("%s-%d", c.Telephony[i].Kind, i+1)
			}
		}
	}
	if c.Outbox.Workers == 0 {
		c.Outbox.Workers = 32
	}
	if c.Outbox.MaxAge == 0 {
		c.Outbox.MaxAge = 24 * time.Hour
	}
	if c.Retention.Calls == 0 {
		c.Retention.Calls = 90 * 24 * time.Hour
	}
	if c.Retention.Outbox == 0 {
		c.Retention.Outbox = 7 * 24 * time.Hour
	}
	if c.Retention.Audit == 0 {
		c.Retention.Audit = 366 * 24 * time.Hour
	}
	if c.Web.SessionTTL == 0 {
		c.Web.SessionTTL = 12 * time.Hour
	}
	if c.Web.ReadTimeout == 0 {
		c.Web.ReadTimeout = 60 * time.Second
	}
	if c.Web.WriteTimeout == 0 {
		c.Web.WriteTimeout = 60 * time.Second
	}
	if c.Web.IdleTimeout == 0 {
		c.Web.IdleTimeout = 120 * time.Second
	}
	if c.Web.StopGrace == 0 {
		c.Web.StopGrace = time.Second
	}
	if c.Web.MaxConnectionsPerAddress == 0 {
		c.Web.MaxConnectionsPerAddress = 512
	}
	if c.Web.MaxStreamsPerUser == 0 {
		c.Web.MaxStreamsPerUser = 10
	}
	if c.Web.MaxCompanionsPerUser == 0 {
		c.Web.MaxCompanionsPerUser = 2
	}
}

// Errorf makes an error located at a key: "ringside.yaml:7: phone.default_region: ...".
func (c *Config) Errorf(key, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if c.File == "" {
		return fmt.Errorf("%s: %s", key, msg)
	}
	if l := c.lines[key]; l > 0 {
		return fmt.Errorf("%s:%d: %s: %s", c.File, l, key, msg)
	}
	return fmt.Errorf("%s: %s: %s", c.File, key, msg)
}

func (c *Config) validate() error {
	var errs []error
	if c.Outbox.Workers < 0 || c.Outbox.Workers > 1024 {
		errs = append(errs, c.Errorf("outbox.workers", "must be between 1 and 1024"))
	}
	for key, d := range map[string]time.Duration{"outbox.max_age": c.Outbox.MaxAge, "retention.calls": c.Retention.Calls, "retention.outbox": c.Retention.Outbox, "retention.audit": c.Retention.Audit} {
		if d < 0 {
			errs = append(errs, c.Errorf(key, "must not be negative"))
		}
	}
	if _, err := phone.NewParser(c.Phone); err != nil {
		key := "phone.default_region"
		if c.Phone.MinSuffixDigits < 0 {
			key = "phone.min_suffix_digits"
		}
		errs = append(errs, c.Errorf(key, "%v", strings.TrimPrefix(err.Error(), "phone: ")))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, c.Errorf("log_level", "%q is not debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, c.Errorf("log_format", "%q is not text or json", c.LogFormat))
	}
	switch c.Store.Driver {
	case "", "sqlite", "postgres":
	default:
		errs = append(errs, c.Errorf("store.driver", "%q is not sqlite or postgres", c.Store.Driver))
	}
	for key, d := range map[string]time.Duration{"web.read_timeout": c.Web.ReadTimeout, "web.write_timeout": c.Web.WriteTimeout, "web.idle_timeout": c.Web.IdleTimeout} {
		if d < time.Second {
			errs = append(errs, c.Errorf(key, "must be at least 1s"))
		}
	}
	if c.Web.StopGrace < 0 || c.Web.StopGrace > time.Minute {
		errs = append(errs, c.Errorf("web.stop_grace", "must be from 1ms to 60s"))
	}
	for key, n := range map[string]int{"web.max_connections": c.Web.MaxConnections, "web.max_connections_per_address": c.Web.MaxConnectionsPerAddress,
		"web.max_streams_per_user": c.Web.MaxStreamsPerUser, "web.max_companions_per_user": c.Web.MaxCompanionsPerUser} {
		if n < 0 {
			errs = append(errs, c.Errorf(key, "must not be negative"))
		}
	}
	for i, p := range c.Web.TrustedProxies {
		if _, err := ParsePrefix(p); err != nil {
			errs = append(errs, c.Errorf(fmt.Sprintf("web.trusted_proxies[%d]", i), "%v", err))
		}
	}
	if c.Web.MetricsTokenEnv != "" && c.Web.MetricsTokenFile != "" {
		errs = append(errs, c.Errorf("web.metrics_token_env", "set metrics_token_env or metrics_token_file, not both"))
	}
	if err := c.Cluster.Validate(); err != nil {
		key, msg, _ := strings.Cut(err.Error(), ": ")
		errs = append(errs, c.Errorf(key, "%s", msg))
	}
	seen := map[string]bool{}
	for i, u := range c.Users {
		key := fmt.Sprintf("users[%d]", i)
		if u.Name == "" {
			errs = append(errs, c.Errorf(key, "a user needs a name"))
		} else if seen[u.Name] {
			errs = append(errs, c.Errorf(key, "user %q is declared twice", u.Name))
		}
		seen[u.Name] = true
	}
	names := map[string]bool{}
	for _, t := range c.Telephony {
		if t.Kind == "" {
			errs = append(errs, fmt.Errorf("%s: telephony: each entry needs a kind (webhook, ami, esl, sipwatch)", t.Where()))
		}
		if names[t.Name] {
			errs = append(errs, fmt.Errorf("%s: telephony: two sources are named %q; give each a unique name", t.Where(), t.Name))
		}
		names[t.Name] = true
	}
	if (c.Web.TLSCert == "") != (c.Web.TLSKey == "") {
		errs = append(errs, c.Errorf("web", "tls_cert and tls_key go together"))
	}
	return errors.Join(errs...)
}

func withFile(file string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var errs []error
		for _, e := range te.Errors {
			errs = append(errs, fmt.Errorf("%s:%s", nonEmpty(file), strings.TrimPrefix(e, "line ")))
		}
		return errors.Join(errs...)
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	if strings.HasPrefix(msg, "line ") {
		return fmt.Errorf("%s:%s", nonEmpty(file), strings.TrimPrefix(msg, "line "))
	}
	return fmt.Errorf("%s: %s", nonEmpty(file), msg)
}

func nonEmpty(file string) string {
	if file == "" {
		return "config"
	}
	return file
}

// recordLines remembers the line of every mapping key by its dotted path.
func recordLines(n *yaml.Node, prefix string, lines map[string]int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if prefix != "" {
				k = prefix + "." + k
			}
			lines[k] = n.Content[i].Line
			recordLines(n.Content[i+1], k, lines)
		}
	case yaml.SequenceNode:
		for i, e := range n.Content {
			k := fmt.Sprintf("%s[%d]", prefix, i)
			lines[k] = e.Line
			recordLines(e, k, lines)
		}
	}
}

var (
	nodeHolder = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
)

// strictCheck walks n against type t and reports every key that t has no field for, with
// its line. Types that decode themselves (yaml.Unmarshaler) are checked by their owner.
func strictCheck(n *yaml.Node, t reflect.Type, path, file string, allow map[string]bool, errs *[]error) {
	for t != nil && t.Kind() == reflect.Pointer {
		if reflect.PointerTo(t.Elem()).Implements(nodeHolder) && t.Elem().Kind() == reflect.Struct {
			return
		}
		t = t.Elem()
	}
	if t == nil || reflect.PointerTo(t).Implements(nodeHolder) {
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty value keeps the default
	}
	if msg := wrongValue(n, t); msg != "" {
		key := path
		if key == "" {
			key = "value"
		}
		*errs = append(*errs, fmt.Errorf("%s:%d: %s: %s", nonEmpty(file), n.Line, key, msg))
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return
		}
		fields := map[string]reflect.Type{}
		collectFields(t, fields)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			kp := k
			if path != "" {
				kp = path + "." + k
			}
			if allow[k] {
				continue
			}
			ft, ok := fields[k]
			if !ok {
				*errs = append(*errs, fmt.Errorf("%s:%d: %s: unknown key%s", nonEmpty(file), n.Content[i].Line, kp, suggest(k, fields)))
				continue
			}
			strictCheck(n.Content[i+1], ft, kp, file, nil, errs)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, e := range n.Content {
			strictCheck(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), file, nil, errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			strictCheck(n.Content[i+1], t.Elem(), path+"."+n.Content[i].Value, file, nil, errs)
		}
	}
}

var durationType = reflect.TypeOf(time.Duration(0))

// wrongValue says in plain words why node n cannot be a t ("" when it can, or when t's
// own decoder judges it).
func wrongValue(n *yaml.Node, t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		if n.Kind != yaml.MappingNode {
			return "expected a mapping of keys (key: value), not " + shown(n)
		}
		return ""
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return "expected a list (- item, or [a, b]), not " + shown(n)
		}
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		return "expected a single value, not " + shown(n)
	}
	v := n.Value
	switch {
	case t == durationType:
		if _, err := time.ParseDuration(v); err == nil {
			return ""
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			unit := "s"
			if f >= 100 {
				unit = "ms"
			}
			return fmt.Sprintf("%s needs a unit, e.g. %s%s", v, v, unit)
		}
		return v + " is not a duration (e.g. 300ms, 10s, 4h)"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		if n.Tag == "!!float" {
			return v + " is not a whole number"
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			if n.Tag == "!!int" {
				return v + " is too large"
			}
			return v + " is not a number"
		}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			return v + " is not a number"
		}
	case t.Kind() == reflect.Bool:
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			return v + " is not true or false"
		}
	}
	return ""
}

// shown describes a node for a message.
func shown(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

func collectFields(t reflect.Type, fields map[string]reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if strings.Contains(opts, "inline") || (f.Anonymous && tag == "") {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				collectFields(ft, fields)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
}

func suggest(k string, fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	for f := range fields {
		names = append(names, f)
	}
	return DidYouMean(k, names)
}

// DidYouMean returns ` (did you mean "x"?)` when one of names is a likely typo of k (at
// most two edits away), else "". Other parts of the config (rules) use it too.
func DidYouMean(k string, names []string) string {
	best, bestD := "", 3
	for _, f := range names {
		if d := distance(k, f); d < bestD || (d == bestD && best != "" && f < best) {
			best, bestD = f, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// distance is the Levenshtein distance, for "did you mean".
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// ParsePrefix reads an address ("10.0.0.5", "::1") or a CIDR range ("10.0.0.0/8") of
// web.trusted_proxies.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR range", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR range", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
