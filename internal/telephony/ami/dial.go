package ami

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ringside/ringside/internal/call"
	telcause "github.com/ringside/ringside/internal/telephony/cause"
)

// Why a click-to-dial failed, for errors.Is.
var (
	ErrBusy         = errors.New("busy")
	ErrNoAnswer     = errors.New("did not answer")
	ErrOffline      = errors.New("is offline")
	ErrNotConnected = errors.New("ami: not connected to Asterisk")
)

// DialError says, in the user's words, why the phone on Extension could not place the call.
type DialError struct {
	Extension string
	Err       error // ErrBusy, ErrNoAnswer, ErrOffline, or another reason
}

func (e *DialError) Error() string {
	switch e.Err {
	case ErrBusy:
		return "extension " + e.Extension + " is busy"
	case ErrNoAnswer:
		return "extension " + e.Extension + " did not answer"
	case ErrOffline:
		return "extension " + e.Extension + " is offline"
	}
	return "extension " + e.Extension + " could not be called: " + e.Err.Error()
}

func (e *DialError) Unwrap() error { return e.Err }

// dialWait follows one Originate: the channel it made (by RINGSIDE_DIAL_ID, or by the
// extension on Originate's own dial leg), how that channel ended, and the
// OriginateResponse.
type dialWait struct {
	ext    string
	uid    string
	status string // DialEnd status of the phone's channel
	cause  string // its hangup cause
	once   sync.Once
	done   chan struct{}
	result string // OriginateResponse Response ("" when the connection went)
	reason string // its Reason
}

func (dw *dialWait) finish(result, reason string) {
	dw.once.Do(func() {
		dw.result, dw.reason = result, reason
		close(dw.done)
	})
}

// watch sees every event of the session (from the reader) and notes what happens to the
// channels of pending Originates.
func (ss *session) watch(m *Message) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.dials) == 0 {
		return
	}
	switch string(m.Event()) {
	case "VarSet":
		if string(m.Bytes("Variable")) == "RINGSIDE_DIAL_ID" {
			if dw := ss.dials[string(m.Bytes("Value"))]; dw != nil {
				dw.uid = string(m.Bytes("Uniqueid"))
			}
		}
	case "DialBegin":
		// Originate's own leg has no Channel; without dialplan events it is how we find ours.
		if m.Has("Channel") {
			return
		}
		uid := string(m.Bytes("DestUniqueid"))
		for _, dw := range ss.dials {
			if dw.uid == "" && extOf(m.Bytes("DestChannel")) == dw.ext {
				dw.uid = uid
				return
			}
		}
	case "DialEnd":
		uid := string(m.Bytes("DestUniqueid"))
		for _, dw := range ss.dials {
			if dw.uid != "" && dw.uid == uid {
				dw.status = string(m.Bytes("DialStatus"))
			}
		}
	case "Hangup":
		uid := string(m.Bytes("Uniqueid"))
		for _, dw := range ss.dials {
			if dw.uid != "" && dw.uid == uid {
				dw.cause = string(m.Bytes("Cause"))
			}
		}
	}
}

// extOf is the extension part of a channel name (PJSIP/200-00000012 → 200).
func extOf(name []byte) string {
	s := string(name)
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	if i := strings.IndexAny(s, "-@;/"); i >= 0 {
		s = s[:i]
	}
	return s
}

func (ss *session) originateResponse(m *Message) {
	ss.mu.Lock()
	dw := ss.dials[string(m.Bytes("ActionID"))]
	ss.mu.Unlock()
	if dw != nil {
		dw.finish(string(m.Bytes("Response")), string(m.Bytes("Reason")))
	}
}

