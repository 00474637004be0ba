package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/ringside/ringside/internal/agent"
	"github.com/ringside/ringside/internal/store"
)

// Companion is the server side of the desktop companion protocol (see
// internal/companion/README.md).
type Companion interface {
	// Serve runs one companion connection of u (id says which credential opened it, for
	// the hub's caps and closing): it upgrades the request to a WebSocket and returns when
	// the connection ends.
	Serve(rw http.ResponseWriter, r *http.Request, u store.User, id agent.Identity)
	// Control asks u's companion to "answer" or "hang up" ("hangup") callID ("" for the
	// phone's current call); errors wrapping ErrNoCompanion mean none is connected.
	Control(ctx context.Context, u store.User, action, callID string) error
}

// ErrNoCompanion says that the user has no desktop companion connected.
var ErrNoCompanion = errors.New("no desktop companion is connected for you: start `ringside agent` on your PC")

// companion serves GET /api/v1/companion: the companion's WebSocket. It takes agent
// tokens only: a browser session has no business speaking for a phone.
func (w *Web) companion(rw http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if p.session {
		apiError(rw, http.StatusForbidden, "the desktop companion signs in with an agent token (ringside tokens create --user NAME)")
		return
	}
	if w.d.Companion == nil {
		apiError(rw, http.StatusNotImplemented, "this server does not take desktop companions")
		return
	}
	w.d.Companion.Serve(rw, r, p.user, p.identity("companion"))
}

// companionControl serves POST /api/v1/companion/{action} (answer, hangup) with an
// optional {"call_id": "..."}: the Ringside page answers or hangs up the softphone.
func (w *Web) companionControl(rw http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	if action != "answer" && action != "hangup" {
		apiError(rw, http.StatusNotFound, "unknown companion action: use answer or hangup")
		return
	}
	var body struct {
		CallID string `json:"call_id"`
	}
	if r.ContentLength != 0 && !decode(rw, r, &body) {
		return
	}
	if len(body.CallID) > 512 {
		apiError(rw, http.StatusBadRequest, `field "call_id" is too long`)
		return
	}
	if w.d.Companion == nil {
		apiError(rw, http.StatusNotImplemented, "this server does not take desktop companions")
		return
	}
	if err := w.d.Companion.Control(r.Context(), principalOf(r).user, action, body.CallID); err != nil {
		if errors.Is(err, ErrNoCompanion) {
			apiError(rw, http.StatusConflict, err.Error())
			return
		}
		apiError(rw, http.StatusBadGateway, err.Error())
		return
	}
	writeJSON(rw, http.StatusAccepted, map[string]string{"done": action})
}
