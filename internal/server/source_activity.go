package server

import (
	"sync"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/web"
)

// sourceActivity is what the admins' Phone systems page shows of a source beside its state:
// since when it is in that state, its signals in the last minute, and the last one.
type sourceActivity struct {
	mu     sync.Mutex
	word   string    // the state words last seen
	since  time.Time // when they became that
	last   time.Time // the last signal
	counts [60]int   // signals per second, by second modulo 60
	secs   [60]int64 // the Unix second each count belongs to
}

// signal counts one signal at now.
func (a *sourceActivity) signal(now time.Time) {
	sec := now.Unix()
	i := sec % 60
	a.mu.Lock()
	if a.secs[i] != sec {
		a.secs[i], a.counts[i] = sec, 0
	}
	a.counts[i]++
	a.last = now
	a.mu.Unlock()
}

// state notes the source's state words at now, remembering when they changed.
func (a *sourceActivity) state(word string, now time.Time) {
	a.mu.Lock()
	if word != a.word || a.since.IsZero() {
		a.word, a.since = word, now
	}
	a.mu.Unlock()
}

// view reports the activity at now.
func (a *sourceActivity) view(now time.Time) web.Activity {
	a.mu.Lock()
	defer a.mu.Unlock()
	v := web.Activity{Since: a.since, LastEvent: a.last}
	to := now.Unix()
	from := to - 59
	for i, sec := range a.secs {
		if sec >= from && sec <= to {
			v.EventsLastMinute += a.counts[i]
		}
	}
	return v
}

// emitter returns the emit function of a source: signals go to the pipeline and are
// counted for the admins' page.
func (s *Server) emitter(ns namedSource) func(call.Signal) {
	return func(sig call.Signal) {
		if sig.Kind != call.SigResynced {
			ns.act.signal(time.Now())
		}
		s.pipe.Emit(sig)
	}
}

// activities samples the sources' states and returns their activity by system name
// (telephony/NAME), for the admins' Phone systems page.
func (s *Server) activities() map[string]web.Activity {
	now := time.Now()
	out := make(map[string]web.Activity, len(s.sources))
	for _, ns := range s.sources {
		ns.act.state(s.sourceReadiness(ns), now)
		out["telephony/"+ns.name] = ns.act.view(now)
	}
	return out
}

// crmSync reports the CRM adapter's local phone index, or nil when it keeps none.
func (s *Server) crmSync() *crm.SyncStatus {
	if r, ok := s.dir.(crm.SyncReporter); ok {
		st := r.SyncStatus()
		return &st
	}
	return nil
}
