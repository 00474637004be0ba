//go:build windows

package tapi

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/ringside/ringside/internal/call"
)

// api is tapi32.dll's functions (the W variants: strings are UTF-16). Nothing else in
// this package calls Windows.
type api struct {
	initializeEx, shutdown, negotiate, getDevCaps, open, close_, getMessage  *windows.LazyProc
	getCallInfo, getCallStatus, getNewCalls, makeCall, answer, drop, dealloc *windows.LazyProc
}

func newAPI() (*api, error) {
	d := windows.NewLazySystemDLL("tapi32.dll")
	if err := d.Load(); err != nil {
		return nil, fmt.Errorf("tapi: loading tapi32.dll: %w", err)
	}
	return &api{
		initializeEx: d.NewProc("lineInitializeExW"), shutdown: d.NewProc("lineShutdown"),
		negotiate: d.NewProc("lineNegotiateAPIVersion"), getDevCaps: d.NewProc("lineGetDevCapsW"),
		open: d.NewProc("lineOpenW"), close_: d.NewProc("lineClose"), getMessage: d.NewProc("lineGetMessage"),
		getCallInfo: d.NewProc("lineGetCallInfoW"), getCallStatus: d.NewProc("lineGetCallStatus"),
		getNewCalls: d.NewProc("lineGetNewCalls"), makeCall: d.NewProc("lineMakeCallW"),
		answer: d.NewProc("lineAnswer"), drop: d.NewProc("lineDrop"), dealloc: d.NewProc("lineDeallocateCall"),
	}, nil
}

// call invokes p and returns TAPI's LONG result as a DWORD: 0 is success, values with the
// high bit set are LINEERR_ codes, other positive values are request ids of
// asynchronous functions (completed by LINE_REPLY).
func call32(p *windows.LazyProc, args ...uintptr) (uint32, error) {
	if err := p.Find(); err != nil {
		return 0, fmt.Errorf("tapi: %s: %w", p.Name, err)
	}
	r, _, _ := p.Call(args...)
	return uint32(r), nil
}

func lineErr(fn string, r uint32) error {
	return fmt.Errorf("tapi: %s: %s", fn, ErrorText(r))
}

func isErr(r uint32) bool { return r&0x80000000 != 0 }

// varStruct calls fill with a buffer whose dwTotalSize is set, growing it to
// dwNeededSize until the structure fits.
func varStruct(fn string, size int, fill func(b []byte) (uint32, error)) ([]byte, error) {
	for range 4 {
		words := make([]uint32, (size+3)/4) // DWORD-aligned
		b := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*4)
		binary.LittleEndian.PutUint32(b, uint32(len(b)))
		r, err := fill(b)
		if err != nil {
			return nil, err
		}
		if r == ErrStructureTooSmall {
			size *= 2
			continue
		}
		if isErr(r) {
			return nil, lineErr(fn, r)
		}
		if n := Needed(b); int(n) > len(b) && n < 1<<20 {
			size = int(n)
			continue
		}
		return b, nil
	}
	return nil, fmt.Errorf("tapi: %s: the structure keeps growing", fn)
}

func bufPtr(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }

// session is one lineInitializeEx … lineShutdown.
type session struct {
	a     *api
	app   uint32
	src   *Source
	lines map[uint32]uint32 // hLine → device id
	order []uint32          // hLines in the order opened

	mu      sync.Mutex // guards mapper and pending
	mapper  *Mapper
	pending map[uint32]*request
}

type request struct {
	done  chan uint32
	hCall *uint32 // lineMakeCall writes it when the request completes
}

func initialize(a *api, appName string) (uint32, uint32, error) {
	var app, numDevs uint32
	version := uint32(APIVersionHigh)
	p := initParams{options: InitializeExUseEvent}
	p.total = uint32(unsafe.Offsetof(p.key) + 4)
	name, _ := windows.UTF16PtrFromString(appName)
	r, err := call32(a.initializeEx, uintptr(unsafe.Pointer(&app)), 0, 0, uintptr(unsafe.Pointer(name)),
		uintptr(unsafe.Pointer(&numDevs)), uintptr(unsafe.Pointer(&version)), uintptr(unsafe.Pointer(&p)))
	if err != nil {
		return 0, 0, err
	}
	if r != 0 {
		return 0, 0, lineErr("lineInitializeEx", r)
	}
	return app, numDevs, nil
}

func negotiate(a *api, app, dev uint32) (uint32, error) {
	var version uint32
	var ext [4]uint32
	r, err := call32(a.negotiate, uintptr(app), uintptr(dev), APIVersionLow, APIVersionHigh,
		uintptr(unsafe.Pointer(&version)), uintptr(unsafe.Pointer(&ext)))
	if err != nil {
		return 0, err
	}
	if r != 0 {
		return 0, lineErr("lineNegotiateAPIVersion", r)
	}
	return version, nil
}

