package esl

import (
	"bytes"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// Fields of an event the connector reads. Everything else is skipped unread.
const (
	fEventName = iota
	fTimestamp
	fUniqueID
	fOtherLeg
	fChannelCallUUID
	fVarCallUUID
	fCallDirection
	fChannelName
	fCallerNumber
	fCallerName
	fDestination
	fHangupCause
	fOriginateDisposition
	fDialStatus
	fBridgeA
	fBridgeB
	fDialID
	fJobUUID
	fDialedUser
	fGateway
	fOtherLoopback
	fBody
	nFields
)

// fieldOf maps a header name to the field it fills, or -1.
func fieldOf(k []byte) int {
	switch string(k) {
	case "Event-Name":
		return fEventName
	case "Event-Date-Timestamp":
		return fTimestamp
	case "Unique-ID":
		return fUniqueID
	case "Other-Leg-Unique-ID":
		return fOtherLeg
	case "Channel-Call-UUID":
		return fChannelCallUUID
	case "variable_call_uuid":
		return fVarCallUUID
	case "Call-Direction":
		return fCallDirection
	case "Channel-Name":
		return fChannelName
	case "Caller-Caller-ID-Number":
		return fCallerNumber
	case "Caller-Caller-ID-Name":
		return fCallerName
	case "Caller-Destination-Number":
		return fDestination
	case "Hangup-Cause":
		return fHangupCause
	case "variable_originate_disposition":
		return fOriginateDisposition
	case "variable_DIALSTATUS":
		return fDialStatus
	case "Bridge-A-Unique-ID":
		return fBridgeA
	case "Bridge-B-Unique-ID":
		return fBridgeB
	case "variable_ringside_dial_id":
		return fDialID
	case "Job-UUID":
		return fJobUUID
	case "variable_dialed_user":
		return fDialedUser
	case "variable_sip_gateway_name":
		return fGateway
	case "variable_other_loopback_leg_uuid":
		return fOtherLoopback
	case "_body":
		return fBody
	}
	return -1
}

// An event holds the fields of one FreeSWITCH event that correlation needs, as byte slices
// into the frame body or into the event's scratch buffer: valid until the next decode.
type event struct {
	f       [nFields][]byte
	scratch []byte
}

func (e *event) get(i int) []byte { return e.f[i] }
func (e *event) str(i int) string { return string(e.f[i]) }

func (e *event) reset(n int) {
	e.f = [nFields][]byte{}
	if cap(e.scratch) < n {
		// Decoded values are never longer than their encoded form, so one buffer of the
		// body's size never reallocates and slices into it stay valid.
		e.scratch = make([]byte, 0, max(n, 8<<10))
	}
	e.scratch = e.scratch[:0]
}

// decodePlain reads a text/event-plain body: "Name: value" lines with URL-encoded values,
// an empty line, and for BACKGROUND_JOB the job result as a nested body. Repeated headers:
// the last one wins.
func decodePlain(body []byte, e *event) error {
	e.reset(len(body))
	rest := body
	for len(rest) > 0 {
		var line []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			line, rest = rest, nil
		}
		if len(line) == 0 {
			// Nested body (BACKGROUND_JOB): the job's output, not URL-encoded.
			e.f[fBody] = rest
			break
		}
		c := bytes.IndexByte(line, ':')
		if c <= 0 {
			return fmt.Errorf("event header without colon: %w", errFrame)
		}
		fi := fieldOf(line[:c])
		if fi < 0 {
			continue
		}
		v := line[c+1:]
		if len(v) > 0 && v[0] == ' ' {
			v = v[1:]
		}
		if bytes.IndexByte(v, '%') >= 0 {
			v = e.unescapeURL(v)
		}
		e.f[fi] = v
	}
	if len(e.f[fEventName]) == 0 {
		return fmt.Errorf("event without Event-Name: %w", errFrame)
	}
	return nil
}

// unescapeURL percent-decodes v into the scratch buffer. "+" stays "+"; a malformed escape
// is kept literally.
func (e *event) unescapeURL(v []byte) []byte {
	start := len(e.scratch)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '%' && i+2 < len(v) {
			h, ok1 := unhex(v[i+1])
			l, ok2 := unhex(v[i+2])
			if ok1 && ok2 {
				e.scratch = append(e.scratch, h<<4|l)
				i += 2
				continue
			}
		}
		e.scratch = append(e.scratch, c)
	}
	return e.scratch[start:len(e.scratch):len(e.scratch)]
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// decodeJSON reads a text/event-json body: one JSON object whose values are strings, or
// arrays of strings for multi-valued variables. Only wanted keys are decoded; other values
// are skipped whatever their shape. Duplicate keys: the last one wins.
func decodeJSON(body []byte, e *event) error {
	e.reset(len(body))
	s := jsonScanner{b: body}
	s.ws()
	if !s.eat('{') {
		return fmt.Errorf("event is not a JSON object: %w", errFrame)
	}
	s.ws()
	if s.eat('}') {
		return fmt.Errorf("event without Event-Name: %w", errFrame)
	}
	for {
		s.ws()
		key, err := s.str(e)
		if err != nil {
			return err
		}
		s.ws()
		if !s.eat(':') {
			return fmt.Errorf("json: missing colon at %d: %w", s.i, errFrame)
		}
		s.ws()
		fi := fieldOf(key)
		if fi >= 0 && s.peek() == '"' {
			v, err := s.str(e)
			if err != nil {
				return err
			}
			e.f[fi] = v
		} else {
			if fi >= 0 {
				e.f[fi] = nil // the last duplicate wins, even when it is not a string
			}
			if err := s.skip(); err != nil {
				return err
			}
		}
		s.ws()
		if s.eat(',') {
			continue
		}
		if s.eat('}') {
			break
		}
		return fmt.Errorf("json: expected , or } at %d: %w", s.i, errFrame)
	}
	if len(e.f[fEventName]) == 0 {
		return fmt.Errorf("event without Event-Name: %w", errFrame)
	}
	return nil
}

