package server

import (
	"strings"
	"testing"
)

// /metrics says what the issue lists: pop latency, lookups by source and result, CRM
// request latency, connected agents, outbox depth, phone-system connection state.
func TestMetrics(t *testing.T) {
	r := newRig(t, "")
	alice := r.stream("alice")
	// The second call of one number is answered from the cache only once the first
	// lookup has finished: sent together, the two calls' owners may look it up at the
	// same moment and share one request (both counted from the index; failed under -race).
	r.events(ring("met-1", janeNumber, "200"))
	eventually(t, "the first lookup", func() bool {
		_, body := r.do("GET", "/metrics", "", "")
		return strings.Contains(body, `ringside_lookups_total{result="found",source="index"} 1`)
	})
	r.events(ring("met-2", janeNumber, "200"), ring("met-3", "+44 20 7946 0000", "200"))
	alice.wait(t, msg("met-3", "call.ringing"))
	var body string
	eventually(t, "metrics", func() bool {
		_, body = r.do("GET", "/metrics", "", "")
		return strings.Contains(body, "ringside_pop_latency_seconds_count 3") && strings.Contains(body, `ringside_source_up{source="webhook"} 1`)
	})
	for _, want := range []string{
		`ringside_lookups_total{result="found",source="index"} 1`,
		`ringside_lookups_total{result="found",source="cache"} 1`,
		`ringside_lookups_total{result="unknown",source="index"} 1`,
		`ringside_crm_request_seconds_count{op="lookup"} 2`,
		`ringside_agents_connected 1`,
		`ringside_outbox_items{state="pending"}`,
		`ringside_call_events_total{type="call.ringing"} 3`,
		`ringside_build_info{commit=`,
		`ringside_source_state{source="webhook",state="up"} 1`,
		`ringside_source_state{source="webhook",state="down"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", body)
	}
}