func devCaps(a *api, app, dev, version uint32) (Line, error) {
	b, err := varStruct("lineGetDevCaps", 1024, func(b []byte) (uint32, error) {
		return call32(a.getDevCaps, uintptr(app), uintptr(dev), uintptr(version), 0, bufPtr(b))
	})
	if err != nil {
		return Line{ID: dev}, err
	}
	dc, err := DecodeDevCaps(b, StringUnicode)
	if err != nil {
		return Line{ID: dev}, err
	}
	return Line{ID: dev, PermanentID: dc.PermanentID, Name: dc.Name, Provider: dc.Provider,
		Addresses: dc.NumAddresses, Voice: dc.MediaModes&MediaInteractiveVoice != 0}, nil
}

// ListLines lists the TAPI line devices (`ringside agent --list-lines`).
func ListLines(ctx context.Context, appName string) ([]Line, error) {
	a, err := newAPI()
	if err != nil {
		return nil, err
	}
	app, n, err := initialize(a, appName)
	if err != nil {
		return nil, err
	}
	defer call32(a.shutdown, uintptr(app))
	var out []Line
	for dev := range n {
		v, err := negotiate(a, app, dev)
		if err != nil {
			out = append(out, Line{ID: dev, Err: err.Error()})
			continue
		}
		l, err := devCaps(a, app, dev, v)
		if err != nil {
			l.Err = err.Error()
		}
		out = append(out, l)
	}
	return out, nil
}

func (s *Source) session(ctx context.Context, emit func(call.Signal)) error {
	a, err := newAPI()
	if err != nil {
		return &fatalError{err}
	}
	app, n, err := initialize(a, s.cfg.AppName)
	if err != nil {
		return err
	}
	sess := &session{a: a, app: app, src: s, lines: map[uint32]uint32{}, pending: map[uint32]*request{}}
	defer func() {
		s.setSession(nil)
		sess.mu.Lock()
		for id, r := range sess.pending {
			close(r.done)
			delete(sess.pending, id)
		}
		sess.mu.Unlock()
		for _, h := range sess.order {
			call32(a.close_, uintptr(h))
		}
		call32(a.shutdown, uintptr(app))
	}()
	ext := func(uint32) string { return s.cfg.Extension }
	sess.mapper = NewMapper(s.name, ext, s.cfg.Now, emit)

	privileges := uintptr(PrivilegeMonitor | PrivilegeOwner)
	if s.cfg.Privileges == "monitor" {
		privileges = PrivilegeMonitor
	}
	var seen []string
	for dev := range n {
		v, err := negotiate(a, app, dev)
		if err != nil {
			continue
		}
		l, err := devCaps(a, app, dev, v)
		if err != nil || !Selects(s.cfg.Lines, l) {
			seen = append(seen, strconv.Itoa(int(dev))+" "+l.Name)
			continue
		}
		var h uint32
		r, err := call32(a.open, uintptr(app), uintptr(dev), uintptr(unsafe.Pointer(&h)), uintptr(v), 0, uintptr(dev),
			privileges, MediaInteractiveVoice, 0)
		if err == nil && (r == ErrInvalMediaMode || r == ErrInvalPrivSelect) && privileges&PrivilegeOwner != 0 {
			// The provider takes no owners for voice: follow the line only.
			r, err = call32(a.open, uintptr(app), uintptr(dev), uintptr(unsafe.Pointer(&h)), uintptr(v), 0, uintptr(dev),
				PrivilegeMonitor, 0, 0)
		}
		if err != nil {
			return err
		}
		if r != 0 {
			s.log.Warn("cannot open tapi line", "line", dev, "name", l.Name, "err", ErrorText(r))
			continue
		}
		sess.lines[h] = dev
		sess.order = append(sess.order, h)
		s.log.Info("tapi line open", "line", dev, "name", l.Name, "provider", l.Provider)
		sess.resync(h)
	}
	if len(sess.order) == 0 {
		return &fatalError{fmt.Errorf("tapi: lines: no line device matches %q (lines seen: %v)", s.cfg.Lines, seen)}
	}
	s.setSession(sess)
	s.rc.Up()

	for ctx.Err() == nil {
		var m message
		r, err := call32(a.getMessage, uintptr(app), uintptr(unsafe.Pointer(&m)), 250)
		if err != nil {
			return err
		}
		if r != 0 {
			if r == ErrOperationFailed {
				continue // timeout: look at ctx
			}
			return lineErr("lineGetMessage", r)
		}
		if err := sess.handle(m); err != nil {
			return err
		}
	}
	return nil
}

