// Package cause is the one table from the codes phone systems give for the end of a call
// (ITU-T Q.850 cause values, SIP status codes) to Ringside's call causes
// (call.CauseBusy, call.CauseNoAnswer, …). Every connector maps through it, so that the
// same end reads the same whichever phone system reported it.
//
// The two tables agree with the interworking of RFC 3398: a SIP status and the Q.850
// value it is translated to give the same cause (SIP 480 ↔ Q.850 18 and 19, no answer;
// 486 ↔ 17, busy; 603 and 403 ↔ 21, rejected; 404 ↔ 1 and 3, failed). Codes that do
// not say what happened to the call (Q.850 0, 31 and 127, SIP 1xx and 3xx) give "": the
// connector decides from what else it saw (who hung up, whether anyone answered).
package cause

import "github.com/ringside/ringside/internal/call"

// Q850 returns the call cause of a Q.850 cause value, "" when the value does not say.
// Normal clearing (16) is call.CauseNormal: for a call nobody answered the connector
// decides whether the caller gave up (call.CauseCancelled).
func Q850(code int) string {
	switch code {
	case 16:
		return call.CauseNormal
	case 17: // user busy
		return call.CauseBusy
	case 18, 19: // no user responding; no answer from user (user alerted)
		return call.CauseNoAnswer
	case 21: // call rejected
		return call.CauseRejected
	case 26: // non-selected user clearing: another phone took the call
		return call.CauseAnsweredElsewhere
	case 1, 2, 3, // unallocated number, no route to network, no route to destination
		4, 5, 6, 8, 9, // special tone, misdialled prefix, channel unacceptable, preemption
		20,         // subscriber absent (not registered)
		22, 23, 25, // number changed, redirected, exchange routing error
		27, 28, 29, // destination out of order, invalid number format, facility rejected
		34, 38, 41, 42, 43, 44, 45, 47, // congestion, network out of order, temporary failure, …
		52, 54, // outgoing or incoming calls barred
		50, 55, 57, 58, 63, 65, 66, 69, 70, 79, // facility and bearer capability problems
		81, 82, 85, 88, 95, 96, 97, 98, 99, 100, 101, // protocol errors
		102, 103, 111: // recovery on timer expiry, protocol errors
		return call.CauseFailed
	}
	return ""
}

// SIP returns the call cause of a SIP final response status, "" when it does not say.
func SIP(status int) string {
	switch status {
	case 486, 600: // busy here, busy everywhere
		return call.CauseBusy
	case 408, 480: // request timeout, temporarily unavailable (RFC 3398: Q.850 18)
		return call.CauseNoAnswer
	case 403, 603, 607: // forbidden, decline, unwanted (RFC 3398: Q.850 21)
		return call.CauseRejected
	case 487: // request terminated: the INVITE was cancelled
		return call.CauseCancelled
	}
	switch {
	case status >= 200 && status < 300:
		return call.CauseNormal
	case status >= 400 && status < 700:
		return call.CauseFailed
	}
	return ""
}

// Q850Name returns the Q.850 value of a cause name as FreeSWITCH and Asterisk spell it
// (NO_USER_RESPONSE, USER_BUSY, …), and false for names that are not Q.850 values.
func Q850Name(name string) (int, bool) {
	code, ok := q850Names[name]
	return code, ok
}

// Name returns the call cause of a cause name (Q850Name, then Q850), "" when unknown.
func Name(name string) string {
	if code, ok := q850Names[name]; ok {
		return Q850(code)
	}
	return ""
}

var q850Names = map[string]int{
	"UNALLOCATED_NUMBER": 1, "NO_ROUTE_TRANSIT_NET": 2, "NO_ROUTE_DESTINATION": 3,
	"CHANNEL_UNACCEPTABLE": 6, "CALL_AWARDED_DELIVERED": 7, "NORMAL_CLEARING": 16,
	"USER_BUSY": 17, "NO_USER_RESPONSE": 18, "NO_ANSWER": 19, "SUBSCRIBER_ABSENT": 20,
	"CALL_REJECTED": 21, "NUMBER_CHANGED": 22, "REDIRECTION_TO_NEW_DESTINATION": 23,
	"EXCHANGE_ROUTING_ERROR": 25, "NONSELECTED_USER_CLEARING": 26, "DESTINATION_OUT_OF_ORDER": 27,
	"INVALID_NUMBER_FORMAT": 28, "FACILITY_REJECTED": 29, "RESPONSE_TO_STATUS_ENQUIRY": 30,
	"NORMAL_UNSPECIFIED": 31, "NORMAL_CIRCUIT_CONGESTION": 34, "NETWORK_OUT_OF_ORDER": 38,
	"NORMAL_TEMPORARY_FAILURE": 41, "SWITCH_CONGESTION": 42, "ACCESS_INFO_DISCARDED": 43,
	"REQUESTED_CHAN_UNAVAIL": 44, "PRE_EMPTED": 45, "FACILITY_NOT_SUBSCRIBED": 50,
	"OUTGOING_CALL_BARRED": 52, "INCOMING_CALL_BARRED": 54, "BEARERCAPABILITY_NOTAUTH": 57,
	"BEARERCAPABILITY_NOTAVAIL": 58, "SERVICE_UNAVAILABLE": 63, "BEARERCAPABILITY_NOTIMPL": 65,
	"CHAN_NOT_IMPLEMENTED": 66, "FACILITY_NOT_IMPLEMENTED": 69, "SERVICE_NOT_IMPLEMENTED": 79,
	"INVALID_CALL_REFERENCE": 81, "INCOMPATIBLE_DESTINATION": 88, "INVALID_MSG_UNSPECIFIED": 95,
	"MANDATORY_IE_MISSING": 96, "MESSAGE_TYPE_NONEXIST": 97, "WRONG_MESSAGE": 98,
	"IE_NONEXIST": 99, "INVALID_IE_CONTENTS": 100, "WRONG_CALL_STATE": 101,
	"RECOVERY_ON_TIMER_EXPIRE": 102, "MANDATORY_IE_LENGTH_ERROR": 103, "PROTOCOL_ERROR": 111,
	"INTERWORKING": 127,
}
