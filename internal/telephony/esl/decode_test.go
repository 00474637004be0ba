package esl

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/testenv"
)

var wantedKeys = func() map[string]int {
	m := map[string]int{}
	for _, k := range []string{"Event-Name", "Event-Date-Timestamp", "Unique-ID", "Other-Leg-Unique-ID", "Channel-Call-UUID",
		"variable_call_uuid", "Call-Direction", "Channel-Name", "Caller-Caller-ID-Number", "Caller-Caller-ID-Name",
		"Caller-Destination-Number", "Hangup-Cause", "variable_originate_disposition", "variable_DIALSTATUS",
		"Bridge-A-Unique-ID", "Bridge-B-Unique-ID", "variable_ringside_dial_id", "Job-UUID", "variable_dialed_user",
		"variable_sip_gateway_name", "variable_other_loopback_leg_uuid", "_body"} {
		m[k] = fieldOf([]byte(k))
	}
	return m
}()

// refPlain is the obvious decoder: every header into a map (last wins), path-unescaped.
func refPlain(body []byte) (map[string]string, bool) {
	m := map[string]string{}
	hdr, rest, _ := bytes.Cut(body, []byte("\n\n"))
	for _, line := range strings.Split(string(hdr), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k == "" {
			return nil, false
		}
		v = strings.TrimPrefix(v, " ")
		if u, err := url.PathUnescape(v); err == nil {
			v = u
		} else if strings.Contains(v, "%") {
			return nil, false // malformed escapes: ours keeps them literally, skip the comparison
		}
		m[k] = v
	}
	if bytes.Contains(body, []byte("\n\n")) {
		m["_body"] = string(rest)
	}
	return m, true
}

// refJSON is the obvious decoder: encoding/json into map[string]any.
func refJSON(body []byte) (map[string]string, bool) {
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, false
	}
	m := map[string]string{}
	for k, v := range raw {
		if s, ok := v.(string); ok {
			m[k] = s
		}
	}
	return m, true
}

func compareDecoded(t *testing.T, what string, ref map[string]string, ev *event) {
	t.Helper()
	for k, fi := range wantedKeys {
		if got, want := string(ev.get(fi)), ref[k]; got != want {
			t.Errorf("%s: %s = %q, want %q", what, k, got, want)
		}
	}
}

// TestDecodeFixtures decodes every event of every capture and compares the wanted fields
// with a full decode by the standard library.
func TestDecodeFixtures(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testenv.Capture(t, "freeswitch-esl"), "*.esl"))
	n := 0
	var ev event
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range splitFrames(t, data) {
			body := f.raw[bytes.Index(f.raw, []byte("\n\n"))+2:]
			var ref map[string]string
			var ok bool
			switch f.contentType {
			case ctEventPlain:
				err = decodePlain(body, &ev)
				ref, ok = refPlain(body)
			case ctEventJSON:
				err = decodeJSON(body, &ev)
				ref, ok = refJSON(body)
			default:
				continue
			}
			if err != nil || !ok {
				t.Fatalf("%s: decode error %v (reference ok=%v)", filepath.Base(file), err, ok)
			}
			n++
			compareDecoded(t, filepath.Base(file), ref, &ev)
		}
	}
	if n < 800 {
		t.Errorf("only %d events decoded", n)
	}
}

func TestDecodeHostile(t *testing.T) {
	long := strings.Repeat("%C3%A9", 3000)
	plain := "Event-Name: COMMAND\nCaller-Caller-ID-Name: %3Cimg%20src%3Dx%3E%0A%0D%00%FF%FE\nCaller-Caller-ID-Number: +49%2030%zz%4\n" +
		"Unique-ID: a\nEvent-Name: CHANNEL_CREATE\nChannel-Name: " + long + "\nNoSpace:x\n\n"
	var ev event
	if err := decodePlain([]byte(plain), &ev); err != nil {
		t.Fatal(err)
	}
	for fi, want := range map[int]string{
		fEventName:    "CHANNEL_CREATE", // the last Event-Name wins (PRIVATE_COMMAND embeds COMMAND)
		fCallerName:   "<img src=x>\n\r\x00\xff\xfe",
		fCallerNumber: "+49 30%zz%4", // "+" is not a space; broken escapes stay literal
		fChannelName:  strings.Repeat("é", 3000),
	} {
		if got := ev.str(fi); got != want {
			t.Errorf("plain field %d = %q, want %q", fi, got, want)
		}
	}
	js := `{"Event-Name":"COMMAND","x":[1,{"a":["}"]},null,true,-1.5e3],"Caller-Caller-ID-Name":"\u003cb\u003e \ud83d\ude00 \ud800 \"q\" \\ \/",` +
		`"Unique-ID":["not","a","string"],"Hangup-Cause":"A","Hangup-Cause":"B","Event-Name":"CHANNEL_ANSWER","y":{"Event-Name":"NESTED"}}`
	if err := decodeJSON([]byte(js), &ev); err != nil {
		t.Fatal(err)
	}
	for fi, want := range map[int]string{
		fEventName:   "CHANNEL_ANSWER",
		fCallerName:  "<b> 😀 \uFFFD \"q\" \\ /",
		fUniqueID:    "",
		fHangupCause: "B",
	} {
		if got := ev.str(fi); got != want {
			t.Errorf("json field %d = %q, want %q", fi, got, want)
		}
	}
	for _, bad := range []string{``, `[]`, `{`, `{"Event-Name"`, `{"Event-Name":"X"`, `{"a":1}`, `{"Event-Name":"X",}`, `{"Event-Name":"\x"}`,
		`{"Event-Name":"X","a":[[[[` + strings.Repeat("[", 100) + `]]]]}`, `{"Event-Name":"\u12"}`} {
		if err := decodeJSON([]byte(bad), &ev); err == nil {
			t.Errorf("decodeJSON(%q) accepted", bad)
		}
	}
}

