package tapi

// The fixed-size structures passed to tapi32.dll by pointer. They are declared here,
// outside the Windows-only file, so that their layout is tested on every platform (it is
// the same for the same GOARCH).

// initParams is LINEINITIALIZEEXPARAMS: DWORD dwTotalSize, dwNeededSize, dwUsedSize,
// dwOptions; a union of HANDLE hEvent / hCompletionPort (pointer-sized); DWORD
// dwCompletionKey. dwTotalSize is offsetof(key)+4 (28 on amd64, 24 on 386).
type initParams struct {
	total, needed, used, options uint32
	handle                       uintptr
	key                          uint32
}

// message is LINEMESSAGE: DWORD hDevice, dwMessageID; DWORD_PTR dwCallbackInstance,
// dwParam1, dwParam2, dwParam3 (40 bytes on amd64, 24 on 386).
type message struct {
	device, id           uint32
	instance, p1, p2, p3 uintptr
}
