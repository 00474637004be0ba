package rules

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"text/template"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/crm"
)

// Actions a rule can run.
const (
	ActPop            = "pop"              // show the card (deliver the ringing/dialing message)
	ActOpenRecord     = "open_record"      // open the best match in the CRM
	ActOpenCreateForm = "open_create_form" // unknown caller: the pre-filled create dialog or the CRM's form
	ActOpenActivity   = "open_activity"    // the pre-filled phone-call activity form
	ActNotify         = "notify"           // a desktop/browser notification
	ActLogActivity    = "log_activity"     // write the phone-call activity to the CRM (outbox)
	ActWebhook        = "webhook"          // POST the call as signed JSON (outbox)
	actStop           = "stop"             // pseudo-action: later rules do not run
)

var actionNames = []string{ActPop, ActOpenRecord, ActOpenCreateForm, ActOpenActivity, ActNotify, ActLogActivity, ActWebhook, actStop}

// UIActions are the actions the agent's page carries out; they travel in the stream
// message's "actions" array.
var UIActions = []string{ActOpenRecord, ActOpenCreateForm, ActOpenActivity, ActNotify}

// An Action is one entry of a rule's `do`, with its parameters.
type Action struct {
	Do string `json:"do"`
	// open_record: browser (default), companion or panel; where the page opens the record.
	Target string `json:"target,omitempty" yaml:"target"`
	// open_create_form: the entity to propose (lead by default).
	Entity string `json:"entity,omitempty" yaml:"entity"`
	// open_record / open_create_form: a URL template (the CRM's own form pre-filled
	// through its URL); open_create_form without it opens Ringside's create dialog.
	// webhook: where to POST (a plain URL).
	URL string `json:"url,omitempty" yaml:"url"`
	// open_activity / log_activity: subject template (default: "Incoming call from …").
	Subject string `json:"subject,omitempty" yaml:"subject"`
	// notify: title and text templates.
	Title string `json:"title,omitempty" yaml:"title"`
	Text  string `json:"text,omitempty" yaml:"text"`
	// log_activity: the owner of missed calls' open activities: a user or a queue name
	// (default: the agent of the first phone that rang).
	Owner string `json:"owner,omitempty" yaml:"owner"`
	// webhook: the HMAC-SHA256 secret (one of them), and the time one attempt may take
	// (default 10s).
	SecretEnv  string        `json:"secret_env,omitempty" yaml:"secret_env"`
	SecretFile string        `json:"secret_file,omitempty" yaml:"secret_file"`
	Timeout    time.Duration `json:"timeout,omitempty" yaml:"timeout"`

	Line int `json:"-" yaml:"-"`

	tURL, tSubject, tTitle, tText *template.Template
	secretRef                     string
}

// allowed parameters per action.
var actionParams = map[string][]string{
	ActPop:            nil,
	ActOpenRecord:     {"target", "url"},
	ActOpenCreateForm: {"entity", "url"},
	ActOpenActivity:   {"subject"},
	ActNotify:         {"title", "text"},
	ActLogActivity:    {"subject", "owner"},
	ActWebhook:        {"url", "secret_env", "secret_file", "timeout"},
	actStop:           nil,
}

// Default texts.
const (
	defaultNotifyTitle = `{{if eq .Direction "outbound"}}Call to{{else}}Call from{{end}} {{.Name}}`
	defaultNotifyText  = `{{if .Matched}}{{.Match.Name}}{{with .Match.Company}} · {{.}}{{end}}{{else}}{{.Number}}{{end}}`
	defaultTimeout     = 10 * time.Second
)

func (a *Action) compile(e *Engine) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	tpl := func(key, src string) *template.Template {
		if src == "" {
			return nil
		}
		t, err := parseTemplate(key, src)
		if err != nil {
			bad("%v", err)
		}
		return t
	}
	switch a.Do {
	case ActOpenRecord:
		switch a.Target {
		case "", "browser", "companion", "panel":
		default:
			bad("target: %q is not browser, companion or panel", a.Target)
		}
		a.tURL = tpl("url", a.URL)
	case ActOpenCreateForm:
		if a.Entity == "" {
			a.Entity = string(crm.Lead)
		}
		if !crm.Entity(a.Entity).Valid() {
			bad("entity: %q is not contact, account or lead", a.Entity)
		}
		a.tURL = tpl("url", a.URL)
	case ActOpenActivity, ActLogActivity:
		a.tSubject = tpl("subject", a.Subject)
	case ActNotify:
		if a.Title == "" {
			a.Title = defaultNotifyTitle
		}
		if a.Text == "" {
			a.Text = defaultNotifyText
		}
		a.tTitle, a.tText = tpl("title", a.Title), tpl("text", a.Text)
	case ActWebhook:
		u, err := url.Parse(a.URL)
		switch {
		case a.URL == "":
			bad("url: missing (where to POST)")
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			bad("url: %q is not an http(s) URL", a.URL)
		}
		if a.Timeout < 0 {
			bad("timeout: must be positive")
		}
		if a.Timeout == 0 {
			a.Timeout = defaultTimeout
		}
		switch {
		case a.SecretEnv != "" && a.SecretFile != "":
			bad("secret_env, secret_file: set only one")
		case a.SecretEnv != "":
			a.secretRef = "env:" + a.SecretEnv
		case a.SecretFile != "":
			a.secretRef = "file:" + a.SecretFile
		default:
			bad("secret_env: missing (the HMAC-SHA256 key: set secret_env or secret_file)")
		}
		if a.secretRef != "" {
			if _, ok := e.secrets[a.secretRef]; !ok {
				s, err := e.resolveSecret(a.secretRef)
				if err != nil {
					bad("%v", err)
				} else {
					e.secrets[a.secretRef] = s
				}
			}
		}
	}
	return errs
}

