package web

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/crm"
)

// livePoll is how often the live board reads the calls in progress.
const livePoll = time.Second

// liveBoard is one message of the live board stream.
type liveBoard struct {
	At    time.Time   `json:"at"`
	Calls []call.Call `json:"calls"` // in progress, oldest first
}

// adminLive answers GET /api/v1/admin/live: a stream of Server-Sent Events, one
// "board" event with every call in progress when the stream opens and whenever the
// calls change (checked once a second), a comment line every 15 s to keep proxies
// from closing it.
func (w *Web) adminLive(rw http.ResponseWriter, r *http.Request) {
	fl, ok := rw.(http.Flusher)
	if !ok {
		apiError(rw, http.StatusInternalServerError, "streaming is not supported here")
		return
	}
	rw.Header().Set("Content-Type", "text/event-stream")
	rw.Header().Set("Cache-Control", "no-store")
	rw.Header().Set("X-Accel-Buffering", "no")
	rw.WriteHeader(http.StatusOK)
	fl.Flush()
	tick := time.NewTicker(livePoll)
	defer tick.Stop()
	var last []byte
	quiet := 0
	for {
		calls := []call.Call{}
		if w.d.ActiveCalls != nil {
			calls = append(calls, w.d.ActiveCalls()...)
		}
		sort.SliceStable(calls, func(i, j int) bool {
			return cmp.Or(calls[i].StartedAt.Compare(calls[j].StartedAt), strings.Compare(calls[i].ID, calls[j].ID)) < 0
		})
		// The board changes when a call comes, goes or changes state or legs; the time
		// on it runs in the browser.
		key, _ := json.Marshal(calls)
		if !bytes.Equal(key, last) {
			b, _ := json.Marshal(liveBoard{At: time.Now().UTC(), Calls: calls})
			if _, err := fmt.Fprintf(rw, "event: board\ndata: %s\n\n", b); err != nil {
				return
			}
			fl.Flush()
			last, quiet = key, 0
		} else if quiet++; quiet >= 15 {
			if _, err := fmt.Fprint(rw, ": keep-alive\n\n"); err != nil {
				return
			}
			fl.Flush()
			quiet = 0
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}

// checkTimeout bounds a "test connections" run (each connection has its own 15 s).
const checkTimeout = 60 * time.Second

// adminCheckSystems answers POST /api/v1/admin/systems/check: it connects to every
// configured phone system and the CRM once, as `ringside config check --connect` does,
// and answers {"ok": true} or {"ok": false, "problems": ["…", …]} (one line each).
func (w *Web) adminCheckSystems(rw http.ResponseWriter, r *http.Request) {
	if w.d.CheckConnections == nil {
		apiError(rw, http.StatusNotImplemented, "this server cannot test its connections")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
	defer cancel()
	problems := []string{}
	if err := w.d.CheckConnections(ctx); err != nil {
		for _, l := range strings.Split(err.Error(), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				problems = append(problems, l)
			}
		}
	}
	writeJSON(rw, http.StatusOK, map[string]any{"ok": len(problems) == 0, "problems": problems})
}

// system is one part of the server as the admin page shows it.
type system struct {
	Name  string `json:"name"` // store, crm, telephony/NAME, cluster…
	Up    bool   `json:"up"`
	State string `json:"state,omitempty"` // a phone system's state words ("up", "down: refused", "standby")
	Cause string `json:"cause,omitempty"` // why another part is not ready
	// A phone system's activity: since when it is in its state, its events in the last
	// minute, the last one.
	Since            time.Time `json:"since,omitzero"`
	LastEvent        time.Time `json:"last_event,omitzero"`
	EventsLastMinute *int      `json:"events_last_minute,omitempty"`
	// The CRM's local phone index, when it keeps one.
	Sync *crm.SyncStatus `json:"sync,omitempty"`
}

// adminSystems answers GET /api/v1/admin/systems: each part's state (as /readyz sees
// it), phone systems first.
func (w *Web) adminSystems(rw http.ResponseWriter, r *http.Request) {
	out := []system{}
	var acts map[string]Activity
	if w.d.Activity != nil {
		acts = w.d.Activity()
	}
	if w.d.Ready != nil {
		for name, cause := range w.d.Ready(r.Context()) {
			sys := system{Name: name, Up: readyValue(cause)}
			if strings.HasPrefix(name, "telephony/") {
				sys.State = cause
				if a, ok := acts[name]; ok {
					n := a.EventsLastMinute
					sys.Since, sys.LastEvent, sys.EventsLastMinute = a.Since, a.LastEvent, &n
				}
			} else if cause != "" {
				sys.Cause = cause
			}
			if name == "crm" && w.d.CRMSync != nil {
				sys.Sync = w.d.CRMSync()
			}
			out = append(out, sys)
		}
	}
	slices.SortFunc(out, func(a, b system) int {
		ta, tb := strings.HasPrefix(a.Name, "telephony/"), strings.HasPrefix(b.Name, "telephony/")
		if ta != tb {
			if ta {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	writeJSON(rw, http.StatusOK, map[string]any{"systems": out})
}
