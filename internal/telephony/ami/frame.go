package ami

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"unicode/utf8"
)

// Errors of the frame decoder. Both leave the stream in an unknown state: the connection
// is reset.
var (
	ErrLineTooLong  = errors.New("ami: line longer than max_line_bytes")
	ErrFrameTooLong = errors.New("ami: message longer than max_frame_bytes")
)

// foldMaxLines and foldMaxBytes bound how much a caller ID number may have smuggled in
// before the decoder gives up folding and reads the lines as they come.
const (
	foldMaxLines = 16
	foldMaxBytes = 2048
)

// field is one header: offsets into Message.raw.
type field struct{ ks, ke, vs, ve int32 }

// A Message is one AMI message (an event, a response, or a list item): its headers in
// order. It is valid until the decoder's next call to Next.
type Message struct {
	raw    []byte
	fields []field
	// ctl is the index of the first header that carries caller-controlled text (caller ID
	// and connected line), -1 if none. Repeated headers before it are Asterisk's own (the
	// first wins); from it on, a repeated header may have been smuggled in by a caller, and
	// the last one (the one Asterisk wrote in its fixed order after the caller's text) wins.
	ctl int
}

// Len returns the number of headers.
func (m *Message) Len() int { return len(m.fields) }

// Header returns the i-th header's key and value.
func (m *Message) Header(i int) (key, value []byte) {
	f := m.fields[i]
	return m.raw[f.ks:f.ke], m.raw[f.vs:f.ve]
}

// Bytes returns the value of key, or nil. See Message.ctl for repeated keys.
func (m *Message) Bytes(key string) []byte {
	found := -1
	for i, f := range m.fields {
		if int(f.ke-f.ks) != len(key) || string(m.raw[f.ks:f.ke]) != key {
			continue
		}
		if m.ctl < 0 || i < m.ctl {
			return m.raw[f.vs:f.ve]
		}
		found = i
	}
	if found < 0 {
		return nil
	}
	f := m.fields[found]
	return m.raw[f.vs:f.ve]
}

// Get returns the value of key as a string, "" if absent.
func (m *Message) Get(key string) string { return string(m.Bytes(key)) }

// Has reports whether the message has key.
func (m *Message) Has(key string) bool {
	for _, f := range m.fields {
		if string(m.raw[f.ks:f.ke]) == key {
			return true
		}
	}
	return false
}

// Event returns the event name ("" for responses). The first header says what a message
// is: an OriginateResponse is an event that also carries a Response header.
func (m *Message) Event() []byte { return m.first("Event") }

// Response returns the response status ("" for events).
func (m *Message) Response() []byte { return m.first("Response") }

func (m *Message) first(key string) []byte {
	if len(m.fields) == 0 {
		return nil
	}
	f := m.fields[0]
	if string(m.raw[f.ks:f.ke]) != key {
		return nil
	}
	return m.raw[f.vs:f.ve]
}

// String renders the message as AMI text (for logs and tests).
func (m *Message) String() string {
	var b bytes.Buffer
	for i := range m.fields {
		k, v := m.Header(i)
		b.Write(k)
		b.WriteString(": ")
		b.Write(v)
		b.WriteString("\r\n")
	}
	return b.String()
}

// A Decoder reads AMI messages from a stream: CRLF-terminated "Key: Value" lines, a blank
// line after each message, and a banner line at the start. Lines end only at CRLF; a bare
// CR or LF stays part of the value.
type Decoder struct {
	r        *bufio.Reader
	maxLine  int
	maxFrame int
	msg      Message
	line     []byte   // a line that needed copying (bare LF inside)
	pending  [][]byte // lines read ahead while folding, to be read again
	fold     [][]byte // lines collected while folding
	banner   string
	started  bool
}

// NewDecoder returns a decoder reading r. Lines longer than maxLine bytes and messages
// longer than maxFrame bytes are errors.
func NewDecoder(r io.Reader, maxLine, maxFrame int) *Decoder {
	if maxLine < 64 {
		maxLine = 64
	}
	if maxFrame < maxLine {
		maxFrame = maxLine
	}
	return &Decoder{r: bufio.NewReaderSize(r, maxLine), maxLine: maxLine, maxFrame: maxFrame,
		msg: Message{raw: make([]byte, 0, 4096), fields: make([]field, 0, 32), ctl: -1}}
}

// Reset makes the decoder read r from the start of a new stream, keeping its buffers.
func (d *Decoder) Reset(r io.Reader) {
	d.r.Reset(r)
	d.pending, d.fold, d.banner, d.started = nil, nil, "", false
}

// Banner returns the greeting line ("Asterisk Call Manager/11.0.0"), once it was read.
func (d *Decoder) Banner() string { return d.banner }

// readLine returns the next line without its CRLF. The slice is valid until the next call.
func (d *Decoder) readLine() ([]byte, error) {
	if n := len(d.pending); n > 0 {
		l := d.pending[0]
		d.pending = d.pending[1:]
		return l, nil
	}
	b, err := d.r.ReadSlice('\n')
	if err == nil && len(b) >= 2 && b[len(b)-2] == '\r' {
		return b[:len(b)-2], nil // the fast path: no copy
	}
	// A bare LF (or an error): collect until CRLF.
	d.line = d.line[:0]
	for {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, ErrLineTooLong
		}
		d.line = append(d.line, b...)
		if len(d.line) > d.maxLine {
			return nil, ErrLineTooLong
		}
		if err != nil {
			if err == io.EOF && len(d.line) > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if n := len(d.line); n >= 2 && d.line[n-2] == '\r' {
			return d.line[:n-2], nil
		}
		b, err = d.r.ReadSlice('\n')
	}
}

