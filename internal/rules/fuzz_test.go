package rules

import (
	"testing"

	"github.com/ringside/ringside/internal/config"
)

// FuzzNew feeds arbitrary rules sections to the parser: it must answer with rules or an
// error, never panic, and rules it accepts must evaluate.
func FuzzNew(f *testing.F) {
	for _, s := range []string{
		"rules:\n  - on: inbound.ringing\n    do: pop\n",
		"rules:\n  time_zone: UTC\n  groups: {a: [x]}\n  list:\n    - {on: [\"inbound.*\"], when: {groups: [a], days: sat-mon, hours: \"22:00-06:00\"}, do: [notify, stop]}\n    - defaults\n",
		"rules:\n  - on: call.transferred\n    when: {did: [\"+49*\"], number: \"[\"}\n    do: [{open_record: {url: \"{{.Match.URL}}\"}}]\n",
		"rules:\n  - on: inbound.missed\n    do: [{webhook: {url: \"http://127.0.0.1/\", secret_env: HOOK, timeout: 1s}}, {log_activity: {subject: \"{{.Name\"}}]\n",
		"rules: &a [*a]\n",
		"rules:\n  - {on: [], do: []}\n  - ~\n  - defaults\n  - [1]\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := config.Parse("f.yaml", []byte(s))
		if err != nil {
			return
		}
		e, err := New(cfg, env(map[string]string{"HOOK": "x"}))
		if err != nil {
			return
		}
		for _, ev := range Events {
			in := ringing("200")
			in.Event = ev
			res := e.Evaluate(in)
			res.UI(in)
			res.Webhooks(in)
		}
	})
}
