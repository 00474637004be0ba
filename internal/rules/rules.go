// Package rules matches call events to the configured rules (ringside.yaml `rules:`) and
// says which actions to run: pop, UI actions for the agent's page, the CRM call log and
// signed webhooks through the outbox.
package rules

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/config"
	"github.com/ringside/ringside/internal/crm"
)

// Options are what an Engine needs from outside the config. Every field is optional.
type Options struct {
	// Getenv resolves secret_env. Default os.Getenv.
	Getenv func(string) string
	// ReadFile resolves secret_file. Default os.ReadFile.
	ReadFile func(string) ([]byte, error)
	// HTTPClient delivers webhooks. Default a client without a global timeout (each
	// webhook has its own).
	HTTPClient *http.Client
}

// An Engine holds the compiled rules. It is safe for concurrent use.
type Engine struct {
	// mu guards what Replace swaps (rules, groups, perUser, secrets, file, path): the
	// pipeline evaluates while a SIGHUP reload puts new rules in force.
	mu      sync.RWMutex
	rules   []*Rule
	groups  map[string][]string
	perUser bool // some rule looks at users or groups
	opt     Options
	secrets map[string][]byte // secret ref ("env:NAME", "file:PATH") → secret
	file    string
	path    string // "rules", or "rules.list" in the mapping form
}

// A Rule is one compiled entry of the rules list.
type Rule struct {
	Index   int      `json:"index"`
	Name    string   `json:"name,omitempty"`
	Line    int      `json:"line,omitempty"`
	Default bool     `json:"default,omitempty"` // one of the built-in defaults
	On      []string `json:"on"`
	When    When     `json:"when,omitzero"`
	Do      []Action `json:"do"`
	Stop    bool     `json:"stop,omitempty"`

	events     []string       // On expanded
	isDefaults bool           // the entry `- defaults`
	pos        int            // position in the configured list (Index counts the defaults in)
	lines      map[string]int // line of on, when, do, do[i]
}

// New compiles the rules of cfg (config.Config.Rules); without rules it returns the
// defaults. Every mistake is reported with file and line: unknown events, actions and
// keys, template errors, missing secrets and rules that can never run.
func New(cfg *config.Config, opt Options) (*Engine, error) {
	if opt.Getenv == nil {
		opt.Getenv = os.Getenv
	}
	if opt.ReadFile == nil {
		opt.ReadFile = os.ReadFile
	}
	if opt.HTTPClient == nil {
		opt.HTTPClient = &http.Client{}
	}
	e := &Engine{opt: opt, secrets: map[string][]byte{}, file: cfg.File, path: "rules"}
	if cfg.Rules.Empty() {
		e.rules = Defaults()
		return e, nil
	}
	var raw node
	if err := cfg.Rules.Decode(&raw); err != nil {
		return nil, err
	}
	d := &decoder{file: cfg.File}
	spec := d.top(raw.n)
	e.groups = spec.groups
	if spec.mapping {
		e.path = "rules.list"
	}
	errs := d.errs
	for _, r := range spec.rules {
		if r.isDefaults {
			for _, dr := range Defaults() {
				dr.Line = r.Line
				e.rules = append(e.rules, dr)
			}
			continue
		}
		e.rules = append(e.rules, r)
	}
	for i, r := range e.rules {
		r.Index = i
		if r.Default {
			continue
		}
		errs = append(errs, e.compile(r, spec.zone)...)
	}
	errs = append(errs, e.unreachable()...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return e, nil
}

// Rules returns the compiled rules, for the read-only view of admins.
func (e *Engine) Rules() []Rule {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]Rule, len(e.rules))
	for i, r := range e.rules {
		out[i] = *r
	}
	return out
}

// where names a rule in messages: "ringside.yaml:12: rules[3]".
func (e *Engine) where(r *Rule, key string) string {
	path := fmt.Sprintf("%s[%d]", e.path, r.pos)
	if r.Name != "" {
		path = fmt.Sprintf("%s[%d] (%s)", e.path, r.pos, r.Name)
	}
	if key != "" {
		path += "." + key
	}
	if e.file == "" {
		return path
	}
	line := r.Line
	if l := r.lines[key]; l > 0 {
		line = l
	}
	return fmt.Sprintf("%s:%d: %s", e.file, line, path)
}

