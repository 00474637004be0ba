package sipwatch

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// benchBodies returns the dialog-info bodies of every captured case, in order, with the
// extension each was for.
func benchBodies(b *testing.B) (exts []string, bodies [][]byte) {
	caps, _ := filepath.Glob("testdata/*/notify.sip")
	for _, c := range caps {
		data, err := os.ReadFile(c)
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range splitSIP(b, data) {
			if len(m.body) > 0 {
				exts = append(exts, uriUser(m.headers["from"]))
				bodies = append(bodies, m.body)
			}
		}
	}
	return exts, bodies
}

// BenchmarkParse: dialog-info documents parsed per second.
func BenchmarkParse(b *testing.B) {
	_, bodies := benchBodies(b)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, err := parseDialogInfo(bodies[n%len(bodies)]); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkParseCorrelate: documents parsed and run through the leg book into signals.
// Each pass over the captures is a new subscription per extension with call ids made
// unique, so that every pass produces the same calls anew.
func BenchmarkParseCorrelate(b *testing.B) {
	exts, bodies := benchBodies(b)
	book := newLegBook("bench", []string{"200", "201"}, endGrace)
	now := replayBase
	b.ReportAllocs()
	n, sigs := 0, 0
	for b.Loop() {
		i := n % len(bodies)
		d, err := parseDialogInfo(bodies[i])
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			// A new pass: the captures' versions start again, as after a resubscription.
			book.subscribed("200")
			book.subscribed("201")
			now = now.Add(time.Minute)
			for range book.due(now) {
				sigs++
			}
		}
		s, _ := book.apply(exts[i], &d, now)
		sigs += len(s)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "docs/s")
	b.ReportMetric(float64(sigs)/float64(n), "signals/doc")
}
