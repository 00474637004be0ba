package rules

import (
	"sync"
	"testing"
)

// TestReplace: after Replace the engine evaluates with the new rules (SIGHUP reload), and
// evaluations running meanwhile are safe (-race).
func TestReplace(t *testing.T) {
	e := mustEngine(t, `
rules:
  - name: old
    on: inbound.ringing
    do: [pop, stop]
`)
	n := mustEngine(t, `
rules:
  groups: {sales: [alice]}
  list:
    - name: new for sales
      on: inbound.ringing
      when: {groups: [sales]}
      do: [{notify: {title: "Sales call", text: "{{.Name}}"}}, stop]
`)
	if r := e.Evaluate(ringing("200")); len(r.Fired) != 1 || r.Fired[0].Name != "old" || e.PerUser() {
		t.Fatalf("before: %+v", r.Fired)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				e.Evaluate(ringing("200"))
				e.Rules()
				e.PerUser()
			}
		})
	}
	e.Replace(n)
	wg.Wait()
	r := e.Evaluate(ringing("200"))
	if len(r.Fired) != 1 || r.Fired[0].Name != "new for sales" {
		t.Fatalf("after Replace: %+v", r.Fired)
	}
	if !e.PerUser() || len(e.Rules()) != 1 || e.Rules()[0].Name != "new for sales" {
		t.Errorf("after Replace: per user %v, rules %+v", e.PerUser(), e.Rules())
	}
}