// resolveSecret reads a secret reference ("env:NAME" or "file:PATH").
func (e *Engine) resolveSecret(ref string) ([]byte, error) {
	kind, name, _ := strings.Cut(ref, ":")
	var s []byte
	switch kind {
	case "env":
		s = []byte(strings.TrimSpace(e.opt.Getenv(name)))
		if len(s) == 0 {
			return nil, fmt.Errorf("secret_env: environment variable %s is empty or not set", name)
		}
	case "file":
		b, err := e.opt.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("secret_file: %w", err)
		}
		s = bytes.TrimSpace(b)
		if len(s) == 0 {
			return nil, fmt.Errorf("secret_file: %s is empty", name)
		}
	default:
		return nil, fmt.Errorf("unknown secret reference %q", ref)
	}
	return s, nil
}

// Data is what templates see. Caller-supplied strings (Remote.Name, Name) are untrusted:
// the page renders them as text.
type Data struct {
	Event      string        // inbound.ringing, …
	Call       call.Call     // the whole call: .Call.ID, .Call.Legs, .Call.StartedAt, …
	Direction  string        // inbound, outbound, internal
	Remote     call.Remote   // .Remote.Raw, .Remote.Number (E.164), .Remote.Name (display name)
	Number     string        // the remote number: E.164 when it parses, else as received
	Name       string        // the best name: the match's, else the caller's display name, else the number
	Matched    bool          // the CRM knows the number
	Match      crm.Match     // the best match (zero when none): .Match.Name, .Match.Company, .Match.Entity, .Match.URL, .Match.ID
	Matches    []crm.Match   // every match, best first
	Agent      string        // the user who answered (or whose phone rang)
	AgentEmail string        //
	Extension  string        // the phone concerned
	DID        string        // the number or queue the caller dialled
	Duration   time.Duration // talk time so far (rounded to seconds)
	Time       time.Time     // when the event happened
}

// DataOf builds the template data of an input.
func DataOf(in *Input) Data {
	d := Data{
		Event: in.Event, Call: in.Call, Direction: directionOf(in.Call), Remote: in.Call.Remote,
		Number: numberOf(in), Matches: in.Matches, Agent: in.Agent, AgentEmail: in.AgentEmail,
		DID: in.Call.DID, Time: in.Time,
	}
	if d.Matches == nil {
		d.Matches = []crm.Match{}
	}
	if len(in.Matches) > 0 {
		d.Matched, d.Match = true, in.Matches[0]
	}
	switch {
	case d.Matched && d.Match.Name != "":
		d.Name = d.Match.Name
	case in.Call.Remote.Name != "":
		d.Name = in.Call.Remote.Name
	case in.Call.Remote.Withheld || d.Number == "":
		d.Name = "a withheld number"
	default:
		d.Name = d.Number
	}
	if exts := extensionsOf(in); len(exts) > 0 {
		d.Extension = exts[0]
	}
	now := in.Time
	if now.IsZero() {
		now = time.Now()
	}
	d.Duration = in.Call.Duration(now).Round(time.Second)
	return d
}

// numberOf is the caller's number as the templates see it: normalised when it could
// be, else as received.
func numberOf(in *Input) string {
	if in.Call.Remote.Number != "" {
		return in.Call.Remote.Number
	}
	return in.Call.Remote.Raw
}

// sampleData exercises every field, so that checking a template at load time finds
// unknown fields and wrong uses.
func sampleData() Data {
	t := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	m := crm.Match{Record: crm.Record{Ref: crm.Ref{Entity: crm.Contact, ID: "1"}, Name: "Jane Doe", Company: "ACME", URL: "https://crm.example/contact/1"}, Number: "030 9876543", How: "exact"}
	c := call.Call{ID: "c-1", Source: "webhook", Direction: call.Inbound, State: call.Answered,
		Remote: call.Remote{Raw: "+49 30 9876543", Number: "+49309876543", Name: "ACME"}, DID: "+49 30 1111",
		StartedAt: t, AnsweredAt: t, AnsweredBy: "200", Legs: []call.Leg{{Extension: "200", State: call.Answered, RingingAt: t, AnsweredAt: t}}}
	in := &Input{Event: InboundAnswered, Type: call.EvAnswered, Call: c, Matches: []crm.Match{m}, Lookup: "done", Agent: "alice", Time: t.Add(time.Minute)}
	return DataOf(in)
}

