package sipwatch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

const kamailioEarly = `<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="2" state="full" entity="sip:200@127.0.0.1">
  <dialog id="padi-6b0717e4-75c4-1" call-id="1-30284@127.0.0.1" local-tag="30229SIPpTag011" remote-tag="30284SIPpTag001" direction="recipient">
    <state>early</state>
    <remote>
      <identity>sip:+49309876543@127.0.0.1</identity>
      <target uri="sip:+49309876543@127.0.0.1:5061"/>
    </remote>
    <local>
      <identity>sip:200@127.0.0.1</identity>
      <target uri="sip:200@127.0.0.1:5062;transport=UDP"/>
    </local>
  </dialog>
</dialog-info>`

func TestParseDialogInfo(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want dialogInfo
		err  bool
	}{
		{name: "kamailio early (sip-peers.md)", in: kamailioEarly, want: dialogInfo{Version: 2, Full: true, Entity: "sip:200@127.0.0.1",
			Dialogs: []dialog{{ID: "padi-6b0717e4-75c4-1", CallID: "1-30284@127.0.0.1", Direction: "recipient", State: "early",
				Remote: participant{Identity: "sip:+49309876543@127.0.0.1", Target: "sip:+49309876543@127.0.0.1:5061"},
				Local:  participant{Identity: "sip:200@127.0.0.1", Target: "sip:200@127.0.0.1:5062;transport=UDP"}}}}},
		{name: "no dialogs, partial", in: `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="partial" entity="sip:1@x"/>`,
			want: dialogInfo{Version: 0, Entity: "sip:1@x"}},
		{name: "prefixed namespace, terminated with reason", in: `<d:dialog-info xmlns:d="urn:ietf:params:xml:ns:dialog-info" version="7" state="full" entity="sip:1@x">
			<d:dialog id="a" direction="Initiator"><d:state event="rejected" code="486">Terminated</d:state></d:dialog></d:dialog-info>`,
			want: dialogInfo{Version: 7, Full: true, Entity: "sip:1@x", Dialogs: []dialog{{ID: "a", Direction: "initiator", State: "terminated", Event: "rejected", Code: 486}}}},
		{name: "unknown elements ignored", in: `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full" entity="e">
			<dialog id="a"><state>confirmed</state><duration>12</duration><x:y xmlns:x="urn:other">z</x:y></dialog></dialog-info>`,
			want: dialogInfo{Version: 1, Full: true, Entity: "e", Dialogs: []dialog{{ID: "a", State: "confirmed"}}}},
		{name: "wrong namespace", in: `<dialog-info xmlns="urn:example" version="1" state="full"/>`, err: true},
		{name: "no namespace", in: `<dialog-info version="1" state="full"/>`, err: true},
		{name: "no version", in: `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" state="full"/>`, err: true},
		{name: "negative version", in: `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="-1" state="full"/>`, err: true},
		{name: "bad state attr", in: `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="some"/>`, err: true},
		{name: "bad dialog state", in: `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full"><dialog id="a"><state>ringing</state></dialog></dialog-info>`, err: true},
		{name: "dialog without id", in: `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full"><dialog><state>early</state></dialog></dialog-info>`, err: true},
		{name: "billion laughs", in: `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full" entity="&lol2;"/>`, err: true},
		{name: "undeclared entity", in: `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full" entity="&x;"/>`, err: true},
		{name: "external entity", in: `<!DOCTYPE d SYSTEM "file:///etc/passwd"><dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full"/>`, err: true},
		{name: "latin-1 declared", in: `<?xml version="1.0" encoding="ISO-8859-1"?><dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full"/>`, err: true},
		{name: "invalid UTF-8", in: "<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"1\" state=\"full\" entity=\"\xc3\x28\"/>", err: true},
		{name: "truncated", in: kamailioEarly[:200], err: true},
		{name: "empty", in: "", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseDialogInfo([]byte(tc.in))
			if tc.err {
				if err == nil || !errors.Is(err, errMalformed) {
					t.Fatalf("err = %v, want errMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestParseHugeDocument(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full" entity="e">`)
	for range maxDialogs + 1 {
		b.WriteString(`<dialog id="a"><state>early</state></dialog>`)
	}
	b.WriteString(`</dialog-info>`)
	if _, err := parseDialogInfo([]byte(b.String())); err == nil {
		t.Error("more than maxDialogs dialogs accepted")
	}
	long := strings.Repeat("é", 5000)
	d, err := parseDialogInfo([]byte(`<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full" entity="e"><dialog id="a"><state>early</state><remote><identity display="` + long + `">sip:1@x</identity></remote></dialog></dialog-info>`))
	if err != nil {
		t.Fatal(err)
	}
	if n := d.Dialogs[0].Remote.IdentityDisplay; len(n) > maxFieldSize || !utf8.ValidString(n) {
		t.Errorf("display name of %d bytes kept (valid UTF-8: %v)", len(n), utf8.ValidString(n))
	}
}

func TestURIUser(t *testing.T) {
	for in, want := range map[string]string{
		"sip:+49309876543@127.0.0.1:15160":    "+49309876543",
		"sips:200@pbx;transport=tls":          "200",
		"<sip:0301234567@pbx;user=phone>":     "0301234567",
		"tel:+1-202-555-0143;phone-context=x": "+1-202-555-0143",
		"sip:anonymous@anonymous.invalid":     "anonymous",
		"sip:pbx.example.org":                 "",
		"sip:alice;x=y:pw@pbx":                "alice",
		"sip:%2B4930%20123@pbx":               "+4930 123",
		"SIP:200@pbx":                         "200",
		"mailto:x@y":                          "",
		"":                                    "",
	} {
		if got := uriUser(in); got != want {
			t.Errorf("uriUser(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseDialogInfo: the parser never panics, and whatever it accepts is bounded and
// valid UTF-8, and goes through the leg book without panicking.
func FuzzParseDialogInfo(f *testing.F) {
	f.Add([]byte(kamailioEarly))
	f.Add([]byte(`<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="partial"/>`))
	f.Add([]byte(`<?xml version="1.0"?><!DOCTYPE l [<!ENTITY l "l">]><dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full" entity="&l;"/>`))
	f.Add([]byte("<dialog-info xmlns=\"urn:other\" version=\"1\" state=\"full\"/>"))
	f.Add([]byte("<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"1\" state=\"full\"><dialog id=\"\xff\"><state>early</state></dialog></dialog-info>"))
	if caps, _ := filepath.Glob("testdata/*/notify.sip"); len(caps) > 0 {
		for _, c := range caps {
			data, _ := os.ReadFile(c)
			for _, m := range splitSIP(f, data) {
				if len(m.body) > 0 {
					f.Add(m.body)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := parseDialogInfo(body)
		if err != nil {
			return
		}
		if len(d.Dialogs) > maxDialogs {
			t.Fatalf("%d dialogs", len(d.Dialogs))
		}
		for _, dl := range d.Dialogs {
			for _, s := range []string{dl.ID, dl.CallID, dl.Remote.Identity, dl.Remote.IdentityDisplay, dl.Remote.Target, dl.Remote.TargetDisplay} {
				if len(s) > maxFieldSize || !utf8.ValidString(s) {
					t.Fatalf("field of %d bytes, valid UTF-8 %v", len(s), utf8.ValidString(s))
				}
			}
		}
		b := newLegBook("f", []string{"200"}, endGrace)
		sigs, _ := b.apply("200", &d, replayBase)
		for _, s := range sigs {
			if !utf8.ValidString(s.Remote.Name) || !utf8.ValidString(s.Remote.Number) || !utf8.ValidString(s.CallID) {
				t.Fatalf("signal with invalid UTF-8: %+v", s)
			}
		}
	})
}

// decodeUnmarshal is the reference decodeTokens is held to: xml.Unmarshal into the
// same structs.
func decodeUnmarshal(body []byte) (xDialogInfo, error) {
	var x xDialogInfo
	err := newDecoder(body).Decode(&x)
	return x, err
}

func TestDecodeTokensMatchesUnmarshal(t *testing.T) {
	caps, _ := filepath.Glob("testdata/*/notify.sip")
	var bodies [][]byte
	for _, c := range caps {
		data, err := os.ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range splitSIP(t, data) {
			bodies = append(bodies, m.body)
		}
	}
	bodies = append(bodies, []byte(kamailioEarly),
		[]byte(`<d:dialog-info xmlns:d="urn:ietf:params:xml:ns:dialog-info" version="7" state="full"><d:dialog id="a"><d:state event="x">early<b>y</b>z</d:state><d:state code="486">confirmed</d:state><d:remote><d:identity display="A">sip:1@x</d:identity><d:identity>sip:2@x</d:identity><d:target uri="u"/></d:remote><other xmlns="urn:o"><dialog id="no"/></other></d:dialog></d:dialog-info>`))
	for i, b := range bodies {
		diffDecoders(t, fmt.Sprint(i), b)
	}
}

func diffDecoders(t *testing.T, name string, body []byte) {
	t.Helper()
	want, werr := decodeUnmarshal(body)
	got, gerr := decodeTokens(newDecoder(body))
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%s: Unmarshal err %v, decodeTokens err %v\n%q", name, werr, gerr, body)
	}
	if werr == nil {
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("%s: (-Unmarshal +decodeTokens):\n%s\n%q", name, d, body)
		}
	}
}

// FuzzDecodeTokens: the fast decoder accepts what xml.Unmarshal accepts, and decodes it the same.
func FuzzDecodeTokens(f *testing.F) {
	f.Add([]byte(kamailioEarly))
	f.Add([]byte(`<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full"><dialog id="a" xmlns:q="urn:q" q:id="b"><state>early</state><local><identity display="x">y</identity></local></dialog></dialog-info>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		diffDecoders(t, "fuzz", body)
	})
}
