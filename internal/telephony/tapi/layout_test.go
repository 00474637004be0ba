package tapi

import (
	"testing"
	"unsafe"
)

// TestLayout checks the Go structures against the offsets tapi.h gives them for the
// pointer size of this build (the Windows build of the same GOARCH uses the same layout).
func TestLayout(t *testing.T) {
	ptr := unsafe.Sizeof(uintptr(0))
	var p initParams
	var m message
	got := []uintptr{unsafe.Offsetof(p.options), unsafe.Offsetof(p.handle), unsafe.Offsetof(p.key),
		unsafe.Offsetof(m.id), unsafe.Offsetof(m.instance), unsafe.Offsetof(m.p1), unsafe.Offsetof(m.p3), unsafe.Sizeof(m)}
	want := []uintptr{12, 16, 16 + ptr, 4, 8, 8 + ptr, 8 + 3*ptr, 8 + 4*ptr}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("offset %d: got %d, want %d (all: %v)", i, got[i], want[i], got)
		}
	}
}
