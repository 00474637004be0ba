package esl

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ringside/ringside/internal/call"
)

// ev builds an event from header/value pairs; "t" is seconds after a fixed epoch.
func ev(name string, kv ...string) *event {
	e := &event{}
	e.f[fEventName] = []byte(name)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == "t" {
			s, _ := strconv.Atoi(kv[i+1])
			kv[i], kv[i+1] = "Event-Date-Timestamp", strconv.FormatInt(1795630000000000+int64(s)*1000000, 10)
		}
		fi := fieldOf([]byte(kv[i]))
		if fi < 0 {
			panic("unknown field " + kv[i])
		}
		e.f[fi] = []byte(kv[i+1])
	}
	return e
}

func brief(sigs []call.Signal) []string {
	var out []string
	for _, s := range sigs {
		b := string(s.Kind) + " " + s.CallID + " " + string(s.Direction) + " " + s.Extension
		if s.Cause != "" {
			b += " " + s.Cause
		}
		if s.TransferTo != "" {
			b += " to " + s.TransferTo
		}
		out = append(out, b)
	}
	return out
}

// TestCorrelateSynthetic covers what the captures do not show.
func TestCorrelateSynthetic(t *testing.T) {
	const trunk, p200, p201 = "sofia/external/+4930555@1.2.3.4", "sofia/internal/200@10.0.0.2", "sofia/internal/201@10.0.0.3"
	create := func(uuid, name string, kv ...string) *event {
		return ev("CHANNEL_CREATE", append([]string{"Unique-ID", uuid, "Channel-Name", name, "Caller-Caller-ID-Number", "+4930555", "Caller-Destination-Number", "4930123456"}, kv...)...)
	}
	hangup := func(uuid, cause string, kv ...string) *event {
		return ev("CHANNEL_HANGUP_COMPLETE", append([]string{"Unique-ID", uuid, "Hangup-Cause", cause}, kv...)...)
	}
	for _, tc := range []struct {
		name string
		in   []*event
		want []string
	}{
		{"internal call", []*event{
			create("a", "sofia/internal/200@10.0.0.2", "Call-Direction", "inbound"),
			create("b", p201, "Other-Leg-Unique-ID", "a", "Call-Direction", "outbound"),
			ev("CHANNEL_ANSWER", "Unique-ID", "b"), ev("CHANNEL_ANSWER", "Unique-ID", "a"),
			hangup("b", "NORMAL_CLEARING"), hangup("a", "NORMAL_CLEARING"),
		}, []string{"ringing a internal 201", "answered a internal 201", "ended a internal 201 normal", "ended a internal  normal"}},
		{"loopback helpers are not legs", []*event{
			create("a", trunk),
			create("la", "loopback/600-a", "Other-Leg-Unique-ID", "a"),
			create("lb", "loopback/600-b", "variable_other_loopback_leg_uuid", "la"),
			create("b", p200, "Other-Leg-Unique-ID", "lb"),
			ev("CHANNEL_ANSWER", "Unique-ID", "b"),
			hangup("b", "NORMAL_CLEARING"), hangup("lb", "NORMAL_CLEARING"), hangup("la", "NORMAL_CLEARING"), hangup("a", "NORMAL_CLEARING"),
		}, []string{"ringing a inbound ", "ringing a inbound 200", "answered a inbound 200", "ended a inbound 200 normal", "ended a inbound  normal"}},
		{"hold, progress and unknown legs change nothing", []*event{
			create("a", trunk), create("b", p200, "Other-Leg-Unique-ID", "a"),
			ev("CHANNEL_PROGRESS", "Unique-ID", "b"), ev("CHANNEL_ANSWER", "Unique-ID", "b"),
			ev("CHANNEL_HOLD", "Unique-ID", "b"), ev("CHANNEL_UNHOLD", "Unique-ID", "b"), ev("PRIVATE_COMMAND", "Unique-ID", "b"),
			ev("CHANNEL_ANSWER", "Unique-ID", "zz"), hangup("zz", "NORMAL_CLEARING"),
			ev("CHANNEL_UNBRIDGE", "Unique-ID", "a", "Hangup-Cause", "NORMAL_CLEARING"),
			hangup("b", "NORMAL_CLEARING"), hangup("a", "NORMAL_CLEARING"), hangup("a", "NORMAL_CLEARING"),
		}, []string{"ringing a inbound ", "ringing a inbound 200", "answered a inbound 200", "ended a inbound 200 normal", "ended a inbound  normal"}},
		{"callee hangs up first, caller continues in the dialplan", []*event{
			create("a", trunk), create("b", p200, "Other-Leg-Unique-ID", "a"),
			ev("CHANNEL_ANSWER", "Unique-ID", "b"),
			ev("CHANNEL_BRIDGE", "Unique-ID", "a", "Caller-Destination-Number", "4930123456"),
			hangup("b", "NORMAL_CLEARING", "t", "5"),
			ev("CHANNEL_UNBRIDGE", "Unique-ID", "a", "Caller-Destination-Number", "4930123456"), // no transfer: flushed at once
			hangup("a", "NORMAL_CLEARING", "t", "60"),
		}, []string{"ringing a inbound ", "ringing a inbound 200", "answered a inbound 200", "ended a inbound 200 normal", "ended a inbound  normal"}},
		{"blind transfer (REFER) to a phone", []*event{
			create("a", trunk), create("b", p200, "Other-Leg-Unique-ID", "a"),
			ev("CHANNEL_ANSWER", "Unique-ID", "b"),
			ev("CHANNEL_BRIDGE", "Unique-ID", "a", "Caller-Destination-Number", "4930123456"),
			hangup("b", "NORMAL_CLEARING"),
			ev("CHANNEL_UNBRIDGE", "Unique-ID", "a", "Caller-Destination-Number", "201"),
			create("c", p201, "Other-Leg-Unique-ID", "a"),
			ev("CHANNEL_ANSWER", "Unique-ID", "c"),
			hangup("c", "NORMAL_CLEARING"), hangup("a", "NORMAL_CLEARING"),
		}, []string{"ringing a inbound ", "ringing a inbound 200", "answered a inbound 200", "transferred a inbound 200 to 201", "ended a inbound 200 normal",
			"ringing a inbound 201", "answered a inbound 201", "ended a inbound 201 normal", "ended a inbound  normal"}},
		{"transfer to nowhere: the held end is flushed after a while", []*event{
			create("a", trunk, "t", "0"), create("b", p200, "Other-Leg-Unique-ID", "a", "t", "0"),
			ev("CHANNEL_ANSWER", "Unique-ID", "b", "t", "2"),
			ev("CHANNEL_BRIDGE", "Unique-ID", "a", "Caller-Destination-Number", "4930123456", "t", "2"),
			hangup("b", "NORMAL_CLEARING", "t", "5"),
			ev("CHANNEL_UNBRIDGE", "Unique-ID", "a", "Caller-Destination-Number", "ivr", "t", "5"),
			create("x", trunk, "t", "30"), // any later event moves the clock
		}, []string{"ringing a inbound ", "ringing a inbound 200", "answered a inbound 200", "ringing x inbound ", "ended a inbound 200 normal"}},
		{"forwarded to the outside", []*event{
			create("a", trunk), create("g", "sofia/external/0049301112233", "Other-Leg-Unique-ID", "a", "variable_sip_gateway_name", "carrier"),
			ev("CHANNEL_ANSWER", "Unique-ID", "g"), hangup("g", "NORMAL_CLEARING"), hangup("a", "NORMAL_CLEARING"),
		}, []string{"ringing a inbound ", "ended a inbound  normal"}},
		{"caller gives up before any phone", []*event{
			create("a", trunk), hangup("a", "NORMAL_CLEARING", "variable_originate_disposition", "ORIGINATOR_CANCEL"),
		}, []string{"ringing a inbound ", "ended a inbound  cancelled"}},
		{"B leg found through Channel-Call-UUID", []*event{
			create("a", trunk), create("b", p200, "Channel-Call-UUID", "a"),
			hangup("b", "NO_ANSWER"), hangup("a", "NORMAL_CLEARING", "variable_DIALSTATUS", "NOANSWER"),
		}, []string{"ringing a inbound ", "ringing a inbound 200", "ended a inbound 200 no_answer", "ended a inbound  no_answer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []call.Signal
			co := newCorrelator("esl", regexp.MustCompile(defaultExtensionPattern), []string{"external"}, func(s call.Signal) { got = append(got, s) })
			for _, e := range tc.in {
				co.handle(e)
				co.flushHeldBefore(eventTime(e).Add(-10 * time.Second))
			}
			if d := cmp.Diff(tc.want, brief(got)); d != "" {
				t.Errorf("signals (-want +got):\n%s", d)
			}
		})
	}
}

