package tapi

import "fmt"

// Constants from tapi.h (Windows SDK) used by this connector. They are the same on every
// platform so that the decoding and the state mapping can be tested anywhere.

// Line device messages (LINEMESSAGE.dwMessageID).
const (
	LineAddressState = 0
	LineCallInfo     = 1
	LineCallState    = 2
	LineClose        = 3
	LineDevSpecific  = 4
	LineLineDevState = 8
	LineReply        = 12
	LineCreate       = 19
	LineAppNewCall   = 23
	LineRemove       = 25
)

// LINECALLSTATE_ values (LINE_CALLSTATE dwParam1, LINECALLSTATUS.dwCallState).
const (
	StateIdle               = 0x00000001
	StateOffering           = 0x00000002
	StateAccepted           = 0x00000004
	StateDialtone           = 0x00000008
	StateDialing            = 0x00000010
	StateRingback           = 0x00000020
	StateBusy               = 0x00000040
	StateSpecialInfo        = 0x00000080
	StateConnected          = 0x00000100
	StateProceeding         = 0x00000200
	StateOnHold             = 0x00000400
	StateConferenced        = 0x00000800
	StateOnHoldPendConf     = 0x00001000
	StateOnHoldPendTransfer = 0x00002000
	StateDisconnected       = 0x00004000
	StateUnknown            = 0x00008000
)

// LINEDISCONNECTMODE_ values (LINE_CALLSTATE dwParam2 with StateDisconnected).
const (
	DisconnectNormal        = 0x00000001
	DisconnectUnknown       = 0x00000002
	DisconnectReject        = 0x00000004
	DisconnectPickup        = 0x00000008
	DisconnectForwarded     = 0x00000010
	DisconnectBusy          = 0x00000020
	DisconnectNoAnswer      = 0x00000040
	DisconnectBadAddress    = 0x00000080
	DisconnectUnreachable   = 0x00000100
	DisconnectCongestion    = 0x00000200
	DisconnectIncompatible  = 0x00000400
	DisconnectUnavail       = 0x00000800
	DisconnectNoDialtone    = 0x00001000
	DisconnectNumberChanged = 0x00002000
	DisconnectOutOfOrder    = 0x00004000
	DisconnectTempFailure   = 0x00008000
	DisconnectQOSUnavail    = 0x00010000
	DisconnectBlocked       = 0x00020000
	DisconnectDoNotDisturb  = 0x00040000
	DisconnectCancelled     = 0x00080000
)

// LINECALLORIGIN_ values (LINECALLINFO.dwOrigin).
const (
	OriginOutbound   = 0x00000001
	OriginInternal   = 0x00000002
	OriginExternal   = 0x00000004
	OriginUnknown    = 0x00000010
	OriginUnavail    = 0x00000020
	OriginConference = 0x00000040
	OriginInbound    = 0x00000080
)

// LINECALLPARTYID_ flags (dwCallerIDFlags and the like).
const (
	PartyBlocked   = 0x00000001
	PartyOutOfArea = 0x00000002
	PartyName      = 0x00000004
	PartyAddress   = 0x00000008
	PartyPartial   = 0x00000010
	PartyUnknown   = 0x00000020
	PartyUnavail   = 0x00000040
)

// LINECALLINFOSTATE_ flags (LINE_CALLINFO dwParam1) that matter here.
const (
	InfoCallID        = 0x00000040
	InfoOrigin        = 0x00000100
	InfoCallerID      = 0x00008000
	InfoCalledID      = 0x00010000
	InfoConnectedID   = 0x00020000
	InfoRedirectionID = 0x00040000
	InfoRedirectingID = 0x00080000
)

// Privileges, media modes, options and string formats.
const (
	PrivilegeNone    = 0x00000001
	PrivilegeMonitor = 0x00000002
	PrivilegeOwner   = 0x00000004

	MediaInteractiveVoice = 0x00000004

	InitializeExUseEvent = 0x00000002

	StringASCII   = 1
	StringDBCS    = 2
	StringUnicode = 3
	StringBinary  = 4

	CallSelectLine = 0x00000001

	DevStateReinit = 0x00040000 // LINEDEVSTATE_REINIT (LINE_LINEDEVSTATE dwParam1)
)

// API versions negotiated: TAPI 1.4 up to 3.0.
const (
	APIVersionLow  = 0x00010004
	APIVersionHigh = 0x00030000
)

// LINEERR_ values that the connector names in its errors.
const (
	ErrAllocated         = 0x80000001
	ErrBadDeviceID       = 0x80000002
	ErrIncompatibleAPI   = 0x8000000C
	ErrInUse             = 0x8000000F
	ErrInvalAddress      = 0x80000010
	ErrInvalCallHandle   = 0x80000018
	ErrInvalCallState    = 0x8000001C
	ErrInvalMediaMode    = 0x8000002F
	ErrInvalPrivSelect   = 0x80000036
	ErrNoDevice          = 0x80000042
	ErrNoDriver          = 0x80000043
	ErrNoMem             = 0x80000044
	ErrNotOwner          = 0x80000046
	ErrOperationFailed   = 0x80000048
	ErrOperationUnavail  = 0x80000049
	ErrResourceUnavail   = 0x8000004B
	ErrStructureTooSmall = 0x8000004D
	ErrUninitialized     = 0x80000050
	ErrReinit            = 0x80000052
)

// ErrorText names a LINEERR_ code.
func ErrorText(code uint32) string {
	switch code {
	case ErrAllocated:
		return "LINEERR_ALLOCATED (another application holds the line)"
	case ErrBadDeviceID:
		return "LINEERR_BADDEVICEID"
	case ErrIncompatibleAPI:
		return "LINEERR_INCOMPATIBLEAPIVERSION"
	case ErrInUse:
		return "LINEERR_INUSE"
	case ErrInvalAddress:
		return "LINEERR_INVALADDRESS"
	case ErrInvalCallHandle:
		return "LINEERR_INVALCALLHANDLE"
	case ErrInvalCallState:
		return "LINEERR_INVALCALLSTATE"
	case ErrInvalMediaMode:
		return "LINEERR_INVALMEDIAMODE"
	case ErrInvalPrivSelect:
		return "LINEERR_INVALPRIVSELECT"
	case ErrNoDevice:
		return "LINEERR_NODEVICE"
	case ErrNoDriver:
		return "LINEERR_NODRIVER (no TAPI service provider is installed)"
	case ErrNoMem:
		return "LINEERR_NOMEM"
	case ErrNotOwner:
		return "LINEERR_NOTOWNER"
	case ErrOperationFailed:
		return "LINEERR_OPERATIONFAILED"
	case ErrOperationUnavail:
		return "LINEERR_OPERATIONUNAVAIL"
	case ErrResourceUnavail:
		return "LINEERR_RESOURCEUNAVAIL"
	case ErrStructureTooSmall:
		return "LINEERR_STRUCTURETOOSMALL"
	case ErrUninitialized:
		return "LINEERR_UNINITIALIZED"
	case ErrReinit:
		return "LINEERR_REINIT (TAPI asks applications to restart)"
	}
	return fmt.Sprintf("LINEERR 0x%08X", code)
}
