// Package webhook is the telephony source fed over HTTP: Ringside's native JSON events and
// the form-encoded newCall / answer / hangup dialect of cloud PBXs.
package webhook

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony"
)

//go:embed sample.yaml
var sample string

// Sample returns the sample configuration (also in the README).
func Sample() string { return sample }

// Config is a webhook source's section of ringside.yaml.
type Config struct {
	// MaxBodyBytes refuses larger bodies with 413. Default 65536.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

// A Resolver maps a name the phone system used (a user name or an extension) to the
// extension and user of a Ringside agent. ok is false when nobody matches.
type Resolver func(nameOrExtension string) (extension, user string, ok bool)

// Source receives events over HTTP. It is an http.Handler; Run only waits.
type Source struct {
	name    string
	cfg     Config
	log     *slog.Logger
	resolve Resolver
	emit    atomic.Pointer[func(call.Signal)]
	now     func() time.Time
}

// New validates cfg. resolve may be nil (names are then taken as extensions).
func New(name string, cfg Config, resolve Resolver, log *slog.Logger) (*Source, error) {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.MaxBodyBytes < 1024 {
		return nil, fmt.Errorf("webhook: max_body_bytes must be at least 1024, not %d", cfg.MaxBodyBytes)
	}
	if resolve == nil {
		resolve = func(s string) (string, string, bool) { return s, "", s != "" }
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{name: name, cfg: cfg, log: log, resolve: resolve, now: time.Now}, nil
}

// Run makes the source live until ctx ends: requests before Run or after it get 503.
func (s *Source) Run(ctx context.Context, emit func(call.Signal)) error {
	s.emit.Store(&emit)
	<-ctx.Done()
	s.emit.Store(nil)
	return nil
}

// State reports whether the source takes requests (telephony.Stater): up while Run
// runs, else down: not running.
func (s *Source) State() (string, string) {
	if s.emit.Load() == nil {
		return telephony.StateDown, "not running"
	}
	return telephony.StateUp, ""
}

// A BadRequest is an event Ringside cannot accept; its message names the field.
type BadRequest struct{ Msg string }

func (e *BadRequest) Error() string { return e.Msg }

func bad(format string, args ...any) error { return &BadRequest{Msg: fmt.Sprintf(format, args...)} }

// ServeHTTP takes one event.
func (s *Source) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		httpError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	emitp := s.emit.Load()
	if emitp == nil {
		httpError(w, http.StatusServiceUnavailable, "the webhook source is not running")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", s.cfg.MaxBodyBytes))
			return
		}
		httpError(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var sigs []call.Signal
	switch ct {
	case "application/json", "":
		if ct == "" && len(body) > 0 && body[0] != '{' {
			sigs, err = s.DecodeForm(body)
			break
		}
		var sig call.Signal
		sig, err = s.DecodeJSON(body)
		sigs = []call.Signal{sig}
	case "application/x-www-form-urlencoded":
		sigs, err = s.DecodeForm(body)
	default:
		err = bad("Content-Type %q: send application/json or application/x-www-form-urlencoded", ct)
	}
	if err != nil {
		var br *BadRequest
		if errors.As(err, &br) {
			httpError(w, http.StatusBadRequest, br.Msg)
			return
		}
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	for _, sig := range sigs {
		(*emitp)(sig)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, `{"accepted":%d}`+"\n", len(sigs))
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	b, _ := json.Marshal(map[string]string{"error": msg})
	w.Write(append(b, '\n'))
}

// nativeEvent is the native JSON body.
type nativeEvent struct {
	Event      *string `json:"event"`
	CallID     *string `json:"call_id"`
	Direction  string  `json:"direction"`
	From       string  `json:"from"`
	FromName   string  `json:"from_name"`
	To         string  `json:"to"`
	Extension  string  `json:"extension"`
	User       string  `json:"user"`
	TransferTo string  `json:"transfer_to"`
	Cause      string  `json:"cause"`
	Time       string  `json:"time"`
}

const maxField = 16 << 10

// DecodeJSON reads a native JSON event.
func (s *Source) DecodeJSON(body []byte) (call.Signal, error) {
	var e nativeEvent
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return call.Signal{}, bad("field %q: expected a %s", ute.Field, ute.Type)
		}
		if strings.HasPrefix(err.Error(), "json: unknown field ") {
			return call.Signal{}, bad("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		return call.Signal{}, bad("malformed JSON: %v", err)
	}
	if dec.More() {
		return call.Signal{}, bad("malformed JSON: one event object per request")
	}
	if e.Event == nil || *e.Event == "" {
		return call.Signal{}, bad(`field "event" is required (ringing, dialing, answered, ended, transferred)`)
	}
	if e.CallID == nil || strings.TrimSpace(*e.CallID) == "" {
		return call.Signal{}, bad(`field "call_id" is required`)
	}
	sig := call.Signal{Source: s.name, CallID: *e.CallID, Cause: e.Cause, TransferTo: e.TransferTo, User: e.User}
	if err := checkText("call_id", sig.CallID, 256); err != nil {
		return call.Signal{}, err
	}
	for _, f := range [][2]string{{"from", e.From}, {"from_name", e.FromName}, {"to", e.To}, {"extension", e.Extension}, {"user", e.User}, {"transfer_to", e.TransferTo}, {"cause", e.Cause}} {
		if len(f[1]) > maxField {
			return call.Signal{}, bad("field %q is longer than %d bytes", f[0], maxField)
		}
	}
	switch *e.Event {
	case "ringing":
		sig.Kind = call.SigRinging
	case "dialing":
		sig.Kind = call.SigDialing
	case "answered":
		sig.Kind = call.SigAnswered
	case "ended":
		sig.Kind = call.SigEnded
	case "transferred":
		sig.Kind = call.SigTransferred
		if e.TransferTo == "" {
			return call.Signal{}, bad(`field "transfer_to" is required with event "transferred"`)
		}
	default:
		return call.Signal{}, bad(`field "event": %q is not ringing, dialing, answered, ended or transferred`, call.Sanitize(*e.Event, 64))
	}
	switch e.Direction {
	case "":
	case "inbound", "in":
		sig.Direction = call.Inbound
	case "outbound", "out":
		sig.Direction = call.Outbound
	case "internal":
		sig.Direction = call.Internal
	default:
		return call.Signal{}, bad(`field "direction": %q is not inbound, outbound or internal`, call.Sanitize(e.Direction, 64))
	}
	if (sig.Kind == call.SigRinging || sig.Kind == call.SigDialing) && e.Extension == "" && e.User == "" {
		return call.Signal{}, bad(`field "extension" is required with event %q`, *e.Event)
	}
	if sig.Kind == call.SigDialing || sig.Direction == call.Outbound {
		sig.Remote = call.Party{Number: e.To}
		if sig.Direction == call.Unknown {
			sig.Direction = call.Outbound
		}
	} else {
		sig.Remote = call.Party{Number: e.From, Name: e.FromName}
		sig.DID = e.To
	}
	sig.Extension = e.Extension
	if e.User != "" {
		ext, user, ok := s.resolve(e.User)
		if !ok {
			return call.Signal{}, bad(`field "user": no Ringside user or extension %q`, call.Sanitize(e.User, 64))
		}
		sig.User = user
		if sig.Extension == "" {
			sig.Extension = ext
		}
	}
	if e.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, e.Time)
		if err != nil {
			return call.Signal{}, bad(`field "time": %q is not an RFC 3339 time`, call.Sanitize(e.Time, 64))
		}
		sig.Time = t
	}
	return sig, nil
}

func checkText(field, v string, max int) error {
	if len(v) > max {
		return bad("field %q is longer than %d bytes", field, max)
	}
	if !utf8.ValidString(v) {
		return bad("field %q is not valid UTF-8", field)
	}
	return nil
}

// DecodeForm reads the cloud PBX dialect. newCall for a ring group gives one signal per
// ringing user.
func (s *Source) DecodeForm(body []byte) ([]call.Signal, error) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, bad("malformed form body: %v", err)
	}
	for k, vs := range v {
		for _, x := range vs {
			if len(x) > maxField {
				return nil, bad("field %q is longer than %d bytes", call.Sanitize(k, 64), maxField)
			}
		}
	}
	event := v.Get("event")
	id := v.Get("callId")
	if event == "" {
		return nil, bad(`field "event" is required (newCall, answer, hangup)`)
	}
	if strings.TrimSpace(id) == "" {
		return nil, bad(`field "callId" is required`)
	}
	if err := checkText("callId", id, 256); err != nil {
		return nil, err
	}
	dir := call.Unknown
	switch v.Get("direction") {
	case "in":
		dir = call.Inbound
	case "out":
		dir = call.Outbound
	case "":
	default:
		return nil, bad(`field "direction": %q is not in or out`, call.Sanitize(v.Get("direction"), 64))
	}
	base := call.Signal{Source: s.name, CallID: id, Direction: dir}
	if dir == call.Outbound {
		base.Remote = call.Party{Number: v.Get("to")}
	} else {
		base.Remote = call.Party{Number: v.Get("from")}
		base.DID = v.Get("to")
	}
	switch event {
	case "newCall":
		users := v["user[]"]
		if len(users) == 0 {
			users = v["user"]
		}
		if len(users) == 0 {
			return nil, bad(`field "user[]" is required with event newCall: which users' phones ring`)
		}
		var out []call.Signal
		for _, u := range users {
			ext, user, ok := s.resolve(u)
			if !ok {
				s.log.Debug("webhook user not known", "user", call.Sanitize(u, 64))
				continue
			}
			sig := base
			sig.Kind = call.SigRinging
			if dir == call.Outbound {
				sig.Kind = call.SigDialing
			}
			sig.Extension, sig.User = ext, user
			out = append(out, sig)
		}
		if len(out) == 0 {
			return nil, bad(`field "user[]": none of %q is a Ringside user or extension`, call.Sanitize(strings.Join(users, ", "), 256))
		}
		return out, nil
	case "answer":
		sig := base
		sig.Kind = call.SigAnswered
		who := v.Get("user")
		if who == "" {
			who = v.Get("answeringNumber")
		}
		if who != "" {
			if ext, user, ok := s.resolve(who); ok {
				sig.Extension, sig.User = ext, user
			}
		}
		if sig.Extension == "" && dir != call.Outbound {
			return nil, bad(`field "user" or "answeringNumber" must name who answered`)
		}
		return []call.Signal{sig}, nil
	case "hangup":
		sig := base
		sig.Kind = call.SigEnded
		switch c := v.Get("cause"); c {
		case "", "normalClearing", "forwarded":
			sig.Cause = call.CauseNormal
		case "busy":
			sig.Cause = call.CauseBusy
		case "cancel":
			sig.Cause = call.CauseCancelled
		case "noAnswer":
			sig.Cause = call.CauseNoAnswer
		case "congestion", "notFound":
			sig.Cause = call.CauseFailed
		default:
			sig.Cause = call.Sanitize(c, 64)
		}
		return []call.Signal{sig}, nil
	}
	return nil, bad(`field "event": %q is not newCall, answer or hangup`, call.Sanitize(event, 64))
}

var (
	_ telephony.Source = (*Source)(nil)
	_ telephony.Stater = (*Source)(nil)
	_ http.Handler     = (*Source)(nil)
)