// compile checks one rule and prepares its conditions and actions.
func (e *Engine) compile(r *Rule, zone string) []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", e.where(r, key), fmt.Sprintf(format, args...)))
	}
	if len(r.On) == 0 {
		bad("on", "a rule needs at least one event (%s)", strings.Join(Events, ", "))
	}
	for _, ev := range r.On {
		if !validEvent(ev) {
			bad("on", "unknown event %q%s (events: %s, or a wildcard such as inbound.*)", ev, suggestOne(ev, Events), strings.Join(Events, ", "))
		}
	}
	r.events = expand(r.On)
	if len(r.Do) == 0 {
		bad("do", "a rule needs at least one action (%s)", strings.Join(actionNames, ", "))
	}
	if r.When.TimeZone == "" {
		r.When.TimeZone = zone
	}
	for _, err := range r.When.compile(e.groups) {
		bad("when", "%v", err)
	}
	for i := range r.Do {
		a := &r.Do[i]
		for _, err := range a.compile(e) {
			bad(fmt.Sprintf("do[%d]", i), "%s: %v", a.Do, err)
		}
		if a.Do == ActOpenRecord && (r.When.Match == MatchUnmatched || r.When.Match == MatchWithheld) {
			bad(fmt.Sprintf("do[%d]", i), "open_record never runs for callers that are not in the CRM (when.match is %s)", r.When.Match)
		}
	}
	if r.When.usesUsers() {
		e.perUser = true
	}
	return errs
}

// unreachable finds rules that can never run: an earlier rule with stop takes all their
// events under conditions they all imply.
func (e *Engine) unreachable() []error {
	var errs []error
	for j, s := range e.rules {
		if s.Default {
			continue
		}
		for _, r := range e.rules[:j] {
			if !r.Stop || !covers(r.events, s.events) || !r.When.weakerThan(s.When) {
				continue
			}
			at := "the defaults"
			if !r.Default {
				at = fmt.Sprintf("%s[%d] (line %d)", e.path, r.pos, r.Line)
			}
			errs = append(errs, fmt.Errorf("%s: unreachable: %s stops every event this rule takes", e.where(s, ""), at))
			break
		}
	}
	return errs
}

func covers(a, b []string) bool {
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}

// Input is what rules look at: one event of one call, with the lookup result.
type Input struct {
	Event   string // rule event (EventOf); "" matches no rule
	Type    call.EventType
	Call    call.Call
	Leg     *call.Leg
	From    string // the transferring extension (call.transferred)
	Matches []crm.Match
	Lookup  string // done, pending, failed, skipped
	// Users are the users the event concerns (the pop's recipients).
	Users []string
	// Agent is the user who answered (or the only user of the leg), AgentEmail theirs.
	Agent, AgentEmail string
	Time              time.Time
}

// Result is what the rules decided for one input.
type Result struct {
	Fired []*Rule
}

// Evaluate runs the rules in order against in and returns those that apply, up to and
// including the first that stops.
func (e *Engine) Evaluate(in *Input) Result {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var res Result
	if in.Event == "" {
		return res
	}
	pr := prepare(in)
	for _, r := range e.rules {
		if !slices.Contains(r.events, in.Event) || !r.When.matches(in, &pr, e.groups) {
			continue
		}
		res.Fired = append(res.Fired, r)
		if r.Stop {
			break
		}
	}
	return res
}

// PerUser reports whether the outcome may differ between the users of one event (some
// rule names users or groups), so that UI actions must be evaluated per user.
func (e *Engine) PerUser() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.perUser
}

// Replace puts the rules of n (a new Engine, from a reloaded config) in force in e:
// evaluations from now on use them; results already returned keep the rules that fired.
// e keeps its options (HTTP client, secret readers); webhooks queued under the old rules
// find their secrets where the old config said.
func (e *Engine) Replace(n *Engine) {
	n.mu.RLock()
	rules, groups, perUser, secrets, file, path := n.rules, n.groups, n.perUser, n.secrets, n.file, n.path
	n.mu.RUnlock()
	e.mu.Lock()
	e.rules, e.groups, e.perUser, e.secrets, e.file, e.path = rules, groups, perUser, secrets, file, path
	e.mu.Unlock()
}

// Pop reports whether a fired rule pops.
func (r Result) Pop() bool {
	for _, ru := range r.Fired {
		for _, a := range ru.Do {
			if a.Do == ActPop {
				return true
			}
		}
	}
	return false
}

// Without returns the rules of r not in old (rules a late lookup answer made apply).
func (r Result) Without(old Result) Result {
	var out Result
	for _, ru := range r.Fired {
		if !slices.Contains(old.Fired, ru) {
			out.Fired = append(out.Fired, ru)
		}
	}
	return out
}

// Actions returns the actions of the fired rules of the given kinds, in order; all
// actions when no kind is given.
func (r Result) Actions(kinds ...string) []*Action {
	var out []*Action
	for _, ru := range r.Fired {
		for i := range ru.Do {
			if len(kinds) == 0 || slices.Contains(kinds, ru.Do[i].Do) {
				out = append(out, &ru.Do[i])
			}
		}
	}
	return out
}