type jsonScanner struct {
	b []byte
	i int
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *jsonScanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str reads a JSON string; the result points into the body when it has no escapes and into
// e's scratch buffer otherwise.
func (s *jsonScanner) str(e *event) ([]byte, error) {
	if !s.eat('"') {
		return nil, fmt.Errorf("json: expected string at %d: %w", s.i, errFrame)
	}
	// Most strings are short and plain: one pass looking for the quote or a backslash.
	rest := s.b[s.i:]
	for j, c := range rest {
		if c == '"' {
			s.i += j + 1
			return rest[:j], nil
		}
		if c == '\\' {
			break
		}
	}
	start := len(e.scratch)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return e.scratch[start:len(e.scratch):len(e.scratch)], nil
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return nil, fmt.Errorf("json: bad escape: %w", errFrame)
			}
			s.i += 2
			switch s.b[s.i-1] {
			case '"', '\\', '/':
				e.scratch = append(e.scratch, s.b[s.i-1])
			case 'b':
				e.scratch = append(e.scratch, '\b')
			case 'f':
				e.scratch = append(e.scratch, '\f')
			case 'n':
				e.scratch = append(e.scratch, '\n')
			case 'r':
				e.scratch = append(e.scratch, '\r')
			case 't':
				e.scratch = append(e.scratch, '\t')
			case 'u':
				r, ok := s.hex4()
				if !ok {
					return nil, fmt.Errorf("json: bad \\u escape: %w", errFrame)
				}
				if utf16.IsSurrogate(r) {
					r2 := utf8.RuneError
					if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
						save := s.i
						s.i += 2
						if lo, ok := s.hex4(); ok {
							r2 = utf16.DecodeRune(r, lo)
						} else {
							s.i = save
						}
					}
					r = r2
				}
				// \uXXXX is 6 bytes and encodes to at most 3 (a pair: 12 → 4), so the
				// scratch buffer sized to the body never grows.
				e.scratch = utf8.AppendRune(e.scratch, r)
			default:
				return nil, fmt.Errorf("json: bad escape: %w", errFrame)
			}
		default:
			e.scratch = append(e.scratch, c)
			s.i++
		}
	}
	return nil, fmt.Errorf("json: unterminated string: %w", errFrame)
}

func (s *jsonScanner) hex4() (rune, bool) {
	if s.i+4 > len(s.b) {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		h, ok := unhex(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(h)
	}
	s.i += 4
	return r, true
}

// skip passes over one JSON value of any shape without decoding it.
func (s *jsonScanner) skip() error {
	depth := 0
	for {
		s.ws()
		if s.i >= len(s.b) {
			return fmt.Errorf("json: unexpected end: %w", errFrame)
		}
		switch c := s.b[s.i]; c {
		case '"':
			if err := s.skipString(); err != nil {
				return err
			}
		case '{', '[':
			depth++
			if depth > 64 {
				return fmt.Errorf("json: nested too deep: %w", errFrame)
			}
			s.i++
			continue
		case '}', ']':
			if depth == 0 {
				return fmt.Errorf("json: unexpected %q at %d: %w", c, s.i, errFrame)
			}
			depth--
			s.i++
		case ',', ':':
			if depth == 0 {
				return fmt.Errorf("json: unexpected %q at %d: %w", c, s.i, errFrame)
			}
			s.i++
			continue
		default:
			// number, true, false, null: up to the next delimiter
			j := s.i
			for j < len(s.b) {
				d := s.b[j]
				if d == ',' || d == '}' || d == ']' || d == ':' || d == ' ' || d == '\n' || d == '\t' || d == '\r' || d == '"' || d == '{' || d == '[' {
					break
				}
				j++
			}
			if j == s.i {
				return fmt.Errorf("json: unexpected byte at %d: %w", s.i, errFrame)
			}
			s.i = j
		}
		if depth == 0 {
			return nil
		}
	}
}

func (s *jsonScanner) skipString() error {
	i := s.i + 1
	// Short strings: a byte loop; long ones (SDP, dial strings): IndexByte, which is
	// vectorised, then check that the quote is not escaped.
	for end := min(i+24, len(s.b)); i < end; i++ {
		switch s.b[i] {
		case '"':
			s.i = i + 1
			return nil
		case '\\':
			i++
		}
	}
	for i < len(s.b) {
		q := bytes.IndexByte(s.b[i:], '"')
		if q < 0 {
			break
		}
		end := i + q
		n := 0
		for k := end - 1; k > s.i && s.b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			s.i = end + 1
			return nil
		}
		i = end + 1
	}
	return fmt.Errorf("json: unterminated string: %w", errFrame)
}
