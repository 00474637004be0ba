package ami

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/testenv"
)

func decodeAll(t testing.TB, in string, maxLine, maxFrame int) ([]map[string]string, error) {
	t.Helper()
	d := NewDecoder(strings.NewReader(in), maxLine, maxFrame)
	var out []map[string]string
	for {
		m, err := d.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return out, err
		}
		h := map[string]string{}
		for i := 0; i < m.Len(); i++ {
			k, _ := m.Header(i)
			if _, ok := h[string(k)]; !ok {
				h[string(k)] = m.Get(string(k))
			}
		}
		out = append(out, h)
	}
}

func TestDecoder(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []map[string]string
		err      error
	}{
		{"banner and response", "Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: 1\r\n\r\n",
			[]map[string]string{{"Response": "Success", "ActionID": "1"}}, nil},
		{"empty values", "Event: X\r\nAccountCode: \r\nExten:\r\n\r\n",
			[]map[string]string{{"Event": "X", "AccountCode": "", "Exten": ""}}, nil},
		{"bare LF stays in the value", "Event: X\r\nCallerIDName: a\nEvent: Hangup\r\n\r\n",
			[]map[string]string{{"Event": "X", "CallerIDName": "a\nEvent: Hangup"}}, nil},
		{"half frame", "Event: X\r\nChannel: PJSIP/2", nil, io.ErrUnexpectedEOF},
		{"unterminated last frame", "Event: X\r\nChannel: a\r\n", nil, io.ErrUnexpectedEOF},
		{"garbage lines ignored", "\x00\x01junk\r\nEvent: X\r\nno colon here\r\n\r\n",
			[]map[string]string{{"Event": "X"}}, nil},
		{"line too long", "Event: X\r\nA: " + strings.Repeat("a", 300) + "\r\n\r\n", nil, ErrLineTooLong},
		{"frame too long", "Event: X\r\n" + strings.Repeat("A: "+strings.Repeat("a", 100)+"\r\n", 20) + "\r\n", nil, ErrFrameTooLong},
		{"number smuggles headers", "Event: Newchannel\r\nChannel: PJSIP/carrier-1\r\nCallerIDNum: 123\r\nUniqueid: fake\r\n\r\nEvent: Hangup\r\nUniqueid: 1.0\r\nCallerIDName: Bob\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nUniqueid: 1.0\r\nLinkedid: 1.0\r\n\r\n",
			[]map[string]string{{"Event": "Newchannel", "Channel": "PJSIP/carrier-1", "CallerIDNum": "123\r\nUniqueid: fake\r\n\r\nEvent: Hangup\r\nUniqueid: 1.0",
				"CallerIDName": "Bob", "ConnectedLineNum": "<unknown>", "ConnectedLineName": "<unknown>", "Language": "en", "Uniqueid": "1.0", "Linkedid": "1.0"}}, nil},
		{"smuggled successor: the last Uniqueid wins, the first Channel wins", "Event: Newchannel\r\nChannel: PJSIP/carrier-1\r\nCallerIDNum: 1\r\nCallerIDName: x\r\nChannel: PJSIP/200-1\r\nUniqueid: fake\r\nCallerIDName: Bob\r\nConnectedLineNum: 2\r\nConnectedLineName: y\r\nLanguage: en\r\nUniqueid: 1.0\r\n\r\n",
			[]map[string]string{{"Event": "Newchannel", "Channel": "PJSIP/carrier-1", "CallerIDNum": "1", "CallerIDName": "Bob", "ConnectedLineNum": "2", "ConnectedLineName": "y", "Language": "en", "Uniqueid": "1.0"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeAll(t, tc.in, 256, 1024)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if tc.err != nil {
				return
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d messages %v, want %v", len(got), got, tc.want)
			}
			for i := range got {
				for k, v := range tc.want[i] {
					if got[i][k] != v {
						t.Errorf("message %d %s = %q, want %q", i, k, got[i][k], v)
					}
				}
			}
		})
	}
}

