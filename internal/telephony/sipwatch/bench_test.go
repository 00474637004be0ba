package sipwatch

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// BenchmarkParseCorrelateLarge: a Kamailio-style full state with one live dialog and 49
// ended ones still listed (they linger until their publication expires), about 17 KB.
func BenchmarkParseCorrelateLarge(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`<?xml version="1.0"?>` + "\n" + `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="%d" state="full" entity="sip:200@127.0.0.1">` + "\n")
	for i := range 50 {
		state := "terminated"
		if i == 0 {
			state = "early"
		}
		fmt.Fprintf(&sb, `  <dialog id="padi-6b0ecce0-7e4d-%d" call-id="%d-32630@127.0.0.1" direction="recipient">
    <state>%s</state>
    <remote>
      <identity>sip:+49309876543@127.0.0.1:59859</identity>
      <target display="+49309876543" uri="sip:+49309876543@127.0.0.1:37196;transport=UDP"/>
    </remote>
    <local>
      <identity>sip:200@127.0.0.1:59859</identity>
      <target display="200" uri="sip:200@127.0.0.1:59859"/>
    </local>
  </dialog>
`, i, i, state)
	}
	sb.WriteString("</dialog-info>\n")
	tmpl := sb.String()
	book := newLegBook("bench", []string{"200"}, endGrace)
	b.ReportAllocs()
	n := 0
	var size int
	for b.Loop() {
		body := []byte(strings.Replace(tmpl, "%d", strconv.Itoa(n+1), 1))
		size = len(body)
		d, err := parseDialogInfo(body)
		if err != nil {
			b.Fatal(err)
		}
		book.apply("200", &d, replayBase)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "docs/s")
	b.ReportMetric(float64(size), "bytes/doc")
}
