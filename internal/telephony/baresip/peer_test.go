package baresip_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony/baresip"
	"github.com/ringside/ringside/internal/telephony/baresip/baresiptest"
	"github.com/ringside/ringside/internal/telephony/telephonytest"
)

// kinds lists the signals' kinds with their extension ("ringing@200", "ended@").
func kinds(sigs []call.Signal) []string {
	var out []string
	for _, s := range sigs {
		out = append(out, string(s.Kind)+"@"+s.Extension)
	}
	return out
}

func has(sigs []call.Signal, kind call.SignalKind, ext string) bool {
	return slices.ContainsFunc(sigs, func(s call.Signal) bool { return s.Kind == kind && s.Extension == ext })
}

// startSource runs a source against b and waits until baresip has taken it as its
// control client.
func startSource(t *testing.T, b *baresiptest.Baresip, cfg baresip.Config) (*baresip.Source, *telephonytest.Recorder) {
	t.Helper()
	cfg.Address = b.Ctrl
	src, err := baresip.New("softphone", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := telephonytest.NewRecorder()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, rec.Emit) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitState(t, src, "up")
	return src, rec
}

func waitState(t *testing.T, src *baresip.Source, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, _ := src.State(); st == want {
			return
		}
		if time.Now().After(deadline) {
			st, reason := src.State()
			t.Fatalf("state %s (%s), want %s", st, reason, want)
		}
		time.Sleep(10 * time.Millisecond) // State has no change notification; poll briefly
	}
}

// TestBaresipInbound: sipp calls the real baresip, the source answers through ctrl_tcp,
// and the caller hangs up.
func TestBaresipInbound(t *testing.T) {
	b := baresiptest.Start(t)
	src, rec := startSource(t, b, baresip.Config{})
	caller := baresiptest.Call(t, "uac.xml", b.SIP, b.User)
	sigs := rec.WaitFor(t, 15*time.Second, func(s []call.Signal) bool { return has(s, call.SigRinging, "200") })
	r := sigs[0]
	if r.Direction != call.Inbound || r.Remote.Number != "+49309876543" || r.Remote.Name != "+49309876543" || r.CallID == "" {
		t.Errorf("ringing signal = %+v", r)
	}
	if err := src.Answer(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	sigs = rec.WaitFor(t, 15*time.Second, func(s []call.Signal) bool { return has(s, call.SigEnded, "") })
	want := []string{"ringing@200", "answered@200", "ended@200", "ended@"}
	if got := kinds(sigs); !slices.Equal(got, want) {
		t.Errorf("signals %v, want %v", got, want)
	}
	if c := sigs[len(sigs)-1].Cause; c != call.CauseNormal {
		t.Errorf("cause %q, want normal", c)
	}
	if err := caller.Wait(t.Context()); err != nil {
		t.Error(err)
	}
}

// TestBaresipRejectAndCancel: the agent rejects one call; the caller gives up on another.
func TestBaresipRejectAndCancel(t *testing.T) {
	b := baresiptest.Start(t)
	src, rec := startSource(t, b, baresip.Config{})
	caller := baresiptest.Call(t, "uac.xml", b.SIP, b.User)
	rec.WaitFor(t, 15*time.Second, func(s []call.Signal) bool { return has(s, call.SigRinging, "200") })
	if err := src.Hangup(t.Context(), rec.Signals()[0].CallID); err != nil {
		t.Fatal(err)
	}
	sigs := rec.WaitFor(t, 15*time.Second, func(s []call.Signal) bool { return has(s, call.SigEnded, "") })
	if c := sigs[len(sigs)-1].Cause; c != call.CauseRejected {
		t.Errorf("reject: cause %q, want rejected; signals %v", c, kinds(sigs))
	}
	if err := caller.Wait(t.Context()); err != nil {
		t.Error(err)
	}

	n := len(sigs)
	caller = baresiptest.Call(t, "uac_cancel.xml", b.SIP, b.User)
	sigs = rec.WaitFor(t, 15*time.Second, func(s []call.Signal) bool { return len(s) >= n+3 && has(s[n:], call.SigEnded, "") })
	if got, want := kinds(sigs[n:]), []string{"ringing@200", "ended@200", "ended@"}; !slices.Equal(got, want) {
		t.Errorf("cancel: signals %v, want %v", got, want)
	}
	if c := sigs[len(sigs)-1].Cause; c != call.CauseCancelled {
		t.Errorf("cancel: cause %q, want cancelled", c)
	}
	if err := caller.Wait(t.Context()); err != nil {
		t.Error(err)
	}
}

// TestBaresipDial: click-to-dial through ctrl_tcp; sipp answers, the agent hangs up.
// Then a busy target.
func TestBaresipDial(t *testing.T) {
	b := baresiptest.Start(t)
	callee := baresiptest.Answer(t, "uas.xml")
	src, rec := startSource(t, b, baresip.Config{DialURI: "sip:{number}@" + callee.Addr})
	if err := src.Dial(t.Context(), "", "201"); err != nil {
		t.Fatal(err)
	}
	sigs := rec.WaitFor(t, 15*time.Second, func(s []call.Signal) bool { return has(s, call.SigAnswered, "200") })
	if d := sigs[0]; d.Kind != call.SigDialing || d.Direction != call.Outbound || d.Remote.Number != "201" {
		t.Errorf("first signal = %+v, want dialing 201", d)
	}
	if err := src.Hangup(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	sigs = rec.WaitFor(t, 15*time.Second, func(s []call.Signal) bool { return has(s, call.SigEnded, "") })
	if got, want := kinds(sigs), []string{"dialing@200", "answered@200", "ended@200", "ended@"}; !slices.Equal(got, want) {
		t.Errorf("signals %v, want %v", got, want)
	}
	if err := callee.Wait(t.Context()); err != nil {
		t.Error(err)
	}

	busy := baresiptest.Answer(t, "uas_busy.xml")
	n := len(sigs)
	if err := src.Dial(t.Context(), "", "sip:202@"+busy.Addr); err != nil {
		t.Fatal(err)
	}
	sigs = rec.WaitFor(t, 15*time.Second, func(s []call.Signal) bool { return has(s[n:], call.SigEnded, "") })
	if got, want := kinds(sigs[n:]), []string{"dialing@200", "ended@200", "ended@"}; !slices.Equal(got, want) {
		t.Errorf("busy: signals %v, want %v", got, want)
	}
	if c := sigs[len(sigs)-1].Cause; c != call.CauseBusy {
		t.Errorf("busy: cause %q", c)
	}

	// 480 Temporarily Unavailable is no answer, as Q.850 18 is in every other connector.
	away := baresiptest.Answer(t, "uas_480.xml")
	n = len(sigs)
	if err := src.Dial(t.Context(), "", "sip:203@"+away.Addr); err != nil {
		t.Fatal(err)
	}
	sigs = rec.WaitFor(t, 15*time.Second, func(s []call.Signal) bool { return has(s[n:], call.SigEnded, "") })
	for _, s := range sigs[n:] {
		if s.Kind == call.SigEnded && s.Cause != call.CauseNoAnswer {
			t.Errorf("480: %s@%s cause %q, want %q", s.Kind, s.Extension, s.Cause, call.CauseNoAnswer)
		}
	}
}
