package dynamics

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/ringside/ringside/internal/crm"
)

// Error is a request the CRM refused for a reason retrying cannot fix (a 4xx other than
// 401 and 429). Message is the CRM's own error.message.
type Error struct {
	Op      string // what Ringside tried, e.g. "create contact"
	Status  int    // HTTP status
	Code    string // Dataverse error.code, e.g. 0x80040217 (not an HTTP status; may be empty)
	Message string // Dataverse error.message
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Code != "" {
		return fmt.Sprintf("dynamics: %s: %d %s (%s)", e.Op, e.Status, msg, e.Code)
	}
	return fmt.Sprintf("dynamics: %s: %d %s", e.Op, e.Status, msg)
}

// Is makes a 404 match crm.ErrNotFound.
func (e *Error) Is(target error) bool {
	return target == crm.ErrNotFound && e.Status == http.StatusNotFound
}

// client signs in and sends Web API requests, classifying failures.
type client struct {
	cfg  *resolved
	hc   *http.Client
	cc   clientcredentials.Config
	now  func() time.Time
	mu   sync.Mutex
	tok  *oauth2.Token
	next time.Time // when to renew tok

	pauseMu sync.Mutex
	until   time.Time // no request before this: Dataverse answered 429 with Retry-After
}

func newClient(cfg *resolved, hc *http.Client, now func() time.Time) *client {
	return &client{
		cfg: cfg, hc: hc, now: now,
		cc: clientcredentials.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.secret,
			TokenURL:     cfg.tokenURL,
			Scopes:       []string{strings.TrimSuffix(cfg.base.String(), "/") + "/.default"},
			AuthStyle:    oauth2.AuthStyleInParams,
		},
	}
}

// token returns a cached access token, renewing it well before it expires (Entra gives
// tokens a varying lifetime, and this flow has no refresh token).
func (c *client) token(ctx context.Context, renew bool) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if !renew && c.tok != nil && now.Before(c.next) {
		return c.tok.AccessToken, nil
	}
	tctx, cancel := context.WithTimeout(context.WithValue(ctx, oauth2.HTTPClient, c.hc), c.cfg.Timeout)
	defer cancel()
	tok, err := c.cc.Token(tctx)
	if err != nil {
		c.tok = nil
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 && re.Response.StatusCode != http.StatusTooManyRequests {
			desc := re.ErrorDescription
			if desc == "" {
				desc = re.ErrorCode
			}
			return "", fmt.Errorf("dynamics: sign in to %s: %s (check tenant_id, client_id and the client secret)", c.cfg.tokenURL, firstLine(desc))
		}
		return "", fmt.Errorf("dynamics: sign in to %s: %w: %w", c.cfg.tokenURL, crm.ErrUnavailable, stripSecret(err, c.cfg.secret))
	}
	life := time.Hour // Dataverse's "about an hour" when the reply says nothing
	switch {
	case tok.ExpiresIn > 0:
		life = time.Duration(tok.ExpiresIn) * time.Second
	case !tok.Expiry.IsZero():
		life = time.Until(tok.Expiry)
	}
	// Renew at 80% of the lifetime, at most 5 minutes before expiry.
	margin := min(life/5, 5*time.Minute)
	c.tok, c.next = tok, now.Add(life-margin)
	return tok.AccessToken, nil
}

func stripSecret(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), secret, "***"))
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

// request is one Web API call.
type request struct {
	op      string // for errors: "read contacts"
	method  string
	url     string // absolute
	body    any    // JSON-encoded when non-nil
	raw     []byte // or a raw body with contentType
	ctype   string
	prefer  []string
	header  map[string]string
	timeout time.Duration // default cfg.Timeout
}

// response is a successful reply.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends r with a bearer token, renews the token once on 401, and classifies errors:
// network failures, timeouts, 5xx and 429 wrap crm.ErrUnavailable (a *crm.RetryAfterError
// when the CRM said when to come back); other 4xx are an *Error.
func (c *client) do(ctx context.Context, r request) (*response, error) {
	if err := c.sameOrigin(r.url); err != nil {
		return nil, err
	}
	if wait := c.paused(); wait > 0 {
		return nil, &crm.RetryAfterError{After: wait, Err: fmt.Errorf("dynamics: %s: not sent: the CRM asked to wait %s more (429, service protection limits): %w",
			r.op, wait.Round(time.Second), crm.ErrUnavailable)}
	}
	for attempt := 0; ; attempt++ {
		tok, err := c.token(ctx, attempt > 0)
		if err != nil {
			return nil, err
		}
		resp, err := c.send(ctx, r, tok)
		if err != nil {
			return nil, err
		}
		if resp.status == http.StatusUnauthorized {
			if attempt == 0 {
				continue
			}
			return nil, fmt.Errorf("dynamics: %s: the CRM rejected a fresh access token (401): %w", r.op, crm.ErrUnavailable)
		}
		if resp.status >= 200 && resp.status < 300 {
			return resp, nil
		}
		err = classify(r.op, resp, c.now)
		if ra, ok := errors.AsType[*crm.RetryAfterError](err); ok && resp.status == http.StatusTooManyRequests {
			c.pause(ra.After)
		}
		return nil, err
	}
}

