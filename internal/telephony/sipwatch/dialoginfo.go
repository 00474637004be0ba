package sipwatch

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// nsDialogInfo is the namespace of application/dialog-info+xml (RFC 4235).
const nsDialogInfo = "urn:ietf:params:xml:ns:dialog-info"

// Limits on what one document may hold; a NOTIFY body is bounded before parsing too.
const (
	maxDialogs   = 1024 // dialogs in one document
	maxFieldSize = 2048 // bytes kept of an attribute or text field
)

var errMalformed = errors.New("sipwatch: malformed dialog-info")

// dialogInfo is one parsed dialog-info document.
type dialogInfo struct {
	Version uint64
	Full    bool // state="full"; else partial
	Entity  string
	Dialogs []dialog
}

// dialog is one <dialog> element: one leg on the watched extension.
type dialog struct {
	ID        string
	CallID    string
	Direction string // initiator | recipient | ""
	State     string // trying | proceeding | early | confirmed | terminated
	Event     string // with terminated: cancelled, rejected, replaced, local-bye, remote-bye, error, timeout
	Code      int    // with terminated: the SIP response code, when given
	Remote    participant
	Local     participant
}

// participant is a <local> or <remote> element.
type participant struct {
	Identity        string // URI
	IdentityDisplay string
	Target          string // URI
	TargetDisplay   string
}

// The XML shape, decoded with encoding/xml: it reads no DTD and expands no entity beyond
// the five predefined ones, so entity-expansion attacks fail as undefined entities.
type xDialogInfo struct {
	XMLName xml.Name  `xml:"urn:ietf:params:xml:ns:dialog-info dialog-info"`
	Version string    `xml:"version,attr"`
	State   string    `xml:"state,attr"`
	Entity  string    `xml:"entity,attr"`
	Dialogs []xDialog `xml:"urn:ietf:params:xml:ns:dialog-info dialog"`
}

type xDialog struct {
	ID        string `xml:"id,attr"`
	CallID    string `xml:"call-id,attr"`
	Direction string `xml:"direction,attr"`
	State     struct {
		Value string `xml:",chardata"`
		Event string `xml:"event,attr"`
		Code  string `xml:"code,attr"`
	} `xml:"urn:ietf:params:xml:ns:dialog-info state"`
	Local  xParticipant `xml:"urn:ietf:params:xml:ns:dialog-info local"`
	Remote xParticipant `xml:"urn:ietf:params:xml:ns:dialog-info remote"`
}

type xParticipant struct {
	Identity struct {
		Display string `xml:"display,attr"`
		URI     string `xml:",chardata"`
	} `xml:"urn:ietf:params:xml:ns:dialog-info identity"`
	Target struct {
		Display string `xml:"display,attr"`
		URI     string `xml:"uri,attr"`
	} `xml:"urn:ietf:params:xml:ns:dialog-info target"`
}

