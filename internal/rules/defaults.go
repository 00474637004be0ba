package rules

// Defaults returns the rules that apply without configuration (and where a rules list
// says `- defaults`):
//
//   - pop on ringing and dialing, for every call;
//   - an unknown caller (or dialled number) gets the create form, proposing a lead;
//   - on answer, the pre-filled phone-call activity opens;
//   - when an answered call ends, an outgoing call is not answered, or an inbound call is
//     missed, the phone-call activity is logged (a missed call as an open activity).
//     The log is keyed by the call, so the activity an agent saved notes into is the log:
//     it is completed (end, duration), never duplicated.
func Defaults() []*Rule {
	rs := []*Rule{
		{Name: "pop", On: []string{InboundRinging, InternalRinging, OutboundDialing}, Do: []Action{{Do: ActPop}}},
		{Name: "unknown caller", On: []string{InboundRinging, OutboundDialing}, When: When{Match: MatchUnmatched},
			Do: []Action{{Do: ActOpenCreateForm, Entity: "lead"}}},
		{Name: "answered", On: []string{InboundAnswered, OutboundAnswered}, Do: []Action{{Do: ActOpenActivity}}},
		{Name: "log", On: []string{InboundEnded, InboundMissed, OutboundEnded, OutboundNotAnswered}, Do: []Action{{Do: ActLogActivity}}},
	}
	for i, r := range rs {
		r.Index, r.Default = i, true
		r.events = expand(r.On)
		// They compile without errors (TestDefaultsCompile).
		r.When.compile(nil)
		for j := range r.Do {
			r.Do[j].compile(&Engine{secrets: map[string][]byte{}})
		}
	}
	return rs
}
