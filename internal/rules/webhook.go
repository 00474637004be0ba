package rules

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/store"
)

// WebhookKind is the outbox kind of webhook deliveries.
const WebhookKind = "webhook"

// Webhook request headers.
const (
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body, keyed with the
	// webhook's secret.
	SignatureHeader = "X-Ringside-Signature"
	// DeliveryHeader carries the delivery id (also the body's "id"): the same for every
	// attempt of one delivery, so that receivers can drop repeats.
	DeliveryHeader = "X-Ringside-Delivery"
	// EventHeader carries the rule event (inbound.ringing, …).
	EventHeader = "X-Ringside-Event"
)

// WebhookEvent is the JSON document a webhook posts.
type WebhookEvent struct {
	ID      string         `json:"id"`    // delivery id
	Event   string         `json:"event"` // rule event: inbound.ringing, …
	Type    call.EventType `json:"type"`  // stream event: call.ringing, …
	Time    time.Time      `json:"time"`
	Call    call.Call      `json:"call"`
	Leg     *call.Leg      `json:"leg,omitempty"`
	From    string         `json:"from,omitempty"` // call.transferred: the extension it came from
	Matches []crm.Match    `json:"matches"`
	Lookup  string         `json:"lookup"`
	Agent   string         `json:"agent,omitempty"`
	Users   []string       `json:"users,omitempty"`
}

// webhookPayload is what the outbox keeps of one delivery: no secret, only where to
// find it.
type webhookPayload struct {
	URL     string          `json:"url"`
	Secret  string          `json:"secret"` // env:NAME or file:PATH
	Timeout time.Duration   `json:"timeout"`
	Body    json.RawMessage `json:"body"`
}

// Sign returns the signature header value of body under secret: "sha256=<hex>".
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether header is a valid signature of body under secret (for
// receivers and tests; constant time).
func Verify(secret, body []byte, header string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(header))
}

// Webhooks returns the outbox items of r's webhook actions for in, in order. Items of one
// call to one URL share a group (a stream), so they are delivered in order, one at a
// time; each URL is its own stream, so one dead receiver does not hold back the others.
func (r Result) Webhooks(in *Input) ([]store.OutboxItem, error) {
	var out []store.OutboxItem
	for _, ru := range r.Fired {
		for i := range ru.Do {
			a := &ru.Do[i]
			if a.Do != ActWebhook {
				continue
			}
			ext := ""
			if in.Leg != nil {
				ext = in.Leg.Extension
			}
			id := fmt.Sprintf("%s:%s:%s:%d:%s:%d.%d", in.Call.Source, in.Call.ID, in.Event, in.Time.UnixNano(), ext, ru.Index, i)
			matches := in.Matches
			if matches == nil {
				matches = []crm.Match{}
			}
			body, err := json.Marshal(WebhookEvent{ID: id, Event: in.Event, Type: in.Type, Time: in.Time, Call: in.Call, Leg: in.Leg,
				From: in.From, Matches: matches, Lookup: in.Lookup, Agent: in.Agent, Users: in.Users})
			if err != nil {
				return out, fmt.Errorf("rules: webhook: %w", err)
			}
			p, err := json.Marshal(webhookPayload{URL: a.URL, Secret: a.secretRef, Timeout: a.Timeout, Body: body})
			if err != nil {
				return out, fmt.Errorf("rules: webhook: %w", err)
			}
			out = append(out, store.OutboxItem{Kind: WebhookKind, Key: id, Group: "webhook:" + a.URL + " " + in.Call.ID, Payload: p})
		}
	}
	return out, nil
}

// WebhookHandler returns the outbox handler that delivers webhooks: 2xx is delivered;
// 408, 429, 5xx and network faults are retried (honouring Retry-After); any other answer
// parks the item.
func (e *Engine) WebhookHandler() func(ctx context.Context, it store.OutboxItem) error {
	return func(ctx context.Context, it store.OutboxItem) error {
		var p webhookPayload
		if err := json.Unmarshal(it.Payload, &p); err != nil {
			return fmt.Errorf("webhook: undecodable outbox payload: %w", err)
		}
		e.mu.RLock()
		secret, ok := e.secrets[p.Secret]
		e.mu.RUnlock()
		if !ok {
			// Queued under another config: read the secret where it said.
			s, err := e.resolveSecret(p.Secret)
			if err != nil {
				return fmt.Errorf("webhook %s: %w", p.URL, err)
			}
			secret = s
		}
		if p.Timeout <= 0 {
			p.Timeout = defaultTimeout
		}
		ctx, cancel := context.WithTimeout(ctx, p.Timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(p.Body))
		if err != nil {
			return fmt.Errorf("webhook %s: the request cannot be built: %w", p.URL, err)
		}
		var ev struct {
			Event string `json:"event"`
		}
		json.Unmarshal(p.Body, &ev)
		// A request that cannot be sent is never retried (it would fail the same way).
		for name, v := range map[string]string{DeliveryHeader: it.Key, EventHeader: ev.Event} {
			if !validHeaderValue(v) {
				return fmt.Errorf("webhook %s: the request cannot be built: header %s has a control character", p.URL, name)
			}
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "ringside")
		req.Header.Set(SignatureHeader, Sign(secret, p.Body))
		req.Header.Set(DeliveryHeader, it.Key)
		req.Header.Set(EventHeader, ev.Event)
		resp, err := e.opt.HTTPClient.Do(req)
		if err != nil {
			return fmt.Errorf("webhook %s (%s): %w: %w", p.URL, it.Key, crm.ErrUnavailable, err)
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		switch {
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return nil
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
			err := fmt.Errorf("webhook %s (%s): %s: %w", p.URL, it.Key, resp.Status, crm.ErrUnavailable)
			if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s > 0 {
				return &crm.RetryAfterError{After: time.Duration(s) * time.Second, Err: err}
			}
			return err
		default:
			return fmt.Errorf("webhook %s (%s): the receiver refused the delivery: %s", p.URL, it.Key, resp.Status)
		}
	}
}

// validHeaderValue says whether v may be sent as an HTTP header value (no control
// characters other than tab).
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
