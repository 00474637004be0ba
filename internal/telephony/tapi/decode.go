package tapi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// TAPI's variable-length structures (LINECALLINFO, LINEDEVCAPS, LINECALLSTATUS,
// LINECALLLIST) start with dwTotalSize, dwNeededSize and dwUsedSize; strings and arrays
// follow the fixed part and are found through (size, offset) pairs of DWORDs counted
// from the start of the structure. Every field is a little-endian DWORD (HLINE and HCALL
// are DECLARE_HANDLE32, i.e. DWORDs; the structures use 4-byte packing), so the layout is
// the same for 32- and 64-bit Windows. These decoders read such buffers without trusting
// any size or offset.

// Fixed sizes of the structures as tapi.h defines them.
const (
	// CallInfoSize14 is sizeof(LINECALLINFO) for TAPI 1.4 (74 DWORDs, up to
	// dwDevSpecificOffset); TAPI 2.0 adds 7 DWORDs, TAPI 3.0 another 5.
	CallInfoSize14 = 74 * 4
	CallInfoSize20 = CallInfoSize14 + 7*4
	CallInfoSize30 = CallInfoSize20 + 5*4
	// DevCapsMinSize covers the LINEDEVCAPS fields read here (up to dwMediaModes).
	DevCapsMinSize = 16 * 4
	// CallStatusMinSize covers dwCallState and dwCallStateMode of LINECALLSTATUS.
	CallStatusMinSize = 5 * 4
	// CallListMinSize is the fixed part of LINECALLLIST.
	CallListMinSize = 6 * 4
)

// maxString bounds one decoded string (bytes of the result).
const maxString = 512

// ErrShort says that a buffer is smaller than the structure's fixed part.
var ErrShort = errors.New("tapi: structure smaller than its fixed part")

type view struct {
	b    []byte
	used uint32
}

func newView(b []byte, fixed int) (view, error) {
	if len(b) < fixed || len(b) < 12 {
		return view{}, fmt.Errorf("%w (%d bytes, need %d)", ErrShort, len(b), fixed)
	}
	v := view{b: b}
	used := binary.LittleEndian.Uint32(b[8:])
	if used > uint32(len(b)) || used < uint32(fixed) {
		used = uint32(len(b)) // a provider that fills dwUsedSize badly: trust the buffer only
	}
	v.used = used
	return v, nil
}

// dw returns the DWORD at index i (byte offset 4*i).
func (v view) dw(i int) uint32 {
	o := 4 * i
	if o+4 > len(v.b) {
		return 0
	}
	return binary.LittleEndian.Uint32(v.b[o:])
}

// field returns the bytes of the (size, offset) pair at DWORD indexes si and si+1, or
// nil when the pair points outside the used part or into the fixed part.
func (v view) field(si, fixed int) []byte {
	size, off := v.dw(si), v.dw(si+1)
	if size == 0 || off < uint32(fixed) || off > v.used || size > v.used-off {
		return nil
	}
	return v.b[off : off+size]
}

