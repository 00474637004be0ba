// Package activity builds the phone-call activity of a journal entry and queues it for
// the CRM through the durable outbox: one activity per call, keyed by the call's id, so
// that the automatic log at the end of a call and the notes agents save are one record.
// A queued write names only the call: the activity is built from the call's journal
// entry when it is delivered, so the CRM gets what is true then (a save that races the
// end of the call is never lost).
package activity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/store"
)

// Kind is the outbox kind of activity writes.
const Kind = "crm.activity"

// Key is the idempotency key of a call's activity.
func Key(callID string) string { return "call:" + callID }

// Build makes the activity of a journal entry. agentOf maps an extension to the user name
// and email of the agent at it ("" when nobody).
func Build(rec store.CallRecord, agentOf func(ext string) (user, email string), now time.Time) crm.Activity {
	c := rec.Call
	a := crm.Activity{
		Key:       Key(c.ID),
		CallID:    c.ID,
		Notes:     FormatNotes(rec.Notes),
		Direction: string(c.Direction),
		Number:    c.Remote.Number,
		Start:     c.StartedAt,
		End:       c.EndedAt,
		Duration:  c.Duration(now).Round(time.Second),
		Missed:    c.Missed,
		Open:      c.Missed,
	}
	if a.Number == "" {
		a.Number = c.Remote.Raw
	}
	who := displayName(rec)
	switch {
	case c.Missed:
		a.Subject = "Missed call from " + who
	case c.Direction == call.Outbound && c.AnsweredAt.IsZero():
		a.Subject = "Unanswered call to " + who
	case c.Direction == call.Outbound:
		a.Subject = "Outgoing call to " + who
	case c.Direction == call.Internal:
		a.Subject = "Internal call with " + who
	default:
		a.Subject = "Incoming call from " + who
	}
	if rec.Regarding != nil {
		r := *rec.Regarding
		a.Regarding = &r
	} else if len(rec.Matches) > 0 {
		r := rec.Matches[0].Ref
		a.Regarding = &r
	}
	ext := c.AnsweredBy
	if ext == "" && len(c.Legs) > 0 {
		ext = c.Legs[0].Extension
	}
	if ext != "" && agentOf != nil {
		a.Agent, a.AgentEmail = agentOf(ext)
	}
	a.Agents = agents(c, agentOf)
	// What a log_activity rule chose.
	if rec.LogSubject != "" {
		a.Subject = rec.LogSubject
	}
	if rec.LogOwner != "" && a.Missed {
		a.Agent, a.AgentEmail = rec.LogOwner, ""
	}
	return a
}

// FormatNotes writes a call's notes entries as the activity's description: each entry
// under a line with its author and time, line breaks kept, entries apart by a blank line.
func FormatNotes(notes []store.Note) string {
	var b strings.Builder
	for i, n := range notes {
		if i > 0 {
			b.WriteString("\n\n")
		}
		author := n.Author
		if author == "" {
			author = "(notes from before authors were kept)"
		}
		b.WriteString(author)
		if !n.At.IsZero() {
			b.WriteString(" · " + n.At.UTC().Format("2006-01-02 15:04 UTC"))
		}
		b.WriteString("\n")
		b.WriteString(n.Text)
	}
	return b.String()
}

// agents lists the users of the legs that talked, in the order they answered.
func agents(c call.Call, agentOf func(ext string) (string, string)) []string {
	legs := slices.Clone(c.Legs)
	slices.SortStableFunc(legs, func(a, b call.Leg) int { return a.AnsweredAt.Compare(b.AnsweredAt) })
	var out []string
	for _, l := range legs {
		if l.AnsweredAt.IsZero() {
			continue
		}
		u := l.User
		if u == "" && agentOf != nil {
			u, _ = agentOf(l.Extension)
		}
		if u != "" && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

func displayName(rec store.CallRecord) string {
	num := rec.Call.Remote.Number
	if num == "" {
		num = rec.Call.Remote.Raw
	}
	if rec.Call.Remote.Withheld || num == "" {
		num = "a withheld number"
	}
	name := rec.RegardingName
	company := ""
	if name == "" && len(rec.Matches) > 0 {
		name, company = rec.Matches[0].Name, rec.Matches[0].Company
	}
	if name == "" {
		return num
	}
	if company != "" && company != name {
		return fmt.Sprintf("%s (%s)", name, company)
	}
	return name
}

// Enqueuer is the part of the store that queues writes.
type Enqueuer interface {
	Enqueue(ctx context.Context, it store.OutboxItem) (int64, error)
}

// request is the payload of a queued write: the call whose activity to write. (Items
// queued by earlier versions carry a whole crm.Activity, whose call_id is read the same
// way.)
type request struct {
	CallID string `json:"call_id"`
}

// Queue asks for the activity of call callID to be written. Writes of one call are
// delivered in order (group = call), each built from the journal when it is delivered.
func Queue(ctx context.Context, q Enqueuer, callID string) error {
	if _, err := q.Enqueue(ctx, Item(callID)); err != nil {
		return fmt.Errorf("activity: queue %s: %w", callID, err)
	}
	return nil
}

// Item is the outbox item that writes the activity of call callID (built from its
// journal entry when it is delivered).
func Item(callID string) store.OutboxItem {
	b, _ := json.Marshal(request{CallID: callID}) // a struct of one string: cannot fail
	return store.OutboxItem{Kind: Kind, Key: Key(callID), Group: "call:" + callID, Payload: b}
}

// Journal is the part of the store a delivery reads.
type Journal interface {
	GetCall(ctx context.Context, id string) (store.CallRecord, error)
}

// Handler returns the outbox handler that writes activities with logger, each built
// from the call's journal entry at delivery (agentOf names the agents, as for Build).
// A call no longer in the journal (forgotten, purged) has nothing to write.
func Handler(logger crm.ActivityLogger, j Journal, agentOf func(ext string) (user, email string)) func(ctx context.Context, it store.OutboxItem) error {
	return func(ctx context.Context, it store.OutboxItem) error {
		var r request
		if err := json.Unmarshal(it.Payload, &r); err != nil || r.CallID == "" {
			return fmt.Errorf("activity: undecodable outbox payload (no call_id): %v", err)
		}
		rec, err := j.GetCall(ctx, r.CallID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("activity: reading call %s: %w: %w", r.CallID, crm.ErrUnavailable, err)
		}
		return logger.LogCall(ctx, Build(rec, agentOf, time.Now()))
	}
}