var unknownField = regexp.MustCompile(`^(.*): can't evaluate field (\w+) in type rules\.Data$`)

// dataFields lists the fields of Data for messages.
const dataFields = "Event, Call, Direction, Remote, Number, Name, Matched, Match, Matches, Agent, AgentEmail, Extension, DID, Duration, Time"

func parseTemplate(key, src string) (*template.Template, error) {
	t, err := template.New(key).Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, fmt.Errorf("%s: template: %s", key, strings.TrimPrefix(err.Error(), "template: "))
	}
	// Unknown fields and wrong types only show when the template runs: run it once now,
	// with a matched and an unmatched caller.
	for _, d := range []Data{sampleData(), {Matches: []crm.Match{}}} {
		if err := t.Execute(&bytes.Buffer{}, d); err != nil {
			msg := strings.TrimPrefix(err.Error(), "template: ")
			if m := unknownField.FindStringSubmatch(msg); m != nil {
				msg = fmt.Sprintf("%s: unknown field %s (fields: %s)", m[1], m[2], dataFields)
			}
			return nil, fmt.Errorf("%s: template: %s", key, msg)
		}
	}
	return t, nil
}

func render(t *template.Template, d *Data) (string, error) {
	if t == nil {
		return "", nil
	}
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

// UIAction is one action for the agent's page, as it appears in a stream message's
// "actions" array.
type UIAction struct {
	Do     string `json:"do"`
	URL    string `json:"url,omitempty"`
	Target string `json:"target,omitempty"`
	Entity string `json:"entity,omitempty"`
	// Prefill is what the create form starts with (open_create_form without url).
	Prefill map[string]string `json:"prefill,omitempty"`
	Subject string            `json:"subject,omitempty"`
	Title   string            `json:"title,omitempty"`
	Text    string            `json:"text,omitempty"`
}

// UI renders the UI actions of r for in, at most one of each kind (the first rule's).
// Actions that do not apply (open_record without a match, open_create_form for a known or
// withheld caller) are left out; template errors are returned with the actions that did
// render.
func (r Result) UI(in *Input) ([]UIAction, error) {
	acts := r.Actions(UIActions...)
	if len(acts) == 0 {
		return nil, nil
	}
	var d *Data // the templates' data, built once the first template needs it
	data := func() *Data {
		if d == nil {
			x := DataOf(in)
			d = &x
		}
		return d
	}
	matched := len(in.Matches) > 0
	var out []UIAction
	var errs []error
	done := map[string]bool{}
	for _, a := range acts {
		if done[a.Do] {
			continue // the first rule wins: one create form, one notification
		}
		u := UIAction{Do: a.Do}
		var err error
		switch a.Do {
		case ActOpenRecord:
			if !matched {
				continue
			}
			u.Target, u.URL = a.Target, in.Matches[0].URL
			if a.tURL != nil {
				u.URL, err = render(a.tURL, data())
			}
			if u.Target == "" {
				u.Target = "browser"
			}
		case ActOpenCreateForm:
			if matched || in.Call.Remote.Withheld || in.Lookup == "skipped" {
				continue
			}
			u.Entity = a.Entity
			if a.tURL != nil {
				u.URL, err = render(a.tURL, data())
			} else {
				u.Prefill = map[string]string{"phone": numberOf(in)}
				if in.Call.Remote.Name != "" {
					u.Prefill["name"] = in.Call.Remote.Name
				}
			}
		case ActOpenActivity:
			u.Subject, err = render(a.tSubject, data())
		case ActNotify:
			if u.Title, err = render(a.tTitle, data()); err == nil {
				u.Text, err = render(a.tText, data())
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("rules: %s: %w", a.Do, err))
			continue
		}
		done[a.Do] = true
		out = append(out, u)
	}
	return out, errors.Join(errs...)
}

// LogOptions are the settings of the log_activity actions that fired for an event
// (later ones override earlier ones).
type LogOptions struct {
	subject *template.Template
	owner   string
}

// Log returns the log_activity settings of r, and whether any log_activity fired.
func (r Result) Log() (LogOptions, bool) {
	var lo LogOptions
	acts := r.Actions(ActLogActivity)
	for _, a := range acts {
		if a.tSubject != nil {
			lo.subject = a.tSubject
		}
		if a.Owner != "" {
			lo.owner = a.Owner
		}
	}
	return lo, len(acts) > 0
}

// Apply puts the options into an activity built from the journal: the subject template
// (rendered with in), and the owner of a missed call.
func (lo LogOptions) Apply(a *crm.Activity, in *Input) error {
	if lo.owner != "" && a.Missed {
		a.Agent, a.AgentEmail = lo.owner, ""
	}
	if lo.subject != nil {
		d := DataOf(in)
		s, err := render(lo.subject, &d)
		if err != nil {
			return fmt.Errorf("rules: log_activity subject: %w", err)
		}
		a.Subject = s
	}
	return nil
}