// String decodes a TAPI string field in format (StringUnicode: UTF-16LE; anything else:
// 8-bit text, read as Latin-1). It stops at the first NUL, makes the result valid UTF-8
// without control characters, and bounds its length.
func String(b []byte, format uint32) string {
	var s string
	if format == StringUnicode {
		u := make([]uint16, 0, len(b)/2)
		for i := 0; i+1 < len(b); i += 2 {
			c := binary.LittleEndian.Uint16(b[i:])
			if c == 0 {
				break
			}
			u = append(u, c)
		}
		s = string(utf16.Decode(u))
	} else {
		var sb strings.Builder
		for _, c := range b {
			if c == 0 {
				break
			}
			sb.WriteRune(rune(c))
		}
		s = sb.String()
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxString {
		s = s[:maxString]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// Party is one identity from LINECALLINFO.
type Party struct {
	Flags  uint32
	Number string
	Name   string
}

// Withheld reports whether the party's number is blocked or unavailable.
func (p Party) Withheld() bool {
	return p.Number == "" && p.Flags&(PartyBlocked|PartyOutOfArea|PartyUnknown|PartyUnavail) != 0
}

// CallInfo is what the connector reads from LINECALLINFO.
type CallInfo struct {
	LineDeviceID  uint32
	AddressID     uint32
	CallID        uint32 // provider's id for the call (dwCallID); 0 if it has none
	RelatedCallID uint32
	Origin        uint32
	Reason        uint32
	Caller        Party
	Called        Party
	Connected     Party
	Redirecting   Party
}

// DWORD indexes in LINECALLINFO.
const (
	ciLineDeviceID   = 4
	ciAddressID      = 5
	ciCallID         = 10
	ciRelatedCallID  = 11
	ciOrigin         = 20
	ciReason         = 21
	ciCallerFlags    = 27 // then Size, Offset, NameSize, NameOffset
	ciCalledFlags    = 32
	ciConnectedFlags = 37
	ciRedirectingFlg = 47
)

// DecodeCallInfo reads a LINECALLINFO buffer as lineGetCallInfo filled it; strings are
// in format (StringUnicode for lineGetCallInfoW).
func DecodeCallInfo(b []byte, format uint32) (CallInfo, error) {
	v, err := newView(b, CallInfoSize14)
	if err != nil {
		return CallInfo{}, err
	}
	party := func(fi int) Party {
		p := Party{Flags: v.dw(fi)}
		if p.Flags&PartyAddress != 0 || p.Flags == 0 {
			p.Number = String(v.field(fi+1, CallInfoSize14), format)
		}
		if p.Flags&PartyName != 0 || p.Flags == 0 {
			p.Name = String(v.field(fi+3, CallInfoSize14), format)
		}
		return p
	}
	return CallInfo{
		LineDeviceID: v.dw(ciLineDeviceID), AddressID: v.dw(ciAddressID),
		CallID: v.dw(ciCallID), RelatedCallID: v.dw(ciRelatedCallID),
		Origin: v.dw(ciOrigin), Reason: v.dw(ciReason),
		Caller: party(ciCallerFlags), Called: party(ciCalledFlags),
		Connected: party(ciConnectedFlags), Redirecting: party(ciRedirectingFlg),
	}, nil
}

// Needed returns dwNeededSize of a structure buffer: when it exceeds dwTotalSize, call
// again with a buffer that large.
func Needed(b []byte) uint32 {
	if len(b) < 8 {
		return 0
	}
	return binary.LittleEndian.Uint32(b[4:])
}

// DevCaps is what the connector reads from LINEDEVCAPS.
type DevCaps struct {
	Provider     string
	Switch       string
	PermanentID  uint32
	Name         string
	StringFormat uint32
	NumAddresses uint32
	MediaModes   uint32
}

// DecodeDevCaps reads a LINEDEVCAPS buffer. format is the string format of the call
// (StringUnicode for lineGetDevCapsW); the structure's own dwStringFormat is reported.
func DecodeDevCaps(b []byte, format uint32) (DevCaps, error) {
	v, err := newView(b, DevCapsMinSize)
	if err != nil {
		return DevCaps{}, err
	}
	return DevCaps{
		Provider:     String(v.field(3, DevCapsMinSize), format),
		Switch:       String(v.field(5, DevCapsMinSize), format),
		PermanentID:  v.dw(7),
		Name:         String(v.field(8, DevCapsMinSize), format),
		StringFormat: v.dw(10),
		NumAddresses: v.dw(12),
		MediaModes:   v.dw(15),
	}, nil
}

// DecodeCallStatus returns dwCallState and dwCallStateMode of a LINECALLSTATUS buffer.
func DecodeCallStatus(b []byte) (state, mode uint32, err error) {
	v, err := newView(b, CallStatusMinSize)
	if err != nil {
		return 0, 0, err
	}
	return v.dw(3), v.dw(4), nil
}

// DecodeCallList returns the call handles of a LINECALLLIST buffer.
func DecodeCallList(b []byte) ([]uint32, error) {
	v, err := newView(b, CallListMinSize)
	if err != nil {
		return nil, err
	}
	n := v.dw(3)
	f := v.field(4, CallListMinSize)
	if uint64(n)*4 > uint64(len(f)) {
		n = uint32(len(f) / 4)
	}
	out := make([]uint32, 0, n)
	for i := range n {
		out = append(out, binary.LittleEndian.Uint32(f[4*i:]))
	}
	return out, nil
}