// pause holds back every request of this application user for d: Dataverse's service
// protection limits count per user, and "the Retry-After duration ... before any new
// requests from the user can be processed" applies to all of them (activity writes,
// sync, live lookups).
func (c *client) pause(d time.Duration) {
	c.pauseMu.Lock()
	defer c.pauseMu.Unlock()
	if until := c.now().Add(d); until.After(c.until) {
		c.until = until
	}
}

// paused returns how long requests must still wait (0: none).
func (c *client) paused() time.Duration {
	c.pauseMu.Lock()
	defer c.pauseMu.Unlock()
	return max(c.until.Sub(c.now()), 0)
}

func (c *client) send(ctx context.Context, r request, tok string) (*response, error) {
	timeout := r.timeout
	if timeout == 0 {
		timeout = c.cfg.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	ctype := r.ctype
	switch {
	case r.body != nil:
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("dynamics: %s: encode body: %w", r.op, err)
		}
		body, ctype = bytes.NewReader(b), "application/json; charset=utf-8"
	case r.raw != nil:
		body = bytes.NewReader(r.raw)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return nil, fmt.Errorf("dynamics: %s: %w", r.op, err)
	}
	h := req.Header
	h.Set("Authorization", "Bearer "+tok)
	h.Set("Accept", "application/json")
	h.Set("OData-MaxVersion", "4.0")
	h.Set("OData-Version", "4.0")
	h.Set("If-None-Match", "null")
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	if len(r.prefer) > 0 {
		h.Set("Prefer", strings.Join(r.prefer, ","))
	}
	for k, v := range r.header {
		h.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("dynamics: %s: %w: %w", r.op, crm.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 512<<20))
	if err != nil {
		return nil, fmt.Errorf("dynamics: %s: read response: %w: %w", r.op, crm.ErrUnavailable, err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// classify turns a non-2xx reply into an error. A $batch reply's error is its failing
// operation's.
func classify(op string, resp *response, now func() time.Time) error {
	if f := batchFailure(resp); f != nil {
		return classify(op, f, now)
	}
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(resp.body, &e) // the body may be empty (401) or not JSON (a proxy)
	msg := firstLine(e.Error.Message)
	switch {
	case resp.status == http.StatusTooManyRequests || resp.status >= 500 || resp.status == http.StatusRequestTimeout:
		err := fmt.Errorf("dynamics: %s: %d %s%s: %w", op, resp.status, http.StatusText(resp.status), suffix(msg), crm.ErrUnavailable)
		if after, ok := retryAfter(resp.header.Get("Retry-After"), now); ok {
			return &crm.RetryAfterError{After: after, Err: err}
		}
		return err
	}
	return &Error{Op: op, Status: resp.status, Code: e.Error.Code, Message: msg}
}

func suffix(msg string) string {
	if msg == "" {
		return ""
	}
	return " (" + msg + ")"
}

// retryAfter reads a Retry-After header: seconds (what Dataverse sends) or an HTTP date.
func retryAfter(v string, now func() time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now()), 0), true
	}
	return 0, false
}

// sameOrigin refuses to send the bearer token anywhere but the configured environment
// (next and delta links come from the server and are followed verbatim).
func (c *client) sameOrigin(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("dynamics: bad request URL: %w", err)
	}
	if u.Scheme != c.cfg.base.Scheme || !strings.EqualFold(u.Host, c.cfg.base.Host) {
		return fmt.Errorf("dynamics: refusing to send the access token to %s://%s (not the configured url)", u.Scheme, u.Host)
	}
	return nil
}

// getJSON GETs u and decodes the JSON reply into v.
func (c *client) getJSON(ctx context.Context, op, u string, prefer []string, v any) error {
	resp, err := c.do(ctx, request{op: op, method: http.MethodGet, url: u, prefer: prefer})
	if err != nil {
		return err
	}
	if err := json.Unmarshal(resp.body, v); err != nil {
		return fmt.Errorf("dynamics: %s: decode reply: %w", op, err)
	}
	return nil
}

// batchFailure returns the first failed operation of a $batch reply (nil when resp is
// not multipart or nothing in it failed), looking into change sets.
func batchFailure(resp *response) *response {
	mt, params, err := mime.ParseMediaType(resp.header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		return nil
	}
	mr := multipart.NewReader(bytes.NewReader(resp.body), params["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			return nil
		}
		b, err := io.ReadAll(part)
		if err != nil {
			return nil
		}
		if pmt, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); strings.HasPrefix(pmt, "multipart/") {
			h := http.Header{}
			h.Set("Content-Type", part.Header.Get("Content-Type"))
			if f := batchFailure(&response{status: resp.status, header: h, body: b}); f != nil {
				return f
			}
			continue
		}
		hr, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
		if err != nil {
			continue
		}
		rb, _ := io.ReadAll(hr.Body)
		hr.Body.Close()
		if hr.StatusCode >= 300 {
			return &response{status: hr.StatusCode, header: hr.Header, body: rb}
		}
	}
}
