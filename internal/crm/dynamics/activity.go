package dynamics

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ringside/ringside/internal/crm"
)

// activityNamespace is the UUIDv5 namespace of phone-call activity ids (random, fixed).
var activityNamespace = [16]byte{0x5b, 0x0e, 0x8a, 0x43, 0x2f, 0x71, 0x4c, 0x1d, 0x9a, 0x36, 0xd2, 0x57, 0x8e, 0x40, 0xc1, 0x6f}

// ActivityID is the phonecall activityid Ringside uses for the idempotency key key: a
// name-based (SHA-1, version 5) UUID, so every retry and every edit hits the same record.
func ActivityID(key string) string {
	h := sha1.New()
	h.Write(activityNamespace[:])
	h.Write([]byte(key))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// Phone-call state and status codes.
const (
	stateOpen, stateCompleted = 0, 1
	statusOpen                = 1
	statusMade                = 2 // outgoing, completed
	statusReceived            = 4 // incoming, completed
)

// LogCall writes a as a phonecall activity whose id derives from a.Key, in one request
// in the common case: a $batch change set that upserts the activity with its parties
// and regarding (PATCH with the id creates or updates it) and completes it unless
// a.Open. A completed phonecall is read-only, so a later write (notes saved after the
// call) reopens it in the same change set: the adapter remembers which phonecalls it
// completed, and otherwise learns it from the refused change set (which Dataverse rolls
// back whole) and sends the reopening one. Change sets are atomic and every step is
// idempotent, so the outbox may call LogCall again after any failure, a timeout after
// Dataverse applied the write included.
func (d *Directory) LogCall(ctx context.Context, a crm.Activity) error {
	if a.Key == "" {
		return errors.New("dynamics: log call: the activity has no key")
	}
	id := ActivityID(a.Key)
	u := d.cfg.api + "phonecalls(" + id + ")"
	body, err := d.activityBody(ctx, a)
	if err != nil {
		return err
	}
	reopen := request{op: "reopen phone call", method: http.MethodPatch, url: u,
		header: map[string]string{"If-Match": "*"},
		body:   map[string]any{"statecode": stateOpen, "statuscode": statusOpen}}
	// PATCH with the id is an upsert: it creates the activity with this very id or
	// updates it, so a retry after a timeout never duplicates it.
	steps := []request{{op: "write phone call", method: http.MethodPatch, url: u, body: body}}
	if !a.Open {
		status := statusReceived
		if a.Direction != "inbound" {
			status = statusMade
		}
		steps = append(steps, request{op: "complete phone call", method: http.MethodPatch, url: u,
			header: map[string]string{"If-Match": "*"},
			body:   map[string]any{"statecode": stateCompleted, "statuscode": status}})
	}
	if !d.completed.has(id) {
		err := d.changeset(ctx, "log call", steps...)
		if e, ok := errors.AsType[*Error](err); !ok || e.Status != http.StatusBadRequest {
			d.completed.set(id, err == nil && !a.Open)
			return err
		}
		// Refused: most likely the phonecall exists and is completed (read-only).
	}
	err = d.changeset(ctx, "log call", append([]request{reopen}, steps...)...)
	if errors.Is(err, crm.ErrNotFound) {
		// Deleted in the CRM since we completed it: write it anew.
		err = d.changeset(ctx, "log call", steps...)
	}
	d.completed.set(id, err == nil && !a.Open)
	return err
}

// idSet is a bounded set of phonecall ids the adapter completed (forgotten wholesale
// when full: a forgotten id costs one more request on its next write, nothing else).
type idSet struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

const maxCompletedIDs = 16384

func (s *idSet) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.ids[id]
	return ok
}

func (s *idSet) set(id string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !on {
		delete(s.ids, id)
		return
	}
	if s.ids == nil || len(s.ids) >= maxCompletedIDs {
		s.ids = map[string]struct{}{}
	}
	s.ids[id] = struct{}{}
}

