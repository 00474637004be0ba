package baresip

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// DefaultMaxMessageBytes bounds one netstring from baresip.
const DefaultMaxMessageBytes = 256 << 10

// ErrTooLarge says that a netstring announced more bytes than the reader accepts.
var ErrTooLarge = errors.New("baresip: netstring larger than the limit")

// A NetstringReader reads netstrings ("<len>:<payload>,") from a stream. It never holds
// more than max payload bytes and rejects malformed framing instead of guessing.
type NetstringReader struct {
	r   *bufio.Reader
	max int
}

// NewNetstringReader returns a reader of netstrings of at most max bytes (0: the
// default, DefaultMaxMessageBytes).
func NewNetstringReader(r io.Reader, max int) *NetstringReader {
	if max <= 0 {
		max = DefaultMaxMessageBytes
	}
	return &NetstringReader{r: bufio.NewReaderSize(r, 4096), max: max}
}

// Next returns the next payload. At a clean end of the stream it returns io.EOF; a stream
// that ends inside a netstring gives io.ErrUnexpectedEOF. After any error other than
// io.EOF the framing is lost and the connection must be dropped.
func (n *NetstringReader) Next() ([]byte, error) {
	size, digits := 0, 0
	for {
		c, err := n.r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				if digits == 0 {
					return nil, io.EOF
				}
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if c == ':' {
			break
		}
		if c < '0' || c > '9' {
			return nil, fmt.Errorf("baresip: netstring: unexpected byte %s in the length", strconv.QuoteRune(rune(c)))
		}
		if digits > 0 && size == 0 {
			return nil, errors.New("baresip: netstring: leading zero in the length")
		}
		digits++
		size = size*10 + int(c-'0')
		if size > n.max || digits > 10 {
			return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, n.max)
		}
	}
	if digits == 0 {
		return nil, errors.New("baresip: netstring: empty length")
	}
	buf := make([]byte, size+1)
	if _, err := io.ReadFull(n.r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if buf[size] != ',' {
		return nil, fmt.Errorf("baresip: netstring: missing ',' after %d bytes", size)
	}
	return buf[:size], nil
}

// AppendNetstring appends payload framed as a netstring to dst.
func AppendNetstring(dst, payload []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(payload)), 10)
	dst = append(dst, ':')
	dst = append(dst, payload...)
	return append(dst, ',')
}
