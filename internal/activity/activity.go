// Package activity builds the phone-call activity of a journal entry and queues it for
// the CRM through the durable outbox: one activity per call, keyed by the call's id, so
// that the automatic log at the end of a call and the notes an agent saves are one record.
package activity

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
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
		Notes:     rec.Notes,
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
	return a
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

// Queue puts a into the outbox. Writes of one call are delivered in order (group = call).
func Queue(ctx context.Context, q Enqueuer, a crm.Activity) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("activity: %w", err)
	}
	if _, err := q.Enqueue(ctx, store.OutboxItem{Kind: Kind, Key: a.Key, Group: "call:" + a.CallID, Payload: b}); err != nil {
		return fmt.Errorf("activity: queue %s: %w", a.CallID, err)
	}
	return nil
}

// Handler returns the outbox handler that writes activities with logger.
func Handler(logger crm.ActivityLogger) func(ctx context.Context, it store.OutboxItem) error {
	return func(ctx context.Context, it store.OutboxItem) error {
		var a crm.Activity
		if err := json.Unmarshal(it.Payload, &a); err != nil {
			return fmt.Errorf("activity: undecodable outbox payload: %w", err)
		}
		return logger.LogCall(ctx, a)
	}
}
