package tapi

import (
	"encoding/binary"
	"errors"
	"testing"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"

	"github.com/ringside/ringside/internal/call"
)

// structBuf builds a TAPI variable-length structure as a provider fills it: a fixed part
// of fixed bytes (DWORDs set from dws by index), then the strings, each referenced by the
// (size, offset) DWORD pair at its index. dwTotalSize is total (0: exactly what is
// used), dwNeededSize and dwUsedSize what was written.
type structBuf struct {
	fixed int
	total int
	dws   map[int]uint32
	strs  map[int][]byte // size index → bytes
	order []int          // order of the strings in the variable part
}

func utf16z(s string) []byte {
	u := append(utf16.Encode([]rune(s)), 0)
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

func (s structBuf) bytes() []byte {
	size := s.fixed
	for _, i := range s.order {
		size += len(s.strs[i])
	}
	total := s.total
	if total == 0 {
		total = size
	}
	b := make([]byte, max(total, s.fixed))
	for i, v := range s.dws {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	off := s.fixed
	for _, i := range s.order {
		str := s.strs[i]
		if off+len(str) > len(b) {
			break // does not fit: a real provider sets only dwNeededSize
		}
		binary.LittleEndian.PutUint32(b[4*i:], uint32(len(str)))
		binary.LittleEndian.PutUint32(b[4*i+4:], uint32(off))
		copy(b[off:], str)
		off += len(str)
	}
	binary.LittleEndian.PutUint32(b[0:], uint32(len(b)))
	binary.LittleEndian.PutUint32(b[4:], uint32(size))
	binary.LittleEndian.PutUint32(b[8:], uint32(off))
	return b
}

// callInfoBuf is a LINECALLINFO (TAPI 2.0 size) with the caller and called parties.
func callInfoBuf(origin, callID uint32, caller, callerName, called string, callerFlags uint32) []byte {
	s := structBuf{fixed: CallInfoSize20, dws: map[int]uint32{
		ciLineDeviceID: 2, ciAddressID: 0, ciCallID: callID, ciOrigin: origin, ciReason: 1,
		ciCallerFlags: callerFlags, ciCalledFlags: PartyAddress,
	}, strs: map[int][]byte{}}
	if caller != "" {
		s.strs[ciCallerFlags+1] = utf16z(caller)
		s.order = append(s.order, ciCallerFlags+1)
	}
	if callerName != "" {
		s.strs[ciCallerFlags+3] = utf16z(callerName)
		s.order = append(s.order, ciCallerFlags+3)
	}
	if called != "" {
		s.strs[ciCalledFlags+1] = utf16z(called)
		s.order = append(s.order, ciCalledFlags+1)
	}
	return s.bytes()
}

func TestDecodeCallInfo(t *testing.T) {
	b := callInfoBuf(OriginExternal, 4711, "+49 30 9876543", "ACME Reception", "200", PartyAddress|PartyName)
	got, err := DecodeCallInfo(b, StringUnicode)
	if err != nil {
		t.Fatal(err)
	}
	want := CallInfo{LineDeviceID: 2, CallID: 4711, Origin: OriginExternal, Reason: 1,
		Caller: Party{Flags: PartyAddress | PartyName, Number: "+49 30 9876543", Name: "ACME Reception"},
		Called: Party{Flags: PartyAddress, Number: "200"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDecodeCallInfoHostile(t *testing.T) {
	good := callInfoBuf(OriginInbound, 1, "+4930111", "Name", "", PartyAddress|PartyName)
	set := func(b []byte, i int, v uint32) []byte {
		c := append([]byte(nil), b...)
		binary.LittleEndian.PutUint32(c[4*i:], v)
		return c
	}
	tests := []struct {
		name    string
		buf     []byte
		format  uint32
		want    Party
		wantErr error
	}{
		{name: "short", buf: good[:CallInfoSize14-1], wantErr: ErrShort},
		{name: "TAPI 1.4 size", buf: callInfoBuf(0, 0, "", "", "", 0)[:CallInfoSize14], want: Party{}},
		{name: "offset past used", buf: set(good, ciCallerFlags+2, uint32(len(good))), want: Party{Flags: PartyAddress | PartyName, Name: "Name"}},
		{name: "offset into fixed part", buf: set(good, ciCallerFlags+2, 8), want: Party{Flags: PartyAddress | PartyName, Name: "Name"}},
		{name: "size overflows", buf: set(good, ciCallerFlags+1, 0xFFFFFFF0), want: Party{Flags: PartyAddress | PartyName, Name: "Name"}},
		{name: "used beyond buffer", buf: set(good, 2, 1<<30), want: Party{Flags: PartyAddress | PartyName, Number: "+4930111", Name: "Name"}},
		{name: "flags say no address", buf: set(good, ciCallerFlags, PartyName), want: Party{Flags: PartyName, Name: "Name"}},
		{name: "blocked", buf: set(callInfoBuf(0, 0, "", "", "", 0), ciCallerFlags, PartyBlocked), want: Party{Flags: PartyBlocked}},
		{name: "control characters and odd length", buf: callInfoBuf(0, 0, "+49\r\n30\x00tail", "\x1b[31mEvil\u202e", "", PartyAddress|PartyName),
			want: Party{Flags: PartyAddress | PartyName, Number: "+4930", Name: "[31mEvil\u202e"}},
		{name: "ascii provider", buf: func() []byte {
			s := structBuf{fixed: CallInfoSize14, dws: map[int]uint32{ciCallerFlags: PartyAddress | PartyName},
				strs: map[int][]byte{ciCallerFlags + 1: []byte("030 123\x00"), ciCallerFlags + 3: []byte("M\xfcller\x00")}, order: []int{ciCallerFlags + 1, ciCallerFlags + 3}}
			return s.bytes()
		}(), format: StringASCII, want: Party{Flags: PartyAddress | PartyName, Number: "030 123", Name: "Müller"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.format
			if f == 0 {
				f = StringUnicode
			}
			got, err := DecodeCallInfo(tt.buf, f)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got.Caller); diff != "" {
				t.Errorf("caller (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNeededSize(t *testing.T) {
	// A buffer too small for the strings: TAPI fills the fixed part and dwNeededSize.
	s := structBuf{fixed: CallInfoSize14, total: CallInfoSize14, dws: map[int]uint32{ciCallerFlags: PartyAddress},
		strs: map[int][]byte{ciCallerFlags + 1: utf16z("+4930111")}, order: []int{ciCallerFlags + 1}}
	b := s.bytes()
	if n := Needed(b); n != CallInfoSize14+18 {
		t.Errorf("Needed = %d, want %d", n, CallInfoSize14+18)
	}
	info, err := DecodeCallInfo(b, StringUnicode)
	if err != nil || info.Caller.Number != "" {
		t.Errorf("truncated: %+v, %v", info, err)
	}
}

func TestDecodeDevCaps(t *testing.T) {
	s := structBuf{fixed: 264, dws: map[int]uint32{7: 0xCAFE, 10: StringUnicode, 12: 3, 15: MediaInteractiveVoice | 0x10},
		strs:  map[int][]byte{3: utf16z("Swyx TAPI Service Provider"), 5: utf16z("SwyxWare 13"), 8: utf16z("Swyx Line 201 (Alice)")},
		order: []int{3, 5, 8}}
	got, err := DecodeDevCaps(s.bytes(), StringUnicode)
	if err != nil {
		t.Fatal(err)
	}
	want := DevCaps{Provider: "Swyx TAPI Service Provider", Switch: "SwyxWare 13", PermanentID: 0xCAFE,
		Name: "Swyx Line 201 (Alice)", StringFormat: StringUnicode, NumAddresses: 3, MediaModes: MediaInteractiveVoice | 0x10}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := DecodeDevCaps(make([]byte, 20), StringUnicode); !errors.Is(err, ErrShort) {
		t.Errorf("short devcaps: %v", err)
	}
	l := Line{ID: 3, Name: want.Name, Voice: true}
	for sel, ok := range map[string]bool{"3": true, "line 201": true, "SWYX": true, "4": false, "bob": false} {
		if Selects([]string{sel}, l) != ok {
			t.Errorf("Selects(%q) != %v", sel, ok)
		}
	}
	if !Selects(nil, l) || Selects(nil, Line{ID: 1}) {
		t.Error("default selection is every voice line")
	}
}

func TestDecodeCallStatusAndList(t *testing.T) {
	st := structBuf{fixed: 64, dws: map[int]uint32{3: StateDisconnected, 4: DisconnectBusy}}.bytes()
	state, mode, err := DecodeCallStatus(st)
	if err != nil || state != StateDisconnected || mode != DisconnectBusy {
		t.Errorf("call status %x %x %v", state, mode, err)
	}
	handles := make([]byte, 12)
	for i, h := range []uint32{0x10001, 0x10002, 0x10003} {
		binary.LittleEndian.PutUint32(handles[4*i:], h)
	}
	list := structBuf{fixed: CallListMinSize, dws: map[int]uint32{3: 3}, strs: map[int][]byte{4: handles}, order: []int{4}}.bytes()
	got, err := DecodeCallList(list)
	if err != nil || !cmp.Equal(got, []uint32{0x10001, 0x10002, 0x10003}) {
		t.Errorf("call list %x %v", got, err)
	}
	// dwCallsNumEntries larger than the array: only what is there.
	binary.LittleEndian.PutUint32(list[12:], 1000)
	if got, _ := DecodeCallList(list); len(got) != 3 {
		t.Errorf("overlong count gave %d handles", len(got))
	}
}

// FuzzDecode: no buffer makes the decoders panic or return more than the string bound.
func FuzzDecode(f *testing.F) {
	f.Add(callInfoBuf(OriginExternal, 1, "+4930", "x", "200", PartyAddress|PartyName))
	f.Add(make([]byte, CallInfoSize14))
	f.Add(structBuf{fixed: 64, dws: map[int]uint32{3: 1}}.bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, format := range []uint32{StringUnicode, StringASCII} {
			if info, err := DecodeCallInfo(b, format); err == nil {
				if len(info.Caller.Number) > maxString || len(info.Caller.Name) > maxString {
					t.Fatal("string over the bound")
				}
				m := NewMapper("f", nil, nil, func(call.Signal) {})
				m.CallState(1, StateOffering, 0, info)
				m.CallState(1, StateIdle, 0, info)
			}
			DecodeDevCaps(b, format)
		}
		DecodeCallStatus(b)
		DecodeCallList(b)
	})
}
