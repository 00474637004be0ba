package ami

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ringside/ringside/internal/call"
)

// Scenarios the captures do not show, written as AMI text.

// snap is a channel snapshot: name, state, caller number, unique id, linked id.
func snap(prefix, name, state, num, uid, linked string) string {
	return fmt.Sprintf("%[1]sChannel: %[2]s\r\n%[1]sChannelState: %[3]s\r\n%[1]sCallerIDNum: %[4]s\r\n%[1]sCallerIDName: N%[4]s\r\n"+
		"%[1]sConnectedLineNum: <unknown>\r\n%[1]sConnectedLineName: <unknown>\r\n%[1]sLanguage: en\r\n%[1]sExten: s\r\n"+
		"%[1]sUniqueid: %[5]s\r\n%[1]sLinkedid: %[6]s\r\n", prefix, name, state, num, uid, linked)
}

func ev(name string, t int, parts ...string) string {
	return fmt.Sprintf("Event: %s\r\nTimestamp: 1795620%03d.000000\r\n%s\r\n", name, t, strings.Join(parts, ""))
}

func kv(k, v string) string { return k + ": " + v + "\r\n" }

func sigSummary(sigs []call.Signal) []string {
	var out []string
	for _, s := range sigs {
		l := fmt.Sprintf("%s %s %s ext=%s", s.CallID, s.Kind, s.Direction, s.Extension)
		if s.Remote.Number != "" {
			l += " remote=" + s.Remote.Number
		}
		if s.Cause != "" {
			l += " cause=" + s.Cause
		}
		if s.TransferTo != "" {
			l += " to=" + s.TransferTo
		}
		out = append(out, l)
	}
	return out
}