// activityBody is the phonecall columns for a.
func (d *Directory) activityBody(ctx context.Context, a crm.Activity) (map[string]any, error) {
	outbound := a.Direction != "inbound"
	subject := a.Subject
	if subject == "" {
		if outbound {
			subject = "Outgoing call to " + a.Number
		} else {
			subject = "Incoming call from " + a.Number
		}
	}
	desc := a.Notes
	if len(a.Agents) > 1 {
		// A transferred call: the owner is the last agent; the description keeps them all.
		desc = strings.TrimSpace("Handled by " + strings.Join(a.Agents, " → ") + "\n\n" + desc)
	}
	m := map[string]any{
		"subject":       truncate(subject, 200),
		"phonenumber":   truncate(a.Number, 200),
		"directioncode": outbound,
		"description":   truncate(desc, 2000),
	}
	dur := a.Duration
	if dur == 0 && !a.End.IsZero() && !a.Start.IsZero() {
		dur = a.End.Sub(a.Start)
	}
	m["actualdurationminutes"] = int(math.Ceil(dur.Minutes()))
	if !a.Start.IsZero() {
		m["actualstart"] = a.Start.UTC().Format(time.RFC3339)
		end := a.End
		if end.IsZero() {
			end = a.Start.Add(dur)
		}
		m["actualend"] = end.UTC().Format(time.RFC3339)
	}
	var parties []map[string]any
	callerMask, agentMask := 1, 2 // inbound: the caller is the sender ("call from")
	if outbound {
		callerMask, agentMask = 2, 1
	}
	if r := a.Regarding; r != nil && r.Entity.Valid() && isGUID(r.ID) {
		set := newTable(r.Entity, nil).set
		m["regardingobjectid_"+string(r.Entity)+"_phonecall@odata.bind"] = "/" + set + "(" + r.ID + ")"
		parties = append(parties, map[string]any{"partyid_" + string(r.Entity) + "@odata.bind": "/" + set + "(" + r.ID + ")", "participationtypemask": callerMask})
	}
	user, err := d.systemUser(ctx, a)
	if err != nil {
		return nil, err
	}
	if user != "" {
		parties = append(parties, map[string]any{"partyid_systemuser@odata.bind": "/systemusers(" + user + ")", "participationtypemask": agentMask})
	}
	if len(parties) > 0 {
		m["phonecall_activity_parties"] = parties
	}
	return m, nil
}

// systemUser maps the agent to a systemuserid: user_map by name or email, else the
// systemuser whose primary email or user name is the agent's email ("" when none).
func (d *Directory) systemUser(ctx context.Context, a crm.Activity) (string, error) {
	for _, k := range []string{a.Agent, a.AgentEmail, strings.ToLower(a.AgentEmail)} {
		if id, ok := d.cfg.UserMap[k]; ok && k != "" {
			return id, nil
		}
	}
	email := strings.ToLower(strings.TrimSpace(a.AgentEmail))
	if email == "" {
		return "", nil
	}
	d.userMu.Lock()
	id, ok := d.users[email]
	d.userMu.Unlock()
	if ok {
		return id, nil
	}
	var reply struct {
		Value []struct {
			ID string `json:"systemuserid"`
		} `json:"value"`
	}
	u := d.cfg.api + "systemusers?$select=systemuserid&$filter=internalemailaddress%20eq%20" + quote(email) + "%20or%20domainname%20eq%20" + quote(email) + "&$top=1"
	if err := d.c.getJSON(ctx, "find systemuser", u, nil, &reply); err != nil {
		return "", err
	}
	if len(reply.Value) > 0 {
		id = reply.Value[0].ID
	}
	if id == "" {
		d.log.Warn("no systemuser for agent; activity written without the agent party", "user", a.Agent)
	}
	d.userMu.Lock()
	d.users[email] = id
	d.userMu.Unlock()
	return id, nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
