// Package crm declares the CRM seam: a Directory that finds records by phone number, its
// optional capabilities (creating records, logging calls), and the values they exchange.
// Each CRM adapter lives in its own folder below this one.
package crm

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ringside/ringside/internal/phone"
)

// Entity is the kind of a CRM record.
type Entity string

// Entities every adapter knows.
const (
	Contact Entity = "contact"
	Account Entity = "account"
	Lead    Entity = "lead"
)

// Valid reports whether e is one of the known entities.
func (e Entity) Valid() bool { return e == Contact || e == Account || e == Lead }

// Ref names one record.
type Ref struct {
	Entity Entity `json:"entity"`
	ID     string `json:"id"`
}

// Phone fields a record can carry.
const (
	FieldBusiness = "business"
	FieldMobile   = "mobile"
	FieldHome     = "home"
	FieldOther    = "other"
)

// A Phone is one number of a record, as the CRM stores it.
type Phone struct {
	Field string `json:"field"` // business, mobile, home, other (or the CRM's column)
	Raw   string `json:"raw"`   // as stored, free text
}

// A Record is a contact, account or lead.
type Record struct {
	Ref
	Name      string  `json:"name"` // display name: "Jane Doe", or the account's name
	FirstName string  `json:"first_name,omitempty"`
	LastName  string  `json:"last_name,omitempty"`
	Company   string  `json:"company,omitempty"`
	Email     string  `json:"email,omitempty"`
	Country   string  `json:"country,omitempty"` // ISO region used to read its numbers
	AccountID string  `json:"account_id,omitempty"`
	Phones    []Phone `json:"phones,omitempty"`
	URL       string  `json:"url,omitempty"` // where "Open in CRM" goes
}

// A Match is a record found for a number, with how it was found.
type Match struct {
	Record
	Number string          `json:"number"` // the number as the CRM stores it
	Field  string          `json:"field,omitempty"`
	How    phone.MatchKind `json:"match"` // exact or suffix
}

// A Directory finds CRM records by phone number.
type Directory interface {
	// Lookup returns every record with a phone that matches n. No match is not an error.
	Lookup(ctx context.Context, n phone.Number) ([]Match, error)
	// Get returns one record, or an error wrapping ErrNotFound.
	Get(ctx context.Context, ref Ref) (Record, error)
}

// A Creator creates records (the unknown-caller dialog).
type Creator interface {
	// Create stores r (its ID is ignored) and returns it as stored, with ID and URL.
	Create(ctx context.Context, r Record) (Record, error)
}

// An Activity is a phone call to be written to the CRM.
type Activity struct {
	Key        string        `json:"key"` // idempotency key: the same key updates the same activity
	CallID     string        `json:"call_id"`
	Subject    string        `json:"subject"`
	Notes      string        `json:"notes,omitempty"`
	Direction  string        `json:"direction"` // inbound, outbound, internal
	Number     string        `json:"number"`    // the remote number (E.164 when known)
	Regarding  *Ref          `json:"regarding,omitempty"`
	Agent      string        `json:"agent,omitempty"` // the Ringside user who had the call
	AgentEmail string        `json:"agent_email,omitempty"`
	Start      time.Time     `json:"start"`
	End        time.Time     `json:"end,omitzero"`
	Duration   time.Duration `json:"duration"`
	Missed     bool          `json:"missed,omitempty"`
	Open       bool          `json:"open,omitempty"` // leave the activity open (e.g. missed call to call back)

	// Agents are every user who talked on the call, in order (a transfer chain); Agent
	// is the last of them, who owns the activity.
	Agents []string `json:"agents,omitempty"`
}

// An ActivityLogger writes phone-call activities.
type ActivityLogger interface {
	// LogCall records a call. The outbox calls it again after failures, so it must be
	// idempotent on a.Key: a second call with the same key updates, never duplicates.
	LogCall(ctx context.Context, a Activity) error
}

// Errors adapters wrap.
var (
	ErrNotFound    = errors.New("crm: not found")
	ErrUnavailable = errors.New("crm: unavailable") // down, 429, 5xx, timeouts: the outbox retries only these
)

// RetryAfterError is an ErrUnavailable that says when to try again (HTTP 429/503
// Retry-After).
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
}

// Unwrap makes errors.Is(err, ErrUnavailable) true.
func (e *RetryAfterError) Unwrap() []error { return []error{ErrUnavailable, e.Err} }

// SyncStatus is the state of an adapter's local phone index, for the admins' Phone
// systems page.
type SyncStatus struct {
	Ready       bool      `json:"ready"`             // complete: lookups are answered locally
	Running     bool      `json:"running"`           // a sync is under way
	Done        int       `json:"done"`              // records read by the sync under way, or the last one
	Total       int       `json:"total"`             // records that sync reads, when the CRM said (else 0)
	Records     int       `json:"records"`           // records in the index
	Started     time.Time `json:"started,omitzero"`  // when the sync under way, or the last one, began
	Finished    time.Time `json:"finished,omitzero"` // when the last sync ended (with or without an error)
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// A SyncReporter keeps a local phone index and reports its state.
type SyncReporter interface {
	SyncStatus() SyncStatus
}
