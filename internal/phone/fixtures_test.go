package phone

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ringside/ringside/internal/testenv"
)

// numberField finds the number-carrying headers of the real Asterisk (AMI) and FreeSWITCH
// (ESL plain and JSON) captures.
var numberField = regexp.MustCompile(`(?m)^(?:CallerIDNum|ConnectedLineNum|Exten|DestCallerIDNum|DestConnectedLineNum|DestExten|Caller-Caller-ID-Number|Caller-Orig-Caller-ID-Number|Other-Leg-Caller-ID-Number|Caller-Destination-Number|Caller-Callee-ID-Number|variable_sip_from_user): ([^\r\n]*)|"(?:Caller-Caller-ID-Number|Caller-Orig-Caller-ID-Number|Other-Leg-Caller-ID-Number|Caller-Destination-Number|Caller-Callee-ID-Number|variable_sip_from_user)":"([^"]*)"`)

// TestFixtureNumbers parses every number the real captures carry: the carrier's caller,
// the outbound destination and the DIDs become E.164, withheld forms are withheld, and
// internal extensions and dialplan names are no numbers.
func TestFixtureNumbers(t *testing.T) {
	p := newTestParser(t)
	external := map[string]string{
		"+49309876543":   "+49309876543",
		"%2B49309876543": "+49309876543",
		"0049301112233":  "+49301112233",
		"4930123456":     "+4930123456",
		"4930123600":     "+4930123600",
		"4930123700":     "+4930123700",
		"4930123203":     "+4930123203",
		"4930123204":     "+4930123204",
	}
	seen := map[string]bool{}
	for _, dir := range []string{"asterisk-ami", "freeswitch-esl"} {
		files, err := filepath.Glob(filepath.Join(testenv.Capture(t, dir), "*.*"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range numberField.FindAllStringSubmatch(string(b), -1) {
				seen[m[1]+m[2]] = true
			}
		}
	}
	if len(seen) < 10 {
		t.Fatalf("only %d distinct numbers in the captures", len(seen))
	}
	for raw := range seen {
		n := p.Parse(raw)
		switch want, ok := external[raw]; {
		case ok:
			if n.E164 != want {
				t.Errorf("Parse(%q).E164 = %q, want %q", raw, n.E164, want)
			}
		case raw == "" || raw == "anonymous" || raw == "<unknown>":
			if !n.Withheld {
				t.Errorf("Parse(%q) = %+v, want withheld", raw, n)
			}
		case strings.Trim(raw, "0123456789") == "" && len(raw) <= 4, raw == "s":
			if n.Lookupable() || n.Withheld {
				t.Errorf("Parse(%q) = %+v, want an internal extension (no number)", raw, n)
			}
		default:
			t.Errorf("capture value %q not classified by this test", raw)
		}
	}
}