// TestHostileCaller: a caller's name full of control characters, quotes and invalid UTF-8
// reaches the signal as valid UTF-8 and cannot break framing.
func TestHostileCaller(t *testing.T) {
	name := "%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E%0AContent-Length%3A%200%0A%0A%FF" + strings.Repeat("A", 8000)
	body := "Event-Name: CHANNEL_CREATE\nEvent-Date-Timestamp: 1795630120669737\nUnique-ID: u1\nChannel-Name: sofia/external/x\n" +
		"Caller-Caller-ID-Name: " + name + "\nCaller-Caller-ID-Number: %2B49309876543\nCaller-Destination-Number: 4930123456\n\n"
	stream := "Content-Length: " + itoa(len(body)) + "\nContent-Type: text/event-plain\n\n" + body
	sigs := replay(t, []byte(stream))
	if len(sigs) != 1 {
		t.Fatalf("signals %+v", sigs)
	}
	got := sigs[0].Remote.Name
	if !utf8.ValidString(got) || !strings.HasPrefix(got, "\"><script>alert(1)</script>\nContent-Length: 0\n\n\uFFFD") || len(got) > 1024 {
		t.Errorf("name %q", got)
	}
	if sigs[0].Remote.Number != "+49309876543" {
		t.Errorf("number %q", sigs[0].Remote.Number)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// fuzzSeeds adds a few real frames and broken ones.
func fuzzSeeds(f *testing.F, bodies bool) {
	for _, name := range []string{"click_to_dial_busy.json.esl", "click_to_dial.control.esl", "auth_failed.esl"} {
		data, err := os.ReadFile(testenv.Capture(f, "freeswitch-esl", name))
		if err != nil {
			f.Fatal(err)
		}
		if !bodies {
			// Short inputs: the fuzzer minimises every interesting input, and that takes
			// minutes for whole captures.
			f.Add(data[:min(len(data), 1500)])
			continue
		}
		for _, fr := range splitFrames(f, data) {
			if strings.HasPrefix(fr.contentType, "text/event-") {
				f.Add(fr.raw[bytes.Index(fr.raw, []byte("\n\n"))+2:])
			}
		}
	}
	f.Add([]byte("Content-Length: 3\nContent-Type: text/event-plain\n\nabc"))
	f.Add([]byte(`{"Event-Name":"CHANNEL_CREATE","Unique-ID":"\u0041","a":[["]"]]}`))
}

// FuzzFrames feeds arbitrary bytes through the whole pipeline: frames, both decoders and
// the correlator. It must never panic or hang, and every signal must be well formed.
func FuzzFrames(f *testing.F) {
	fuzzSeeds(f, false)
	re := regexp.MustCompile(defaultExtensionPattern)
	f.Fuzz(func(t *testing.T, data []byte) {
		co := newCorrelator("esl", re, []string{"external"}, func(s call.Signal) {
			if (s.CallID == "") != (s.Kind == call.SigResynced) || !utf8.ValidString(s.Remote.Name) || !utf8.ValidString(s.Remote.Number) {
				t.Fatalf("bad signal %+v", s)
			}
		})
		fr := newFrameReader(bytes.NewReader(data), 64<<10)
		var fm frame
		var ev event
		for i := 0; i < 10000; i++ {
			if err := fr.readFrame(&fm); err != nil {
				break
			}
			if len(fm.body) > 64<<10 {
				t.Fatalf("body of %d bytes passed the limit", len(fm.body))
			}
			for _, dec := range []func([]byte, *event) error{decodePlain, decodeJSON} {
				if dec(fm.body, &ev) == nil {
					co.handle(&ev)
				}
			}
		}
		co.flushHeldBefore(time.Time{})
		_ = co.resyncFrom(data, data)
	})
}

// FuzzDecodeJSON: wherever encoding/json accepts an object, the field extractor agrees with
// it on every wanted string field.
func FuzzDecodeJSON(f *testing.F) {
	fuzzSeeds(f, true)
	f.Fuzz(func(t *testing.T, body []byte) {
		var ev event
		err := decodeJSON(body, &ev)
		ref, ok := refJSON(body)
		if !ok || !utf8.Valid(body) || ref["Event-Name"] == "" {
			return
		}
		if err != nil {
			t.Fatalf("rejected valid JSON: %v", err)
		}
		compareDecoded(t, "json", ref, &ev)
	})
}

// FuzzDecodePlain: the line scanner agrees with a full header map on every wanted field.
func FuzzDecodePlain(f *testing.F) {
	fuzzSeeds(f, true)
	f.Fuzz(func(t *testing.T, body []byte) {
		var ev event
		err := decodePlain(body, &ev)
		ref, ok := refPlain(body)
		if !ok || ref["Event-Name"] == "" || bytes.Contains(body, []byte("\r")) {
			return
		}
		if err != nil {
			t.Fatalf("rejected: %v", err)
		}
		compareDecoded(t, "plain", ref, &ev)
	})
}
