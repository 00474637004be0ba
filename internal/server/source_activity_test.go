package server

import (
	"testing"
	"time"
)

// A source's activity: events in the last 60 seconds (older ones drop out second by
// second), the last event, and since when the state words hold.
func TestSourceActivity(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	var a sourceActivity
	a.state("connecting", t0)
	a.state("up", t0.Add(2*time.Second))
	a.state("up", t0.Add(9*time.Second)) // no change: since stays
	for _, d := range []time.Duration{3, 3, 30, 62} {
		a.signal(t0.Add(d * time.Second))
	}
	for _, c := range []struct {
		at   time.Duration
		want int
	}{
		{62 * time.Second, 4}, // 59 s after the two at 3 s: still within the minute
		{63 * time.Second, 2}, // now they are out: 30 s and 62 s
		{89 * time.Second, 2},
		{90 * time.Second, 1},  // 30 s is out
		{122 * time.Second, 0}, // everything is older than a minute
	} {
		v := a.view(t0.Add(c.at))
		if v.EventsLastMinute != c.want {
			t.Errorf("at %v: %d events in the last minute, want %d", c.at, v.EventsLastMinute, c.want)
		}
		if !v.Since.Equal(t0.Add(2*time.Second)) || !v.LastEvent.Equal(t0.Add(62*time.Second)) {
			t.Errorf("at %v: since %v, last %v", c.at, v.Since, v.LastEvent)
		}
	}
	a.state("down: connection refused", t0.Add(200*time.Second))
	if v := a.view(t0.Add(201 * time.Second)); !v.Since.Equal(t0.Add(200 * time.Second)) {
		t.Errorf("since %v after going down", v.Since)
	}
}