// TestDecoderCaptures: every capture decodes to as many events as its README counts.
func TestDecoderCaptures(t *testing.T) {
	want := map[string]int{"inbound_answered.ami": 89, "inbound_missed.ami": 39, "inbound_missed_timeout.ami": 39,
		"ringgroup_answered_by_201.ami": 116, "queue_answered.ami": 161, "coreshowchannels.ami": 166,
		"outbound_answered.ami": 88, "click_to_dial_originate.ami": 98, "click_to_dial_busy.ami": 12,
		"blind_transfer.ami": 171, "busy.ami": 30, "unreachable.ami": 21, "inbound_anonymous.ami": 88,
		"ping.ami": 0, "login_failed.ami": 0}
	for name, n := range want {
		d := NewDecoder(bytes.NewReader(fixture(t, name)), 64<<10, 256<<10)
		got := 0
		for {
			m, err := d.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if m.Event() != nil {
				got++
			}
		}
		if got != n {
			t.Errorf("%s: %d events, want %d", name, got, n)
		}
		if d.Banner() != "Asterisk Call Manager/11.0.0" {
			t.Errorf("%s: banner %q", name, d.Banner())
		}
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`ACME \"Reception\"`, `ACME "Reception"`},
		{`O\'Brien\tLtd`, "O'Brien Ltd"},
		{`back\\slash\\n`, `back\slash\n`},
		{`<unknown>`, ``},
		{"M\xfcller", "Müller"},
		{"Müller", "Müller"},
		{"a\x00b\x1bc", "a b c"},
	} {
		if got := name([]byte(tc.in)); got != tc.want {
			t.Errorf("name(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	long := name(bytes.Repeat([]byte("é"), 10000))
	if len(long) > maxNameBytes || !utf8.ValidString(long) {
		t.Errorf("long name: %d bytes", len(long))
	}
}

// TestHostileCallerID: a caller ID number that smuggles in a whole Hangup message does
// not end the call or change its id; the text stays in the number, made harmless.
func TestHostileCallerID(t *testing.T) {
	b := fixture(t, "inbound_answered.ami")
	evil := "+49309876543\r\n\r\nEvent: Hangup\r\nChannel: PJSIP/carrier-00000000\r\nUniqueid: 1795628297.0\r\nLinkedid: 1795628297.0\r\nCause: 16"
	b = bytes.Replace(b, []byte("CallerIDNum: +49309876543\r\n"), []byte("CallerIDNum: "+evil+"\r\n"), 1)
	b = bytes.Replace(b, []byte("CallerIDName: ACME Reception\r\n"), []byte(`CallerIDName: \"ACME\"\r\nEvent: Hangup`+"\r\n"), 1)
	sigs := replay(t, testSettings(t, nil), b)
	want := replay(t, testSettings(t, nil), fixture(t, "inbound_answered.ami"))
	if len(sigs) != len(want) {
		t.Fatalf("%d signals, want %d: %+v", len(sigs), len(want), sigs)
	}
	for i := range sigs {
		if sigs[i].Kind != want[i].Kind || sigs[i].CallID != want[i].CallID || sigs[i].Extension != want[i].Extension {
			t.Errorf("signal %d = %+v, want %+v", i, sigs[i], want[i])
		}
	}
	r := sigs[0].Remote
	if strings.ContainsAny(r.Number+r.Name, "\r\n") || r.Name != `"ACME"  Event: Hangup` {
		t.Errorf("remote = %+v", r)
	}
}

func FuzzDecoder(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(testenv.Capture(f, "asterisk-ami"), "*.ami"))
	for _, p := range files {
		if b, err := readFile(p); err == nil && len(b) < 20000 {
			f.Add(b)
		}
	}
	f.Add([]byte("Event: X\r\nCallerIDNum: 1\r\n\r\nEvent: Hangup\r\n\r\n"))
	s := testSettings(f, nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(bytes.NewReader(data), 256, 4096)
		c := newCorrelator(s, "ami", func(sig call.Signal) {
			if !utf8.ValidString(sig.Remote.Name) || !utf8.ValidString(sig.Remote.Number) {
				t.Fatalf("invalid UTF-8 in %+v", sig)
			}
		})
		for i := 0; i < 10000; i++ {
			m, err := d.Next()
			if err != nil {
				return
			}
			if len(m.raw) > 4096 {
				t.Fatalf("frame of %d bytes over the limit", len(m.raw))
			}
			c.handle(m)
		}
	})
}
