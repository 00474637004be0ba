package esl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
)

// Content types of ESL frames.
const (
	ctAuthRequest  = "auth/request"
	ctCommandReply = "command/reply"
	ctAPIResponse  = "api/response"
	ctEventPlain   = "text/event-plain"
	ctEventJSON    = "text/event-json"
	ctDisconnect   = "text/disconnect-notice"
)

// errFrame marks input that is not an ESL frame; the connection cannot be trusted after it.
var errFrame = errors.New("malformed frame")

// A frame is one ESL message: its envelope headers and body. Body is only valid until the
// next call to readFrame.
type frame struct {
	contentType string
	replyText   string
	jobUUID     string
	body        []byte
}

// frameReader splits an ESL byte stream into frames without allocating for the common
// envelope headers.
type frameReader struct {
	br      *bufio.Reader
	maxBody int
	buf     []byte
}

func newFrameReader(r io.Reader, maxBody int) *frameReader {
	return &frameReader{br: bufio.NewReaderSize(r, 64<<10), maxBody: maxBody}
}

// maxHeaderBytes bounds one envelope header block: FreeSWITCH's are below 200 bytes.
const maxHeaderBytes = 16 << 10

// readFrame reads the next frame into f. It returns io.EOF at a clean end of stream
// (between frames), io.ErrUnexpectedEOF for a half frame, and an error wrapping errFrame for
// garbage or an oversized body.
func (fr *frameReader) readFrame(f *frame) error {
	*f = frame{}
	n := -1
	seen := 0
	lines := 0
	for {
		line, err := fr.br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return fmt.Errorf("header line too long: %w", errFrame)
			}
			if len(line) == 0 && lines == 0 && seen == 0 {
				if err == io.EOF {
					return io.EOF
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					return errIdle
				}
			}
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		seen += len(line)
		if seen > maxHeaderBytes {
			return fmt.Errorf("header block too long: %w", errFrame)
		}
		line = line[:len(line)-1]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) == 0 {
			if lines == 0 {
				continue // stray blank line between frames
			}
			break
		}
		lines++
		k, v, ok := cutHeader(line)
		if !ok {
			return fmt.Errorf("header without colon: %w", errFrame)
		}
		switch string(k) {
		case "Content-Type":
			f.contentType = internContentType(v)
		case "Content-Length":
			m, ok := atoi(v)
			if !ok || m < 0 {
				return fmt.Errorf("bad Content-Length: %w", errFrame)
			}
			if m > fr.maxBody {
				return fmt.Errorf("body of %d bytes exceeds max_body_bytes %d: %w", m, fr.maxBody, errFrame)
			}
			n = m
		case "Reply-Text":
			f.replyText = string(v)
		case "Job-UUID":
			f.jobUUID = string(v)
		}
	}
	if f.contentType == "" {
		return fmt.Errorf("frame without Content-Type: %w", errFrame)
	}
	if n <= 0 {
		return nil
	}
	if cap(fr.buf) < n {
		fr.buf = make([]byte, n, max(n, 16<<10))
	}
	f.body = fr.buf[:n]
	if _, err := io.ReadFull(fr.br, f.body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}

func internContentType(v []byte) string {
	switch string(v) {
	case ctEventPlain:
		return ctEventPlain
	case ctEventJSON:
		return ctEventJSON
	case ctCommandReply:
		return ctCommandReply
	case ctAPIResponse:
		return ctAPIResponse
	case ctAuthRequest:
		return ctAuthRequest
	case ctDisconnect:
		return ctDisconnect
	}
	return string(v)
}

// cutHeader splits "Name: value" (the space is optional).
func cutHeader(line []byte) (k, v []byte, ok bool) {
	for i, c := range line {
		if c == ':' {
			v = line[i+1:]
			if len(v) > 0 && v[0] == ' ' {
				v = v[1:]
			}
			return line[:i], v, i > 0
		}
	}
	return nil, nil, false
}

// atoi parses a non-negative decimal of at most 18 digits.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
