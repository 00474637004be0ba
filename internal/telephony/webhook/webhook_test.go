package webhook

import (
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony/telephonytest"
)

func resolver(s string) (string, string, bool) {
	switch s {
	case "alice", "200":
		return "200", "alice", true
	case "bob", "201":
		return "201", "bob", true
	}
	return "", "", false
}

func TestReadmeHasSample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), Sample()) {
		t.Fatal("README.md does not contain sample.yaml verbatim")
	}
}

func TestDecodeJSON(t *testing.T) {
	s, _ := New("webhook", Config{}, resolver, nil)
	tests := []struct {
		name, body string
		want       call.Signal
		err        string
	}{
		{"ringing", `{"event":"ringing","call_id":"c-1","direction":"inbound","from":"+49 30 9876543","from_name":"ACME Reception","to":"+49 30 1111","extension":"200","time":"2026-11-25T10:00:00Z"}`,
			call.Signal{Source: "webhook", CallID: "c-1", Kind: call.SigRinging, Direction: call.Inbound, Extension: "200", Remote: call.Party{Number: "+49 30 9876543", Name: "ACME Reception"}, DID: "+49 30 1111"}, ""},
		{"dialing", `{"event":"dialing","call_id":"c-2","to":"+1 212 555 0147","extension":"201"}`,
			call.Signal{Source: "webhook", CallID: "c-2", Kind: call.SigDialing, Direction: call.Outbound, Extension: "201", Remote: call.Party{Number: "+1 212 555 0147"}}, ""},
		{"ended with cause", `{"event":"ended","call_id":"c-1","cause":"busy"}`,
			call.Signal{Source: "webhook", CallID: "c-1", Kind: call.SigEnded, Cause: "busy"}, ""},
		{"by user", `{"event":"ringing","call_id":"c-3","user":"bob","from":"1"}`,
			call.Signal{Source: "webhook", CallID: "c-3", Kind: call.SigRinging, Extension: "201", User: "bob", Remote: call.Party{Number: "1"}}, ""},
		{"missing call_id", `{"event":"ringing","extension":"200"}`, call.Signal{}, `"call_id" is required`},
		{"empty call_id", `{"event":"ringing","call_id":" ","extension":"200"}`, call.Signal{}, `"call_id" is required`},
		{"missing event", `{"call_id":"x"}`, call.Signal{}, `"event" is required`},
		{"unknown event", `{"event":"exploded","call_id":"x"}`, call.Signal{}, `"event": "exploded" is not`},
		{"ringing without extension", `{"event":"ringing","call_id":"x"}`, call.Signal{}, `"extension" is required`},
		{"bad direction", `{"event":"ended","call_id":"x","direction":"sideways"}`, call.Signal{}, `"direction"`},
		{"bad time", `{"event":"ended","call_id":"x","time":"yesterday"}`, call.Signal{}, `"time"`},
		{"wrong type", `{"event":"ended","call_id":42}`, call.Signal{}, `"call_id": expected a string`},
		{"unknown field", `{"event":"ended","call_id":"x","colour":"red"}`, call.Signal{}, `unknown field "colour"`},
		{"malformed", `{"event":`, call.Signal{}, `malformed JSON`},
		{"two objects", `{"event":"ended","call_id":"x"}{}`, call.Signal{}, `one event object`},
		{"unknown user", `{"event":"ringing","call_id":"x","user":"mallory"}`, call.Signal{}, `"user": no Ringside user`},
		{"transfer without target", `{"event":"transferred","call_id":"x","extension":"200"}`, call.Signal{}, `"transfer_to" is required`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.DecodeJSON([]byte(tc.body))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want it to say %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.Time = tc.want.Time
			if !reflect.DeepEqual(got, tc.want) { // Signal holds a slice (Live)
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDecodeForm(t *testing.T) {
	s, _ := New("webhook", Config{}, resolver, nil)
	tests := []struct {
		name, body string
		want       []string // kind/ext/user/cause
		err        string
	}{
		{"newCall ring group", "event=newCall&callId=c1&from=4930987654&to=4930111&direction=in&user%5B%5D=alice&user%5B%5D=bob&user%5B%5D=nobody",
			[]string{"ringing/200/alice/", "ringing/201/bob/"}, ""},
		{"outbound", "event=newCall&callId=c2&from=200&to=00442079460958&direction=out&user%5B%5D=alice", []string{"dialing/200/alice/"}, ""},
		{"answer by user", "event=answer&callId=c1&user=bob&direction=in", []string{"answered/201/bob/"}, ""},
		{"answer by number", "event=answer&callId=c1&answeringNumber=200&direction=in", []string{"answered/200/alice/"}, ""},
		{"hangup cancel", "event=hangup&callId=c1&cause=cancel", []string{"ended///cancelled"}, ""},
		{"hangup busy", "event=hangup&callId=c1&cause=busy", []string{"ended///busy"}, ""},
		{"no users known", "event=newCall&callId=c1&user%5B%5D=nobody", nil, `none of`},
		{"no users", "event=newCall&callId=c1", nil, `"user[]" is required`},
		{"no callId", "event=hangup", nil, `"callId" is required`},
		{"unknown event", "event=dance&callId=1", nil, `"event": "dance"`},
		{"bad escape", "event=%zz", nil, `malformed form`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sigs, err := s.DecodeForm([]byte(tc.body))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, g := range sigs {
				got = append(got, string(g.Kind)+"/"+g.Extension+"/"+g.User+"/"+g.Cause)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("got %v want %v", got, tc.want)
			}
		})
	}
}

func TestHTTP(t *testing.T) {
	s, _ := New("webhook", Config{}, resolver, nil)
	post := func(ct, body string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/api/v1/events", strings.NewReader(body))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		s.ServeHTTP(w, r)
		return w
	}
	if w := post("application/json", `{"event":"ended","call_id":"x"}`); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("before Run: %d", w.Code)
	}
	rec := telephonytest.NewRecorder()
	emit := rec.Emit
	s.emit.Store(&emit) // what Run does first

	tests := []struct {
		ct, body string
		code     int
		say      string
	}{
		{"application/json", `{"event":"ringing","call_id":"c-1","from":"+49 30 9876543","extension":"200"}`, 202, ""},
		{"application/json; charset=utf-8", `{"event":"ended","call_id":"c-1"}`, 202, ""},
		{"application/x-www-form-urlencoded", "event=hangup&callId=c-9", 202, ""},
		{"", "event=hangup&callId=c-10", 202, ""},
		{"application/json", `{"event":"ringing"}`, 400, "call_id"},
		{"text/plain", `hello`, 400, "Content-Type"},
		{"application/json", `{"event":"ringing","call_id":"c","extension":"200","from_name":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "larger than"},
	}
	for _, tc := range tests {
		w := post(tc.ct, tc.body)
		if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.say) {
			t.Errorf("%s %.40s: %d %s", tc.ct, tc.body, w.Code, w.Body)
		}
	}
	if n := len(rec.Signals()); n != 4 {
		t.Fatalf("%d signals emitted, want 4 (refused requests emit nothing)", n)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/events", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", w.Code)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"event":"ringing","call_id":"c-1","from":"+49 30 9876543","from_name":"<img src=x onerror=alert(1)>","extension":"200"}`))
	f.Add([]byte(`{"event":"ended","call_id":"\u0000","cause":"' or 1 eq 1 or '"}`))
	f.Add([]byte("{\"event\":\"ringing\",\"call_id\":\"\xff\xfe\",\"extension\":\"200\"}"))
	s, _ := New("webhook", Config{}, resolver, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		sig, err := s.DecodeJSON(body)
		if err != nil {
			return
		}
		if sig.CallID == "" || sig.Kind == "" || !utf8.ValidString(sig.CallID) {
			t.Fatalf("accepted a signal without call id or kind: %+v", sig)
		}
	})
}

func FuzzDecodeForm(f *testing.F) {
	f.Add([]byte("event=newCall&callId=c1&from=4930987654&direction=in&user%5B%5D=alice"))
	f.Add([]byte("event=hangup&callId=%00&cause=%3Cscript%3E"))
	f.Add([]byte("event=answer&callId=c1&answeringNumber=200"))
	s, _ := New("webhook", Config{}, resolver, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		sigs, err := s.DecodeForm(body)
		if err != nil {
			return
		}
		for _, sig := range sigs {
			if sig.CallID == "" || sig.Kind == "" {
				t.Fatalf("accepted a signal without call id or kind: %+v", sig)
			}
		}
	})
}