// Dial makes the phone on extension ring and, once it is answered, call number. It returns
// when the phone answered (Asterisk dials the number next), or an error: a *DialError in
// the user's words when the phone was busy, did not answer or is offline.
func (src *Source) Dial(ctx context.Context, extension, number string) error {
	if !validExtension(extension) {
		return fmt.Errorf("ami: dial: %q is not an extension", extension)
	}
	num, ok := dialable(number)
	if !ok {
		return fmt.Errorf("ami: dial: %q is not a phone number", number)
	}
	src.mu.Lock()
	ss := src.cur
	src.mu.Unlock()
	if ss == nil {
		return ErrNotConnected
	}
	id := "ringside-dial-" + strconv.FormatUint(src.seq.Add(1), 10)
	o := src.s.Originate
	repl := strings.NewReplacer("{extension}", extension, "{number}", num)
	action := "Action: Originate\r\nActionID: " + id +
		"\r\nChannel: " + repl.Replace(o.Channel) +
		"\r\nContext: " + o.Context +
		"\r\nExten: " + num +
		"\r\nPriority: 1\r\nCallerID: " + repl.Replace(o.CallerID) +
		"\r\nTimeout: " + strconv.FormatInt(o.Timeout.Milliseconds(), 10) +
		"\r\nAsync: true\r\nVariable: RINGSIDE_DIAL_ID=" + id + "\r\n\r\n"
	dw := &dialWait{ext: extension, done: make(chan struct{})}
	ss.mu.Lock()
	ss.dials[id] = dw
	ss.mu.Unlock()
	defer func() {
		ss.mu.Lock()
		delete(ss.dials, id)
		ss.mu.Unlock()
	}()
	resp, err := ss.request(id, action)
	if err != nil {
		return fmt.Errorf("ami: originate: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout+15*time.Second)
	defer cancel()
	select {
	case r, ok := <-resp:
		if !ok {
			return fmt.Errorf("ami: originate: %w", ErrNotConnected)
		}
		if r.response != "Success" {
			msg := clean(r.message, 200)
			if strings.Contains(strings.ToLower(msg), "permission denied") {
				return fmt.Errorf("ami: originate: permission denied (the AMI user needs write=originate)")
			}
			return fmt.Errorf("ami: originate: %s", msg)
		}
	case <-ctx.Done():
		ss.forget(id)
		return fmt.Errorf("ami: originate: %w", ctx.Err())
	}
	select {
	case <-dw.done:
	case <-ctx.Done():
		return fmt.Errorf("ami: originate: waiting for the phone: %w", ctx.Err())
	}
	ss.mu.Lock()
	result, reason, status, cause := dw.result, dw.reason, dw.status, dw.cause
	ss.mu.Unlock()
	switch {
	case result == "Success":
		return nil
	case result == "":
		return fmt.Errorf("ami: originate: %w", ErrNotConnected)
	}
	return &DialError{Extension: extension, Err: dialFailure(reason, status, cause)}
}

// dialFailure decides why an Originate failed. Asterisk often says Reason 0 (failure)
// for a busy phone: the phone channel's DialEnd status and hangup cause say more.
func dialFailure(reason, status, cause string) error {
	code, _ := strconv.Atoi(cause)
	c := telcause.Q850(code)
	switch {
	case status == "BUSY" || c == call.CauseBusy || reason == "5":
		return ErrBusy
	case status == "NOANSWER" || c == call.CauseNoAnswer || reason == "3":
		return ErrNoAnswer
	case status == "CHANUNAVAIL" || status == "CONGESTION" || c == call.CauseFailed || reason == "8" || reason == "0":
		return ErrOffline
	case reason == "1":
		return errors.New("the phone hung up")
	}
	return fmt.Errorf("Asterisk reason %s", clean(reason, 20))
}

func validExtension(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '*' || c == '#' || c == '+' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// dialable strips the punctuation people write numbers with and keeps what a dialplan
// can dial: digits, a leading +, * and #.
func dialable(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c == '*', c == '#':
			b.WriteByte(c)
		case c == '+' && b.Len() == 0:
			b.WriteByte(c)
		case c == ' ' || c == '-' || c == '(' || c == ')' || c == '/' || c == '.':
		default:
			return "", false
		}
	}
	out := b.String()
	if len(out) == 0 || len(out) > 32 || out == "+" {
		return "", false
	}
	return out, true
}