func TestScenarios(t *testing.T) {
	trunk := func(uid string) string {
		return snap("", "PJSIP/carrier-0000"+strings.ReplaceAll(uid, ".", ""), "4", "+49301234", uid, uid)
	}
	for _, tc := range []struct {
		name string
		in   []string
		want []string
	}{{
		name: "internal call",
		in: []string{
			ev("Newchannel", 1, snap("", "PJSIP/200-00000001", "4", "200", "1.0", "1.0")),
			ev("Newchannel", 1, snap("", "PJSIP/201-00000002", "0", "201", "1.1", "1.0")),
			ev("DialBegin", 1, snap("", "PJSIP/200-00000001", "4", "200", "1.0", "1.0"), snap("Dest", "PJSIP/201-00000002", "0", "201", "1.1", "1.0"), kv("DialString", "201")),
			ev("Newstate", 3, snap("", "PJSIP/201-00000002", "6", "201", "1.1", "1.0")),
			ev("Hangup", 9, snap("", "PJSIP/201-00000002", "6", "201", "1.1", "1.0"), kv("Cause", "16")),
			ev("Hangup", 9, snap("", "PJSIP/200-00000001", "6", "200", "1.0", "1.0"), kv("Cause", "16")),
		},
		want: []string{
			"1.0 ringing internal ext=201 remote=200",
			"1.0 answered internal ext=201 remote=200",
			"1.0 ended internal ext=201 remote=200 cause=normal",
			"1.0 ended internal ext= remote=200 cause=normal",
		},
	}, {
		name: "queue caller gives up",
		in: []string{
			ev("Newchannel", 1, trunk("2.0")),
			ev("Newchannel", 1, snap("", "PJSIP/200-00000003", "0", "200", "2.1", "2.0")),
			ev("DialBegin", 1, trunk("2.0"), snap("Dest", "PJSIP/200-00000003", "0", "200", "2.1", "2.0")),
			ev("QueueCallerAbandon", 20, trunk("2.0"), kv("Queue", "sales")),
			ev("DialEnd", 20, trunk("2.0"), snap("Dest", "PJSIP/200-00000003", "5", "200", "2.1", "2.0"), kv("DialStatus", "CANCEL")),
			ev("Hangup", 20, snap("", "PJSIP/200-00000003", "5", "200", "2.1", "2.0"), kv("Cause", "16")),
			ev("Hangup", 20, trunk("2.0"), kv("Cause", "16")),
		},
		want: []string{
			"2.0 ringing inbound ext=200 remote=+49301234",
			"2.0 ended inbound ext=200 remote=+49301234 cause=cancelled",
			"2.0 ended inbound ext= remote=+49301234 cause=abandoned",
		},
	}, {
		name: "attended transfer",
		in: []string{
			ev("Newchannel", 1, trunk("3.0")),
			ev("Newchannel", 1, snap("", "PJSIP/200-00000004", "0", "200", "3.1", "3.0")),
			ev("DialBegin", 1, trunk("3.0"), snap("Dest", "PJSIP/200-00000004", "0", "200", "3.1", "3.0")),
			ev("Newstate", 2, snap("", "PJSIP/200-00000004", "6", "200", "3.1", "3.0")),
			ev("Newchannel", 5, snap("", "PJSIP/200-00000005", "4", "200", "4.0", "4.0")),
			ev("Newchannel", 5, snap("", "PJSIP/201-00000006", "0", "201", "4.1", "4.0")),
			ev("DialBegin", 5, snap("", "PJSIP/200-00000005", "4", "200", "4.0", "4.0"), snap("Dest", "PJSIP/201-00000006", "0", "201", "4.1", "4.0")),
			ev("Newstate", 6, snap("", "PJSIP/201-00000006", "6", "201", "4.1", "4.0")),
			ev("AttendedTransfer", 8, kv("Result", "Success"), snap("OrigTransferer", "PJSIP/200-00000004", "6", "200", "3.1", "3.0"),
				snap("SecondTransferer", "PJSIP/200-00000005", "6", "200", "4.0", "4.0"), kv("DestType", "Bridge"),
				snap("TransferTarget", "PJSIP/201-00000006", "6", "201", "4.1", "4.0")),
			ev("Hangup", 8, snap("", "PJSIP/200-00000004", "6", "200", "3.1", "3.0"), kv("Cause", "16")),
			ev("Hangup", 8, snap("", "PJSIP/200-00000005", "6", "200", "4.0", "4.0"), kv("Cause", "16")),
			ev("Hangup", 30, snap("", "PJSIP/201-00000006", "6", "201", "4.1", "4.0"), kv("Cause", "16")),
			ev("Hangup", 30, trunk("3.0"), kv("Cause", "16")),
		},
		want: []string{
			"3.0 ringing inbound ext=200 remote=+49301234",
			"3.0 answered inbound ext=200 remote=+49301234",
			"4.0 ringing internal ext=201 remote=200",
			"4.0 answered internal ext=201 remote=200",
			"3.0 transferred inbound ext=200 remote=+49301234 to=201",
			"3.0 answered inbound ext=201 remote=+49301234",
			"3.0 ended inbound ext=200 remote=+49301234 cause=normal",
			"4.0 ended internal ext= remote=200 cause=normal",
			"3.0 ended inbound ext=201 remote=+49301234 cause=normal",
			"3.0 ended inbound ext= remote=+49301234 cause=normal",
		},
	}, {
		name: "call pickup",
		in: []string{
			ev("Newchannel", 1, trunk("5.0")),
			ev("Newchannel", 1, snap("", "PJSIP/200-00000007", "0", "200", "5.1", "5.0")),
			ev("DialBegin", 1, trunk("5.0"), snap("Dest", "PJSIP/200-00000007", "0", "200", "5.1", "5.0")),
			ev("Newchannel", 3, snap("", "PJSIP/201-00000008", "4", "201", "6.0", "6.0")),
			ev("Pickup", 4, snap("", "PJSIP/201-00000008", "6", "201", "6.0", "6.0"), snap("Target", "PJSIP/200-00000007", "5", "200", "5.1", "5.0")),
			ev("Hangup", 4, snap("", "PJSIP/200-00000007", "5", "200", "5.1", "5.0"), kv("Cause", "26")),
			ev("Hangup", 9, snap("", "PJSIP/201-00000008", "6", "201", "6.0", "5.0"), kv("Cause", "16")),
			ev("Hangup", 9, trunk("5.0"), kv("Cause", "16")),
		},
		want: []string{
			"5.0 ringing inbound ext=200 remote=+49301234",
			"5.0 answered inbound ext=201 remote=+49301234",
			"5.0 ended inbound ext=200 remote=+49301234 cause=answered_elsewhere",
			"5.0 ended inbound ext=201 remote=+49301234 cause=normal",
			"5.0 ended inbound ext= remote=+49301234 cause=normal",
		},
	}, {
		name: "outbound busy",
		in: []string{
			ev("Newchannel", 1, snap("", "PJSIP/200-00000009", "4", "200", "7.0", "7.0")),
			ev("Newchannel", 1, snap("", "PJSIP/carrier-0000000a", "0", "", "7.1", "7.0")),
			ev("DialBegin", 1, snap("", "PJSIP/200-00000009", "4", "200", "7.0", "7.0"), snap("Dest", "PJSIP/carrier-0000000a", "0", "0301234", "7.1", "7.0")),
			ev("DialEnd", 2, snap("", "PJSIP/200-00000009", "4", "200", "7.0", "7.0"), snap("Dest", "PJSIP/carrier-0000000a", "0", "0301234", "7.1", "7.0"), kv("DialStatus", "BUSY")),
			ev("Hangup", 2, snap("", "PJSIP/carrier-0000000a", "0", "0301234", "7.1", "7.0"), kv("Cause", "17")),
			ev("Hangup", 2, snap("", "PJSIP/200-00000009", "4", "200", "7.0", "7.0"), kv("Cause", "17")),
		},
		want: []string{
			"7.0 dialing outbound ext=200 remote=0301234",
			"7.0 ended outbound ext=200 remote=0301234 cause=busy",
			"7.0 ended outbound ext= remote=0301234 cause=busy",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			in := "Asterisk Call Manager/11.0.0\r\n" + strings.Join(tc.in, "")
			got := sigSummary(replay(t, testSettings(t, nil), []byte(in)))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("signals (-want +got):\n%s", diff)
			}
		})
	}
}
