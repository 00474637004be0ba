package esl

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ringside/ringside/internal/testenv"
)

func TestDial(t *testing.T) {
	for _, tc := range []struct {
		scenario, ext, legID, jobID, wantErr string
	}{
		{"click_to_dial", "200", "06d4b89d-a7f5-42f1-93ef-40f482b57222", "1741393b-ff06-422b-be4c-519ab156c405", ""},
		{"click_to_dial_busy", "203", "8ed125db-82d8-4050-8d2d-6c636676a844", "0d2315d0-4ae1-4391-9457-45d7e75a3536", "the phone at extension 203 is busy"},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			fs := newFakeFS(t)
			src, rec, _, _ := start(t, fs, Config{Format: "json", Originate: Originate{
				Bridge: "sofia/gateway/carrier/{number}", CallerIDName: "Anna Schmidt", CallerIDNumber: "4930123456"}})
			ids := []string{tc.legID, tc.jobID}
			src.newID = func() string { id := ids[0]; ids = ids[1:]; return id }
			fc := fs.next(t)
			fc.login("json")
			fc.resync(noRows, noRows)

			result := make(chan error, 1)
			go func() { result <- src.Dial(t.Context(), tc.ext, "0049 30 111-22 33") }()

			// The command is the one recorded in the capture, but for the name shown on the
			// agent's phone (we only know the number) and our own dial id.
			sent, err := os.ReadFile(testenv.Capture(t, "freeswitch-esl", tc.scenario+".control.sent.txt"))
			if err != nil {
				t.Fatal(err)
			}
			_, want, _ := strings.Cut(string(sent), "\n\n")
			want, _, _ = strings.Cut(want, "\n\n")
			want = strings.Replace(want, "'ACME Corp'", "'0049301112233'", 1)
			want = strings.NewReplacer("ringside-dial-0001", "ringside-"+tc.jobID[:8], "ringside-dial-0002", "ringside-"+tc.jobID[:8]).Replace(want)
			got := fc.expect("bgapi originate ")
			if d := cmp.Diff(want+"\n", got); d != "" {
				t.Fatalf("originate (-capture +sent):\n%s", d)
			}
			fc.write([]byte("Content-Type: command/reply\nReply-Text: +OK Job-UUID: " + tc.jobID + "\nJob-UUID: " + tc.jobID + "\n\n"))
			fc.stream(capture(t, tc.scenario+".json.esl"))

			err = <-result
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Dial = %v, want %q", err, tc.wantErr)
			}
			got2 := rec.WaitFor(t, wait, callEnded(1))
			if d := cmp.Diff(goldenSignals(t, tc.scenario), signalLines(got2)); d != "" {
				t.Errorf("signals (-want +got):\n%s", d)
			}
			if st := src.Stats(); st.Dials != 1 || (st.DialsFailed == 1) != (tc.wantErr != "") {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestDialConnectionLost(t *testing.T) {
	fs := newFakeFS(t)
	src, _, _, _ := start(t, fs, Config{})
	fc := fs.next(t)
	fc.login("plain")
	fc.resync(noRows, noRows)
	result := make(chan error, 1)
	go func() { result <- src.Dial(t.Context(), "200", "+49 30 1112233") }()
	cmd := fc.expect("bgapi originate ")
	if !strings.Contains(cmd, "}user/200 +49301112233 XML default\nJob-UUID: ") {
		t.Errorf("originate through the dialplan: %q", cmd)
	}
	fc.reply("+OK Job-UUID: whatever")
	fc.c.Close()
	if err := <-result; err == nil || !strings.Contains(err.Error(), "connection to FreeSWITCH lost") {
		t.Fatalf("Dial = %v", err)
	}
}

func TestDialRefusedInput(t *testing.T) {
	src, err := New("esl", Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ ext, number, want string }{
		{"200", "+49 30 1112233", "not connected"},
		{"200}x", "0301112233", "not an extension"},
		{"abc", "0301112233", "not an extension"},
		{"200", "030 111 '&bridge(x)", "not a number"},
		{"200", "", "not a number"},
		{"200", "sip:foo@bar", "not a number"},
	} {
		err := src.Dial(context.Background(), tc.ext, tc.number)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Dial(%q, %q) = %v, want %q", tc.ext, tc.number, err, tc.want)
		}
	}
}

func TestDialResult(t *testing.T) {
	for res, want := range map[string]string{
		"+OK 06d4b89d-a7f5-42f1-93ef-40f482b57222\n": "",
		"-ERR USER_BUSY\n":                           "busy",
		"-ERR NO_ANSWER\n":                           "did not answer",
		"-ERR USER_NOT_REGISTERED\n":                 "not registered",
		"-ERR CALL_REJECTED\n":                       "rejected",
		"-ERR WEIRD\xff\n":                           "could not place the call (WEIRD?)",
	} {
		err := dialResult("200", res)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("dialResult(%q) = %v, want %q", res, err, want)
		}
	}
}