// Next returns the next message. At the end of the stream it returns io.EOF, or
// io.ErrUnexpectedEOF when the stream stops inside a message.
func (d *Decoder) Next() (*Message, error) {
	m := &d.msg
	m.raw, m.fields, m.ctl = m.raw[:0], m.fields[:0], -1
	var expect []byte // the header a caller ID number must be followed by
	var expectBuf [64]byte
	for {
		line, err := d.readLine()
		if err != nil {
			if err == io.EOF && len(m.fields) > 0 {
				err = io.ErrUnexpectedEOF
			}
			if len(d.fold) > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if !d.started {
			d.started = true
			if bytes.IndexByte(line, ':') < 0 || bytes.HasPrefix(line, []byte("Asterisk Call Manager/")) {
				d.banner = string(line)
				continue
			}
		}
		if expect != nil {
			// A caller ID number was the last header: until its expected successor shows up,
			// every line (even a blank one) is text the caller smuggled into the number.
			if bytes.HasPrefix(line, expect) && len(line) > len(expect) && line[len(expect)] == ':' {
				d.endFold(m, true)
				expect = nil
				if len(m.raw) > d.maxFrame {
					return nil, ErrFrameTooLong
				}
			} else {
				d.fold = append(d.fold, append([]byte(nil), line...))
				size := 0
				for _, l := range d.fold {
					size += len(l) + 2
				}
				if len(d.fold) <= foldMaxLines && size <= foldMaxBytes {
					continue
				}
				// Not an injection after all (or a huge one): read the lines as they come.
				d.endFold(m, false)
				expect = nil
				continue
			}
		}
		if len(line) == 0 {
			if len(m.fields) == 0 {
				continue
			}
			return m, nil
		}
		i := bytes.Index(line, []byte(": "))
		var k, v []byte
		switch {
		case i > 0:
			k, v = line[:i], line[i+2:]
		case i < 0 && len(line) > 1 && line[len(line)-1] == ':':
			k = line[:len(line)-1]
		default:
			continue // not a header: ignore
		}
		if len(m.raw)+len(k)+len(v) > d.maxFrame {
			return nil, ErrFrameTooLong
		}
		ks := len(m.raw)
		m.raw = append(m.raw, k...)
		vs := len(m.raw)
		m.raw = append(m.raw, v...)
		m.fields = append(m.fields, field{int32(ks), int32(vs), int32(vs), int32(len(m.raw))})
		if p, ok := callerField(k); ok {
			if m.ctl < 0 {
				m.ctl = len(m.fields) - 1
			}
			if p >= 0 {
				expect = append(append(expectBuf[:0], k[:p]...), "Name"...)
			}
		}
	}
}

// endFold ends a fold: joined appends the collected lines to the last header's value;
// otherwise they are queued to be read again as ordinary lines (the successor line that
// ended the fold is read again too).
func (d *Decoder) endFold(m *Message, joined bool) {
	if len(d.fold) == 0 {
		if joined {
			return
		}
	}
	if joined {
		f := &m.fields[len(m.fields)-1]
		for _, l := range d.fold {
			m.raw = append(m.raw, '\r', '\n')
			m.raw = append(m.raw, l...)
		}
		f.ve = int32(len(m.raw))
		d.fold = d.fold[:0]
		return
	}
	d.pending = append(d.fold, d.pending...)
	d.fold = nil
}

// callerField reports whether key carries caller-controlled text, and for the number
// fields (which Asterisk does not escape) the index of "Num" so that the expected
// successor ("...Name") can be built; -1 for the name fields.
func callerField(k []byte) (int, bool) {
	switch {
	case bytes.HasSuffix(k, []byte("CallerIDNum")), bytes.HasSuffix(k, []byte("ConnectedLineNum")):
		return len(k) - 3, true
	case bytes.HasSuffix(k, []byte("CallerIDName")), bytes.HasSuffix(k, []byte("ConnectedLineName")):
		return -1, true
	}
	return 0, false
}

// unescape undoes Asterisk's C escaping of a caller ID name (ast_escape_c), exactly once.
// Unknown escapes are kept as written.
func unescape(b []byte) string {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' || i+1 == len(b) {
			out = append(out, c)
			continue
		}
		i++
		switch b[i] {
		case 'a':
			out = append(out, '\a')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'v':
			out = append(out, '\v')
		case '\\', '\'', '"', '?':
			out = append(out, b[i])
		default:
			out = append(out, '\\', b[i])
		}
	}
	return string(out)
}

// clean makes untrusted text safe to hand on: valid UTF-8 (a byte that is not part of a
// UTF-8 sequence is read as Latin-1, so nothing is lost), control characters become
// spaces, at most max bytes.
func clean(s string, max int) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 {
			ok = false
			break
		}
	}
	if ok && len(s) <= max {
		return s
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		r, n := rune(s[i]), 1
		if s[i] >= 0x80 {
			r, n = utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				r = rune(s[i]) // Latin-1
			}
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = ' '
		}
		if len(out)+utf8.RuneLen(r) > max {
			break
		}
		out = utf8.AppendRune(out, r)
		i += n
	}
	return string(out)
}
