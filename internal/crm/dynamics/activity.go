package dynamics

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
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

// LogCall writes a as a phonecall activity whose id derives from a.Key: it creates the
// activity, or updates it when it exists (reopening a completed one first, since
// completed calls are read-only), then completes it unless a.Open. Every step is
// idempotent, so the outbox may call LogCall again after any failure.
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
	var cur struct {
		State int `json:"statecode"`
	}
	err = d.c.getJSON(ctx, "read phone call", u+"?$select=statecode,statuscode", nil, &cur)
	exists := err == nil
	if err != nil && !errors.Is(err, crm.ErrNotFound) {
		return err
	}
	if exists && cur.State != stateOpen {
		if _, err := d.c.do(ctx, request{op: "reopen phone call", method: http.MethodPatch, url: u,
			header: map[string]string{"If-Match": "*"},
			body:   map[string]any{"statecode": stateOpen, "statuscode": statusOpen}}); err != nil {
			return err
		}
	}
	// PATCH with the id is an upsert: it creates the activity with this very id or
	// updates it, so a retry after a timeout never duplicates it.
	if _, err := d.c.do(ctx, request{op: "write phone call", method: http.MethodPatch, url: u, body: body}); err != nil {
		return err
	}
	if a.Open {
		return nil
	}
	status := statusReceived
	if a.Direction != "inbound" {
		status = statusMade
	}
	_, err = d.c.do(ctx, request{op: "complete phone call", method: http.MethodPatch, url: u,
		header: map[string]string{"If-Match": "*"},
		body:   map[string]any{"statecode": stateCompleted, "statuscode": status}})
	return err
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
