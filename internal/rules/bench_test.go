package rules

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ringside/ringside/internal/config"
	"github.com/ringside/ringside/internal/crm"
)

// BenchmarkEvaluate measures one event against the defaults and against 50 configured
// rules (conditions on users, numbers, DIDs and office hours) plus the defaults, with the
// UI actions rendered, as the pipeline does for every pop.
func BenchmarkEvaluate(b *testing.B) {
	var y strings.Builder
	y.WriteString("rules:\n  time_zone: Europe/Berlin\n  groups: {sales: [alice, bob]}\n  list:\n")
	for i := range 50 {
		fmt.Fprintf(&y, "    - {on: [\"inbound.*\"], when: {groups: [sales], did: [\"+49 30 %d*\"], days: mon-fri, hours: \"08:00-18:00\"}, do: [{notify: {title: \"{{.Name}} %d\"}}]}\n", 1000+i, i)
	}
	y.WriteString("    - defaults\n")
	cfg, err := config.Parse("bench.yaml", []byte(y.String()))
	if err != nil {
		b.Fatal(err)
	}
	many, err := New(cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defaults, _ := New(config.Default(), Options{})
	for _, c := range []struct {
		name string
		e    *Engine
	}{{"defaults", defaults}, {"50rules", many}} {
		b.Run(c.name, func(b *testing.B) {
			in := with(ringing("200"), func(in *Input) { in.Matches = []crm.Match{jane}; in.Call.DID = "+49 30 1049 0" })
			b.ReportAllocs()
			for b.Loop() {
				res := c.e.Evaluate(in)
				if _, err := res.UI(in); err != nil || !res.Pop() {
					b.Fatal(err)
				}
			}
		})
	}
}
