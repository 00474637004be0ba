package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/config"
	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/testenv"
)

func env(m map[string]string) Options {
	return Options{Getenv: func(k string) string { return m[k] }}
}

func mustEngine(t *testing.T, yaml string) *Engine {
	t.Helper()
	cfg, err := config.Parse("ringside.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	e, err := New(cfg, env(map[string]string{"HOOK": "s3cret"}))
	if err != nil {
		t.Fatalf("rules: %v", err)
	}
	return e
}

var (
	// Wednesday 2026-11-25, 10:00 in Berlin.
	wed10  = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	sat10  = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	wed20  = time.Date(2026, 11, 25, 19, 0, 0, 0, time.UTC)
	jane   = crm.Match{Record: crm.Record{Ref: crm.Ref{Entity: crm.Contact, ID: "1"}, Name: "Jane Doe", Company: "ACME", URL: "/crm/contact/1"}}
	acme   = crm.Match{Record: crm.Record{Ref: crm.Ref{Entity: crm.Account, ID: "2"}, Name: "ACME"}}
	remote = call.Remote{Raw: "+49 30 9876543", Number: "+49309876543", Name: "ACME Reception"}
)

func ringing(ext string) *Input {
	c := call.Call{ID: "c-1", Source: "webhook", Direction: call.Inbound, State: call.Ringing, Remote: remote, DID: "+49 30 1111",
		Legs: []call.Leg{{Extension: ext, State: call.Ringing}}}
	return &Input{Event: InboundRinging, Type: call.EvRinging, Call: c, Leg: &c.Legs[0], Lookup: "done", Users: []string{"alice"}, Time: wed10}
}

func with(in *Input, f func(*Input)) *Input { f(in); return in }

func TestEvaluate(t *testing.T) {
	e := mustEngine(t, `
rules:
  time_zone: Europe/Berlin
  groups: {sales: [alice, bob], support: [carol]}
  list:
    - name: vip
      on: inbound.ringing
      when: {match: matched, entity: account}
      do: [notify, stop]
    - name: sales hours
      on: [inbound.*]
      when: {groups: [sales], days: mon-fri, hours: ["08:00-12:00", "13:00-17:00"]}
      do: [open_record]
    - name: after hours
      on: inbound.ringing
      when: {days: mon-fri, hours: "08:00-18:00", window: outside}
      do: [{notify: {title: "after hours"}}]
    - name: hotline
      on: inbound.ringing
      when: {did: ["+49 30 1111"], number: ["+4930*"]}
      do: [{webhook: {url: "https://hooks.example/x", secret_env: HOOK}}]
    - name: several
      on: inbound.ringing
      when: {match: several}
      do: [open_activity]
    - name: unknown
      on: inbound.ringing
      when: {match: unmatched}
      do: [{open_create_form: {entity: contact}}]
    - name: withheld
      on: inbound.ringing
      when: {match: withheld}
      do: [notify]
    - name: ext 300
      on: call.transferred
      when: {extensions: ["300"]}
      do: [pop]
    - defaults
`)
	cases := []struct {
		name string
		in   *Input
		want []string
	}{
		{"unknown caller in office hours: no sales rule without a match needed", ringing("200"),
			[]string{"sales hours", "hotline", "unknown", "pop", "unknown caller"}},
		{"known account stops", with(ringing("200"), func(in *Input) { in.Matches = []crm.Match{acme} }),
			[]string{"vip"}},
		{"known contact", with(ringing("200"), func(in *Input) { in.Matches = []crm.Match{jane} }),
			[]string{"sales hours", "hotline", "pop"}},
		{"two matches", with(ringing("200"), func(in *Input) { in.Matches = []crm.Match{jane, acme} }),
			[]string{"sales hours", "hotline", "several", "pop"}},
		{"saturday is outside", with(ringing("200"), func(in *Input) { in.Time = sat10; in.Matches = []crm.Match{jane} }),
			[]string{"after hours", "hotline", "pop"}},
		{"evening is outside", with(ringing("200"), func(in *Input) { in.Time = wed20; in.Matches = []crm.Match{jane} }),
			[]string{"after hours", "hotline", "pop"}},
		{"not in sales", with(ringing("200"), func(in *Input) { in.Users = []string{"carol"}; in.Matches = []crm.Match{jane} }),
			[]string{"hotline", "pop"}},
		{"other DID", with(ringing("200"), func(in *Input) { in.Call.DID = "+49 30 2222"; in.Matches = []crm.Match{jane} }),
			[]string{"sales hours", "pop"}},
		{"foreign number", with(ringing("200"), func(in *Input) {
			in.Call.Remote = call.Remote{Raw: "+44 20 7946 0958", Number: "+442079460958"}
			in.Matches = []crm.Match{jane}
		}), []string{"sales hours", "pop"}},
		{"lookup pending is neither matched nor unmatched", with(ringing("200"), func(in *Input) { in.Lookup = "pending" }),
			[]string{"sales hours", "hotline", "pop"}},
		{"withheld", with(ringing("200"), func(in *Input) {
			in.Call.Remote = call.Remote{Withheld: true}
			in.Lookup = "skipped"
		}), []string{"sales hours", "withheld", "pop"}},
		{"answered", with(ringing("200"), func(in *Input) { in.Event = InboundAnswered }),
			[]string{"sales hours", "answered"}},
		{"missed", with(ringing("200"), func(in *Input) { in.Event = InboundMissed; in.Leg = nil }),
			[]string{"sales hours", "log"}},
		{"transfer to 300", with(ringing("300"), func(in *Input) { in.Event = CallTransferred }),
			[]string{"ext 300"}},
		{"transfer to 301", with(ringing("301"), func(in *Input) { in.Event = CallTransferred }),
			nil},
		{"outbound not answered", with(ringing("200"), func(in *Input) { in.Event = OutboundNotAnswered; in.Call.Direction = call.Outbound }),
			[]string{"log"}},
		{"no rule event", with(ringing("200"), func(in *Input) { in.Event = "" }), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, r := range e.Evaluate(c.in).Fired {
				got = append(got, r.Name)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("fired rules (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventOf(t *testing.T) {
	at := time.Unix(100, 0)
	in := call.Call{Direction: call.Inbound}
	inAns := call.Call{Direction: call.Inbound, AnsweredAt: at}
	out := call.Call{Direction: call.Outbound}
	outAns := call.Call{Direction: call.Outbound, AnsweredAt: at}
	internal := call.Call{Direction: call.Internal}
	cases := []struct {
		typ  call.EventType
		c    call.Call
		want string
	}{
		{call.EvRinging, in, InboundRinging},
		{call.EvRinging, internal, InternalRinging},
		{call.EvRinging, out, ""},
		{call.EvDialing, out, OutboundDialing},
		{call.EvAnswered, inAns, InboundAnswered},
		{call.EvAnswered, outAns, OutboundAnswered},
		{call.EvWithdrawn, in, ""},
		{call.EvTransferred, inAns, CallTransferred},
		{call.EvEnded, inAns, InboundEnded},
		{call.EvEnded, in, ""},
		{call.EvEnded, outAns, OutboundEnded},
		{call.EvMissed, in, InboundMissed},
		{call.EvMissed, internal, InternalMissed},
		{call.EvNotAnswered, out, OutboundNotAnswered},
		{call.EvEnded, call.Call{AnsweredAt: at}, InboundEnded},
	}
	for _, c := range cases {
		if got := EventOf(call.Event{Type: c.typ, Call: c.c}); got != c.want {
			t.Errorf("%s %s: %q, want %q", c.c.Direction, c.typ, got, c.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	for _, r := range Defaults() {
		if errs := r.When.compile(nil); len(errs) > 0 {
			t.Errorf("default %q: %v", r.Name, errs)
		}
		for i := range r.Do {
			if errs := r.Do[i].compile(&Engine{secrets: map[string][]byte{}}); len(errs) > 0 {
				t.Errorf("default %q: %v", r.Name, errs)
			}
		}
	}
	e, err := New(config.Default(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		in   *Input
		pop  bool
		ui   []string
		log  bool
	}{
		{"known caller rings", with(ringing("200"), func(in *Input) { in.Matches = []crm.Match{jane} }), true, nil, false},
		{"unknown caller rings", ringing("200"), true, []string{ActOpenCreateForm}, false},
		{"withheld caller rings", with(ringing("200"), func(in *Input) { in.Call.Remote = call.Remote{Withheld: true}; in.Lookup = "skipped" }), true, nil, false},
		{"answered", with(ringing("200"), func(in *Input) { in.Event = InboundAnswered }), false, []string{ActOpenActivity}, false},
		{"ended", with(ringing("200"), func(in *Input) { in.Event = InboundEnded }), false, nil, true},
		{"missed", with(ringing("200"), func(in *Input) { in.Event = InboundMissed }), false, nil, true},
		{"dialing unknown", with(ringing("200"), func(in *Input) { in.Event = OutboundDialing }), true, []string{ActOpenCreateForm}, false},
		{"not answered", with(ringing("200"), func(in *Input) { in.Event = OutboundNotAnswered }), false, nil, true},
		{"internal ringing", with(ringing("200"), func(in *Input) { in.Event = InternalRinging }), true, nil, false},
		{"internal ended: not logged", with(ringing("200"), func(in *Input) { in.Event = InternalEnded }), false, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := e.Evaluate(c.in)
			ui, err := res.UI(c.in)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, u := range ui {
				got = append(got, u.Do)
			}
			_, log := res.Log()
			if res.Pop() != c.pop || !cmp.Equal(got, c.ui) || log != c.log {
				t.Errorf("pop %v ui %v log %v; want %v %v %v", res.Pop(), got, log, c.pop, c.ui, c.log)
			}
		})
	}
}

func TestUIActions(t *testing.T) {
	e := mustEngine(t, `
rules:
  - on: [inbound.ringing, inbound.answered]
    do:
      - {open_record: {target: panel}}
      - {open_create_form: {entity: contact, url: "https://crm.example/new?phone={{urlquery .Number}}&name={{urlquery .Remote.Name}}"}}
      - {notify: {title: "{{.Name}} on {{.Extension}}", text: "{{.DID}}"}}
      - {open_activity: {subject: "Call with {{.Name}} ({{.Agent}})"}}
`)
	in := with(ringing("200"), func(in *Input) { in.Agent = "alice" })
	got, err := e.Evaluate(in).UI(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []UIAction{
		{Do: "open_create_form", Entity: "contact", URL: "https://crm.example/new?phone=%2B49309876543&name=ACME+Reception"},
		{Do: "notify", Title: "ACME Reception on 200", Text: "+49 30 1111"},
		{Do: "open_activity", Subject: "Call with ACME Reception (alice)"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unknown caller (-want +got):\n%s", diff)
	}
	in.Matches = []crm.Match{jane}
	got, _ = e.Evaluate(in).UI(in)
	want = []UIAction{
		{Do: "open_record", Target: "panel", URL: "/crm/contact/1"},
		{Do: "notify", Title: "Jane Doe on 200", Text: "+49 30 1111"},
		{Do: "open_activity", Subject: "Call with Jane Doe (alice)"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("known caller (-want +got):\n%s", diff)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown event", "rules:\n  - on: inbound.rining\n    do: pop\n",
			[]string{`ringside.yaml:2: rules[0].on: unknown event "inbound.rining" (did you mean "inbound.ringing"?)`}},
		{"unknown action", "rules:\n  - on: inbound.ringing\n    do: [pop, popup]\n",
			[]string{`ringside.yaml:3: rules[0].do[1]`, `unknown action "popup"`}},
		{"unknown key", "rules:\n  - on: inbound.ringing\n    wen: {}\n    do: pop\n",
			[]string{`ringside.yaml:3: rules[0].wen: unknown key (did you mean "when"?)`}},
		{"unknown when field", "rules:\n  - on: inbound.ringing\n    when:\n      matched: yes\n    do: pop\n",
			[]string{`ringside.yaml:4: rules[0].when.matched: unknown key (did you mean "match"?)`}},
		{"unknown param", "rules:\n  - on: inbound.ringing\n    do:\n      - notify: {titel: x}\n",
			[]string{`ringside.yaml:4: rules[0].do[0].notify.titel: unknown key (did you mean "title"?)`}},
		{"template syntax", "rules:\n  - on: inbound.ringing\n    do:\n      - notify: {title: \"{{.Name\"}\n",
			[]string{`ringside.yaml:4: rules[0].do[0]: notify: title: template:`}},
		{"template field", "rules:\n  - on: inbound.ringing\n    do:\n      - notify: {title: \"{{.Caller}}\"}\n",
			[]string{`ringside.yaml:4: rules[0].do[0]: notify: title: template:`, `unknown field Caller (fields: Event,`}},
		{"bad match", "rules:\n  - on: inbound.ringing\n    when: {match: known}\n    do: pop\n",
			[]string{`ringside.yaml:3: rules[0].when: match: "known" is not matched`}},
		{"no on", "rules:\n  - do: pop\n", []string{`rules[0].on: a rule needs at least one event`}},
		{"no do", "rules:\n  - on: inbound.ringing\n", []string{`rules[0].do: a rule needs at least one action`}},
		{"unknown group", "rules:\n  - on: inbound.ringing\n    when: {groups: [sales]}\n    do: pop\n", []string{`groups: no group "sales"`}},
		{"bad hours", "rules:\n  - on: inbound.ringing\n    when: {hours: 8-18}\n    do: pop\n", []string{`hours: "8-18" is not a span`}},
		{"bad days", "rules:\n  - on: inbound.ringing\n    when: {days: weekdays}\n    do: pop\n", []string{`days: "weekdays" is not a weekday`}},
		{"bad zone", "rules:\n  time_zone: Mars/Olympus\n  list: []\n", []string{`ringside.yaml:2: rules.time_zone: unknown time zone`}},
		{"webhook without secret", "rules:\n  - on: inbound.ringing\n    do:\n      - webhook: {url: \"https://x.example/\"}\n", []string{`secret_env: missing`}},
		{"webhook secret unset", "rules:\n  - on: inbound.ringing\n    do:\n      - webhook: {url: \"https://x.example/\", secret_env: NOPE}\n", []string{`environment variable NOPE is empty or not set`}},
		{"webhook bad url", "rules:\n  - on: inbound.ringing\n    do:\n      - webhook: {url: \"ftp://x\", secret_env: HOOK}\n", []string{`url: "ftp://x" is not an http(s) URL`}},
		{"unreachable", "rules:\n  - on: inbound.*\n    do: [pop, stop]\n  - name: late\n    on: inbound.ringing\n    when: {match: matched}\n    do: notify\n",
			[]string{`ringside.yaml:4: rules[1] (late): unreachable: rules[0] (line 2) stops every event this rule takes`}},
		{"open_record for unknown callers", "rules:\n  - on: inbound.ringing\n    when: {match: unmatched}\n    do: open_record\n",
			[]string{`open_record never runs`}},
		{"not a list", "rules: pop\n", []string{`ringside.yaml:1: rules: expected a list of rules`}},
		{"pop takes no parameters", "rules:\n  - on: inbound.ringing\n    do: [{pop: {x: 1}}]\n", []string{`rules[0].do[0].pop: takes no parameters`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := config.Parse("ringside.yaml", []byte(c.yaml))
			if err == nil {
				_, err = New(cfg, env(map[string]string{"HOOK": "x"}))
			}
			if err == nil {
				t.Fatalf("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
}

func TestReachableAfterNarrowStop(t *testing.T) {
	mustEngine(t, `
rules:
  - on: inbound.ringing
    when: {match: matched}
    do: [pop, stop]
  - on: inbound.ringing
    do: pop
  - defaults
`)
}

// TestREADMEExample keeps the README's rules example valid.
func TestREADMEExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, _ := strings.Cut(string(b), "\n## Rules\n")
	_, block, _ := strings.Cut(sec, "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	cfg, err := config.Parse("README.md", []byte(block))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg, env(map[string]string{"RINGSIDE_HOOK_SECRET": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(e.Rules()); n != 5+len(Defaults()) {
		t.Errorf("%d rules", n)
	}
	in := with(ringing("200"), func(in *Input) { in.Time = wed20 })
	ui, err := e.Evaluate(in).UI(in)
	if err != nil || len(ui) != 2 || ui[0].Title != "After hours: ACME Reception" || !strings.Contains(ui[1].URL, "telephone1%3D%2B49309876543") {
		t.Errorf("%+v %v", ui, err)
	}
}

// TestErrorPositions: messages name the rule as written, also after `- defaults` and in
// the mapping form.
func TestErrorPositions(t *testing.T) {
	cfg, err := config.Parse("ringside.yaml", []byte("rules:\n  time_zone: UTC\n  list:\n    - defaults\n    - name: late\n      on: inbound.ringin\n      do: pop\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(cfg, Options{})
	if want := `ringside.yaml:6: rules.list[1] (late).on: unknown event "inbound.ringin"`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%v\nwant %s", err, want)
	}
}