// resync reports the calls already on a line when it was opened.
func (sess *session) resync(hLine uint32) {
	b, err := varStruct("lineGetNewCalls", 256, func(b []byte) (uint32, error) {
		return call32(sess.a.getNewCalls, uintptr(hLine), 0, CallSelectLine, bufPtr(b))
	})
	if err != nil {
		return
	}
	calls, _ := DecodeCallList(b)
	for _, h := range calls {
		info, ok := sess.callInfo(h)
		st, err := varStruct("lineGetCallStatus", 512, func(b []byte) (uint32, error) {
			return call32(sess.a.getCallStatus, uintptr(h), bufPtr(b))
		})
		if !ok || err != nil {
			continue
		}
		state, mode, _ := DecodeCallStatus(st)
		sess.mu.Lock()
		idle := sess.mapper.Resync(h, state, mode, info)
		sess.mu.Unlock()
		if idle {
			call32(sess.a.dealloc, uintptr(h))
		}
	}
}

func (sess *session) callInfo(h uint32) (CallInfo, bool) {
	b, err := varStruct("lineGetCallInfo", 2048, func(b []byte) (uint32, error) {
		return call32(sess.a.getCallInfo, uintptr(h), bufPtr(b))
	})
	if err != nil {
		return CallInfo{}, false
	}
	info, err := DecodeCallInfo(b, StringUnicode)
	return info, err == nil
}

func (sess *session) handle(m message) error {
	switch m.id {
	case LineCallState:
		h := m.device
		info, _ := sess.callInfo(h)
		sess.mu.Lock()
		idle := sess.mapper.CallState(h, uint32(m.p1), uint32(m.p2), info)
		sess.mu.Unlock()
		if idle {
			call32(sess.a.dealloc, uintptr(h))
		}
	case LineCallInfo:
		if uint32(m.p1)&(InfoCallerID|InfoCalledID|InfoConnectedID|InfoCallID|InfoOrigin) != 0 {
			if info, ok := sess.callInfo(m.device); ok {
				sess.mu.Lock()
				sess.mapper.CallInfoChanged(m.device, info)
				sess.mu.Unlock()
			}
		}
	case LineReply:
		sess.mu.Lock()
		r := sess.pending[uint32(m.p1)]
		delete(sess.pending, uint32(m.p1))
		sess.mu.Unlock()
		if r != nil {
			r.done <- uint32(m.p2)
		}
	case LineClose:
		sess.mu.Lock()
		sess.mapper.Forget()
		sess.mu.Unlock()
		return fmt.Errorf("tapi: the provider closed line %d", sess.lines[m.device])
	case LineLineDevState:
		if uint32(m.p1)&DevStateReinit != 0 {
			return errors.New("tapi: TAPI asks for re-initialisation")
		}
	case LineCreate, LineRemove:
		return errors.New("tapi: line devices changed")
	}
	return nil
}

// async waits for the LINE_REPLY of request id r.
func (sess *session) async(ctx context.Context, fn string, r uint32, hCall *uint32) error {
	if isErr(r) {
		return lineErr(fn, r)
	}
	if r == 0 {
		return nil
	}
	req := &request{done: make(chan uint32, 1), hCall: hCall}
	sess.mu.Lock()
	sess.pending[r] = req
	sess.mu.Unlock()
	select {
	case res, ok := <-req.done:
		if !ok {
			return fmt.Errorf("tapi: %s: %w", fn, ErrNotConnected)
		}
		if res != 0 {
			return lineErr(fn, res)
		}
		return nil
	case <-ctx.Done():
		// The reply may still come; the request (and hCall) stays referenced until then.
		return fmt.Errorf("tapi: %s: %w", fn, ctx.Err())
	}
}

func (sess *session) makeCall(ctx context.Context, number string) error {
	dest, err := windows.UTF16PtrFromString(number)
	if err != nil {
		return fmt.Errorf("tapi: %q is not a number", number)
	}
	hCall := new(uint32)
	r, err := call32(sess.a.makeCall, uintptr(sess.order[0]), uintptr(unsafe.Pointer(hCall)), uintptr(unsafe.Pointer(dest)), 0, 0)
	if err != nil {
		return err
	}
	return sess.async(ctx, "lineMakeCall", r, hCall)
}

func (sess *session) handleOf(callID string) (uint32, error) {
	sess.mu.Lock()
	h, ok := sess.mapper.Handle(callID)
	sess.mu.Unlock()
	if !ok {
		return 0, fmt.Errorf("tapi: no call %q on the open lines", callID)
	}
	return h, nil
}

func (sess *session) answer(ctx context.Context, callID string) error {
	h, err := sess.handleOf(callID)
	if err != nil {
		return err
	}
	r, err := call32(sess.a.answer, uintptr(h), 0, 0)
	if err != nil {
		return err
	}
	return sess.async(ctx, "lineAnswer", r, nil)
}

func (sess *session) drop(ctx context.Context, callID string) error {
	h, err := sess.handleOf(callID)
	if err != nil {
		return err
	}
	r, err := call32(sess.a.drop, uintptr(h), 0, 0)
	if err != nil {
		return err
	}
	return sess.async(ctx, "lineDrop", r, nil)
}