// TestResyncSnapshots: a ring group found ringing, then found answered by 201 (200 gone),
// then gone: every change is reported once, marked Resync.
func TestResyncSnapshots(t *testing.T) {
	row := func(uuid, name, state, callUUID string) string {
		return `{"uuid":"` + uuid + `","direction":"inbound","created_epoch":"1795630155","name":"` + name + `","cid_name":"ACME","cid_num":"+4930555",` +
			`"dest":"600","initial_dest":"4930123600","callstate":"` + state + `","call_uuid":"` + callUUID + `"}`
	}
	rows := func(r ...string) []byte {
		return []byte(`{"row_count":` + strconv.Itoa(len(r)) + `,"rows":[` + joinComma(r) + `]}`)
	}
	var got []call.Signal
	co := newCorrelator("esl", regexp.MustCompile(defaultExtensionPattern), []string{"external"}, func(s call.Signal) { got = append(got, s) })
	steps := []struct{ channels, calls []byte }{
		{rows(row("a", "sofia/external/+4930555@1.2.3.4", "RINGING", "a"), row("b0", "sofia/internal/200@10.0.0.2", "RINGING", "a"),
			row("b1", "sofia/internal/201@10.0.0.3", "EARLY", "a")), []byte(`{"row_count":0}`)},
		{rows(row("a", "sofia/external/+4930555@1.2.3.4", "ACTIVE", "a"), row("b1", "sofia/internal/201@10.0.0.3", "ACTIVE", "b1")),
			[]byte(`{"row_count":1,"rows":[{"uuid":"a","b_uuid":"b1","call_created_epoch":"1795630157"}]}`)},
		{[]byte(`{"row_count":0}`), []byte(`{"row_count":0}`)},
	}
	for _, st := range steps {
		if err := co.resyncFrom(st.channels, st.calls); err != nil {
			t.Fatal(err)
		}
	}
	// Each resync ends with its mark (the live calls: "a", then "a", then none).
	want := []string{"ringing a inbound ", "ringing a inbound 200", "ringing a inbound 201", "resynced   ",
		"answered a inbound 201", "ended a inbound 200", "resynced   ", "ended a inbound 201", "ended a inbound  normal", "resynced   "}
	if d := cmp.Diff(want, brief(got)); d != "" {
		t.Errorf("signals (-want +got):\n%s", d)
	}
	var live [][]string
	for _, s := range got {
		if s.Kind == call.SigResynced {
			live = append(live, s.Live)
		}
	}
	if d := cmp.Diff([][]string{{"a"}, {"a"}, {}}, live); d != "" {
		t.Errorf("live calls of the marks (-want +got):\n%s", d)
	}
	for _, s := range got {
		if !s.Resync {
			t.Errorf("signal without Resync: %+v", s)
		}
	}
	if got[0].DID != "4930123600" {
		t.Errorf("DID %q, want the number dialled before the dialplan transfer", got[0].DID)
	}
	if err := co.resyncFrom([]byte("-ERR no permission\n"), nil); err == nil {
		t.Error("an -ERR reply was accepted")
	}
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}
