package tapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ringside/ringside/internal/call"
)

// step is one message as the Windows layer hands it over.
type step struct {
	msg           string // "state", "resync", "info"
	h             uint32
	state, detail uint32
	info          []byte // a LINECALLINFO buffer
	wantIdle      bool
}

func sigLine(s call.Signal) string {
	b, _ := json.Marshal(struct {
		Kind   call.SignalKind `json:"kind"`
		Call   string          `json:"call"`
		Dir    call.Direction  `json:"dir"`
		Ext    string          `json:"ext,omitempty"`
		Number string          `json:"number,omitempty"`
		Name   string          `json:"name,omitempty"`
		Cause  string          `json:"cause,omitempty"`
		Resync bool            `json:"resync,omitempty"`
	}{s.Kind, s.CallID, s.Direction, s.Extension, s.Remote.Number, s.Remote.Name, s.Cause, s.Resync})
	return string(b)
}

// TestMapper plays call-state sequences as TAPI providers report them (LINE_CALLSTATE
// with the LINECALLINFO of the moment) and checks the signals.
func TestMapper(t *testing.T) {
	in := callInfoBuf(OriginExternal, 77, "+49309876543", "ACME Reception", "201", PartyAddress|PartyName)
	inNoID := callInfoBuf(OriginExternal, 77, "", "", "201", PartyUnknown)
	out := callInfoBuf(OriginOutbound, 78, "201", "", "0049 30 1234567", PartyAddress)
	outNoCalled := callInfoBuf(OriginOutbound, 78, "201", "", "", PartyAddress)
	internal := callInfoBuf(OriginInternal, 0, "202", "Bob", "201", PartyAddress|PartyName)
	blocked := callInfoBuf(OriginExternal, 79, "", "", "201", PartyBlocked)
	st := func(s, d uint32, info []byte) step {
		return step{msg: "state", h: 0x1001, state: s, detail: d, info: info}
	}
	idle := func(info []byte) step {
		return step{msg: "state", h: 0x1001, state: StateIdle, info: info, wantIdle: true}
	}

	tests := []struct {
		name  string
		steps []step
		want  []string
	}{
		{"inbound answered", []step{st(StateOffering, 0, in), st(StateAccepted, 0, in), st(StateConnected, 0, in),
			st(StateDisconnected, DisconnectNormal, in), idle(in)}, []string{
			`{"kind":"ringing","call":"2-77","dir":"inbound","ext":"201","number":"+49309876543","name":"ACME Reception"}`,
			`{"kind":"answered","call":"2-77","dir":"inbound","ext":"201","number":"+49309876543","name":"ACME Reception"}`,
			`{"kind":"ended","call":"2-77","dir":"inbound","ext":"201","number":"+49309876543","name":"ACME Reception","cause":"normal"}`,
			`{"kind":"ended","call":"2-77","dir":"inbound","number":"+49309876543","name":"ACME Reception","cause":"normal"}`}},
		{"inbound missed (caller gave up)", []step{st(StateOffering, 0, in), st(StateDisconnected, DisconnectNormal, in), idle(in)}, []string{
			`{"kind":"ringing","call":"2-77","dir":"inbound","ext":"201","number":"+49309876543","name":"ACME Reception"}`,
			`{"kind":"ended","call":"2-77","dir":"inbound","ext":"201","number":"+49309876543","name":"ACME Reception","cause":"cancelled"}`,
			`{"kind":"ended","call":"2-77","dir":"inbound","number":"+49309876543","name":"ACME Reception","cause":"cancelled"}`}},
		{"inbound picked up elsewhere, idle without disconnected", []step{st(StateOffering, 0, in), st(StateDisconnected, DisconnectPickup, in), st(StateDisconnected, DisconnectNormal, in), idle(in), idle(in)}, []string{
			`{"kind":"ringing","call":"2-77","dir":"inbound","ext":"201","number":"+49309876543","name":"ACME Reception"}`,
			`{"kind":"ended","call":"2-77","dir":"inbound","ext":"201","number":"+49309876543","name":"ACME Reception","cause":"answered_elsewhere"}`,
			`{"kind":"ended","call":"2-77","dir":"inbound","number":"+49309876543","name":"ACME Reception","cause":"answered_elsewhere"}`}},
		{"caller id arrives late (LINE_CALLINFO)", []step{st(StateOffering, 0, inNoID), {msg: "info", h: 0x1001, info: in}, st(StateConnected, 0, in), idle(in)}, []string{
			`{"kind":"ringing","call":"2-77","dir":"inbound","ext":"201","number":"anonymous"}`,
			`{"kind":"answered","call":"2-77","dir":"inbound","ext":"201","number":"+49309876543","name":"ACME Reception"}`,
			`{"kind":"ended","call":"2-77","dir":"inbound","ext":"201","number":"+49309876543","name":"ACME Reception","cause":"normal"}`,
			`{"kind":"ended","call":"2-77","dir":"inbound","number":"+49309876543","name":"ACME Reception","cause":"normal"}`}},
		{"withheld caller, rejected", []step{st(StateOffering, 0, blocked), st(StateDisconnected, DisconnectReject, blocked), idle(blocked)}, []string{
			`{"kind":"ringing","call":"2-79","dir":"inbound","ext":"201","number":"anonymous"}`,
			`{"kind":"ended","call":"2-79","dir":"inbound","ext":"201","number":"anonymous","cause":"rejected"}`,
			`{"kind":"ended","call":"2-79","dir":"inbound","number":"anonymous","cause":"rejected"}`}},
		{"internal call without provider call id", []step{st(StateOffering, 0, internal), st(StateConnected, 0, internal), idle(internal)}, []string{
			`{"kind":"ringing","call":"h1001","dir":"internal","ext":"201","number":"202","name":"Bob"}`,
			`{"kind":"answered","call":"h1001","dir":"internal","ext":"201","number":"202","name":"Bob"}`,
			`{"kind":"ended","call":"h1001","dir":"internal","ext":"201","number":"202","name":"Bob","cause":"normal"}`,
			`{"kind":"ended","call":"h1001","dir":"internal","number":"202","name":"Bob","cause":"normal"}`}},
		{"outbound answered", []step{st(StateDialtone, 0, outNoCalled), st(StateDialing, 0, outNoCalled), st(StateProceeding, 0, out),
			st(StateRingback, 0, out), st(StateConnected, 0, out), st(StateOnHold, 0, out), st(StateConnected, 0, out),
			st(StateDisconnected, DisconnectNormal, out), idle(out)}, []string{
			`{"kind":"dialing","call":"2-78","dir":"outbound","ext":"201"}`,
			`{"kind":"answered","call":"2-78","dir":"outbound","ext":"201","number":"0049 30 1234567"}`,
			`{"kind":"ended","call":"2-78","dir":"outbound","ext":"201","number":"0049 30 1234567","cause":"normal"}`,
			`{"kind":"ended","call":"2-78","dir":"outbound","number":"0049 30 1234567","cause":"normal"}`}},
		{"outbound busy", []step{st(StateDialtone, 0, outNoCalled), st(StateProceeding, 0, out), st(StateBusy, 0, out),
			st(StateDisconnected, DisconnectBusy, out), idle(out)}, []string{
			`{"kind":"dialing","call":"2-78","dir":"outbound","ext":"201","number":"0049 30 1234567"}`,
			`{"kind":"ended","call":"2-78","dir":"outbound","ext":"201","number":"0049 30 1234567","cause":"busy"}`,
			`{"kind":"ended","call":"2-78","dir":"outbound","number":"0049 30 1234567","cause":"busy"}`}},
		{"outbound busy tone then idle", []step{st(StateProceeding, 0, out), st(StateBusy, 0, out), idle(out)}, []string{
			`{"kind":"dialing","call":"2-78","dir":"outbound","ext":"201","number":"0049 30 1234567"}`,
			`{"kind":"ended","call":"2-78","dir":"outbound","ext":"201","number":"0049 30 1234567","cause":"busy"}`,
			`{"kind":"ended","call":"2-78","dir":"outbound","number":"0049 30 1234567","cause":"busy"}`}},
		{"outbound unreachable", []step{st(StateProceeding, 0, out), st(StateDisconnected, DisconnectUnreachable, out), idle(out)}, []string{
			`{"kind":"dialing","call":"2-78","dir":"outbound","ext":"201","number":"0049 30 1234567"}`,
			`{"kind":"ended","call":"2-78","dir":"outbound","ext":"201","number":"0049 30 1234567","cause":"failed"}`,
			`{"kind":"ended","call":"2-78","dir":"outbound","number":"0049 30 1234567","cause":"failed"}`}},
		{"off hook, nothing dialled", []step{st(StateDialtone, 0, outNoCalled), idle(outNoCalled)}, nil},
		{"resync of a connected call", []step{{msg: "resync", h: 0x1001, state: StateConnected, info: in}, st(StateDisconnected, DisconnectNormal, in), idle(in)}, []string{
			`{"kind":"ringing","call":"2-77","dir":"inbound","ext":"201","number":"+49309876543","name":"ACME Reception","resync":true}`,
			`{"kind":"answered","call":"2-77","dir":"inbound","ext":"201","number":"+49309876543","name":"ACME Reception","resync":true}`,
			`{"kind":"ended","call":"2-77","dir":"inbound","ext":"201","number":"+49309876543","name":"ACME Reception","cause":"normal"}`,
			`{"kind":"ended","call":"2-77","dir":"inbound","number":"+49309876543","name":"ACME Reception","cause":"normal"}`}},
		{"unknown and odd states", []step{st(StateUnknown, 0, in), st(StateSpecialInfo, 0, in), st(0xDEAD0000, 0, in), idle(in)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			m := NewMapper("tapi", func(line uint32) string { return "201" }, func() time.Time { return time.Unix(0, 0) },
				func(s call.Signal) { got = append(got, sigLine(s)) })
			for i, s := range tt.steps {
				info, err := DecodeCallInfo(s.info, StringUnicode)
				if err != nil {
					t.Fatal(err)
				}
				var idle bool
				switch s.msg {
				case "state":
					idle = m.CallState(s.h, s.state, s.detail, info)
				case "resync":
					idle = m.Resync(s.h, s.state, s.detail, info)
				case "info":
					m.CallInfoChanged(s.h, info)
				}
				if idle != s.wantIdle {
					t.Errorf("step %d: idle = %v, want %v", i, idle, s.wantIdle)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestMapperTracker feeds the mapper's signals to the tracker: an inbound answered call
// is one pop, one answer, one end with a talk time.
func TestMapperTracker(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { now = now.Add(5 * time.Second); return now }
	tr := call.NewTracker(call.TrackerConfig{Now: clock})
	var events []string
	m := NewMapper("tapi", func(uint32) string { return "201" }, clock, func(s call.Signal) {
		for _, e := range tr.Handle(s) {
			events = append(events, fmt.Sprintf("%s %s %s", e.Type, e.Call.State, e.Call.Remote.Raw))
		}
	})
	info, _ := DecodeCallInfo(callInfoBuf(OriginExternal, 77, "+49309876543", "ACME", "201", PartyAddress|PartyName), StringUnicode)
	for _, s := range []uint32{StateOffering, StateConnected, StateDisconnected, StateIdle} {
		m.CallState(9, s, DisconnectNormal, info)
	}
	want := "call.ringing ringing +49309876543|call.answered answered +49309876543|call.ended ended +49309876543"
	if got := strings.Join(events, "|"); got != want {
		t.Errorf("events\n got %s\nwant %s", got, want)
	}
	if _, ok := m.Handle(""); ok {
		t.Error("an idle call still has a handle")
	}
}

func TestCause(t *testing.T) {
	for _, tt := range []struct {
		mode                uint32
		out, answered, busy bool
		want                string
	}{
		{DisconnectNormal, false, true, false, "normal"},
		{DisconnectBusy, true, false, false, "busy"},
		{0, true, false, true, "busy"},
		{DisconnectNoAnswer, true, false, false, "no_answer"},
		{DisconnectReject, false, false, false, "rejected"},
		{DisconnectDoNotDisturb, false, false, false, "rejected"},
		{DisconnectPickup, false, false, false, "answered_elsewhere"},
		{DisconnectForwarded, false, false, false, "forwarded"},
		{DisconnectCongestion, true, false, false, "failed"},
		{DisconnectCancelled, false, false, false, "cancelled"},
		{DisconnectUnknown, false, false, false, "cancelled"},
	} {
		if got := Cause(tt.mode, tt.out, tt.answered, tt.busy); got != tt.want {
			t.Errorf("Cause(%#x, out=%v, answered=%v, busy=%v) = %q, want %q", tt.mode, tt.out, tt.answered, tt.busy, got, tt.want)
		}
	}
}