// parseDialogInfo parses an application/dialog-info+xml document. An empty body (the first
// NOTIFY when nothing is going on) is a document without version and dialogs: callers
// check for it before.
func parseDialogInfo(body []byte) (dialogInfo, error) {
	if !utf8.Valid(body) {
		return dialogInfo{}, fmt.Errorf("%w: invalid UTF-8", errMalformed)
	}
	if err := precheck(body); err != nil {
		return dialogInfo{}, err
	}
	var x xDialogInfo
	d := xml.NewDecoder(bytes.NewReader(body))
	d.CharsetReader = func(charset string, r io.Reader) (io.Reader, error) {
		switch strings.ToLower(charset) {
		case "utf-8", "utf8", "us-ascii", "ascii":
			return r, nil
		}
		return nil, fmt.Errorf("charset %q", charset)
	}
	if err := d.Decode(&x); err != nil {
		return dialogInfo{}, fmt.Errorf("%w: %w", errMalformed, err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(x.Version), 10, 64)
	if err != nil {
		return dialogInfo{}, fmt.Errorf("%w: version %q", errMalformed, clip(x.Version, 32))
	}
	out := dialogInfo{Version: v, Entity: clip(strings.TrimSpace(x.Entity), maxFieldSize)}
	switch strings.TrimSpace(x.State) {
	case "full":
		out.Full = true
	case "partial":
	default:
		return dialogInfo{}, fmt.Errorf("%w: state %q", errMalformed, clip(x.State, 32))
	}
	if len(x.Dialogs) > maxDialogs {
		return dialogInfo{}, fmt.Errorf("%w: %d dialogs", errMalformed, len(x.Dialogs))
	}
	for _, xd := range x.Dialogs {
		dl := dialog{
			ID:        clip(strings.TrimSpace(xd.ID), maxFieldSize),
			CallID:    clip(strings.TrimSpace(xd.CallID), maxFieldSize),
			Direction: strings.ToLower(strings.TrimSpace(xd.Direction)),
			State:     strings.ToLower(strings.TrimSpace(xd.State.Value)), // Kamailio says "Trying"
			Event:     strings.ToLower(clip(strings.TrimSpace(xd.State.Event), 64)),
			Remote:    xd.Remote.clean(),
			Local:     xd.Local.clean(),
		}
		if dl.ID == "" {
			return dialogInfo{}, fmt.Errorf("%w: dialog without id", errMalformed)
		}
		switch dl.State {
		case "trying", "proceeding", "early", "confirmed", "terminated":
		default:
			return dialogInfo{}, fmt.Errorf("%w: dialog state %q", errMalformed, clip(dl.State, 32))
		}
		switch dl.Direction {
		case "initiator", "recipient", "":
		default:
			dl.Direction = ""
		}
		if c, err := strconv.Atoi(strings.TrimSpace(xd.State.Code)); err == nil && c >= 100 && c < 700 {
			dl.Code = c
		}
		out.Dialogs = append(out.Dialogs, dl)
	}
	return out, nil
}

// precheck refuses a DTD: a dialog-info document never has one, and although
// encoding/xml expands no declared entity, a document that declares some is hostile.
// (encoding/xml bounds nesting itself, and the body is bounded before parsing.)
func precheck(body []byte) error {
	if bytes.Contains(body, []byte("<!DOCTYPE")) || bytes.Contains(body, []byte("<!ENTITY")) {
		return fmt.Errorf("%w: DTD not allowed", errMalformed)
	}
	return nil
}

func (p xParticipant) clean() participant {
	return participant{
		Identity:        clip(strings.TrimSpace(p.Identity.URI), maxFieldSize),
		IdentityDisplay: clip(strings.TrimSpace(p.Identity.Display), maxFieldSize),
		Target:          clip(strings.TrimSpace(p.Target.URI), maxFieldSize),
		TargetDisplay:   clip(strings.TrimSpace(p.Target.Display), maxFieldSize),
	}
}

// clip cuts s to at most n bytes on a rune boundary and makes it valid UTF-8.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// uriUser returns the number part of a SIP, SIPS or tel URI ("sip:+4930123@host;x" →
// "+4930123"), or "" when there is none. For a URI in angle brackets, the inside counts.
func uriUser(uri string) string {
	if i := strings.IndexByte(uri, '<'); i >= 0 {
		if j := strings.IndexByte(uri[i:], '>'); j > 0 {
			uri = uri[i+1 : i+j]
		}
	}
	lower := strings.ToLower(uri)
	switch {
	case strings.HasPrefix(lower, "tel:"):
		u := uri[4:]
		if i := strings.IndexByte(u, ';'); i >= 0 {
			u = u[:i]
		}
		return u
	case strings.HasPrefix(lower, "sip:"), strings.HasPrefix(lower, "sips:"):
		u := uri[strings.IndexByte(uri, ':')+1:]
		at := strings.IndexByte(u, '@')
		if at < 0 {
			return ""
		}
		u = u[:at]
		if i := strings.IndexByte(u, ';'); i >= 0 { // user parameters
			u = u[:i]
		}
		if i := strings.IndexByte(u, ':'); i >= 0 { // user:password
			u = u[:i]
		}
		return unescapeURI(u)
	}
	return ""
}

// unescapeURI decodes %XX escapes of a URI user part; a broken escape leaves it as is.
func unescapeURI(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}
