package rules

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/config"
	"github.com/ringside/ringside/internal/crm"
)

func TestWebhookHandler(t *testing.T) {
	cases := []struct {
		name      string
		status    int
		header    http.Header
		transient bool // wraps crm.ErrUnavailable: the outbox retries
		after     time.Duration
		ok        bool
	}{
		{name: "accepted", status: 204, ok: true},
		{name: "server error", status: 502, transient: true},
		{name: "rate limited", status: 429, header: http.Header{"Retry-After": {"7"}}, transient: true, after: 7 * time.Second},
		{name: "timeout status", status: 408, transient: true},
		{name: "refused", status: 403},
		{name: "gone", status: 410},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got *http.Request
			var body []byte
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, body = r, nil
				body, _ = io.ReadAll(r.Body)
				for k, v := range c.header {
					w.Header()[k] = v
				}
				w.WriteHeader(c.status)
			}))
			defer srv.Close()
			e := mustEngine(t, "rules:\n  - on: inbound.ringing\n    do: [{webhook: {url: \""+srv.URL+"/h\", secret_env: HOOK}}]\n")
			in := with(ringing("200"), func(in *Input) { in.Matches = []crm.Match{jane} })
			items, err := e.Evaluate(in).Webhooks(in)
			if err != nil || len(items) != 1 {
				t.Fatalf("%d items, %v", len(items), err)
			}
			it := items[0]
			if it.Kind != WebhookKind || it.Group != "webhook:"+srv.URL+"/h c-1" || strings.Contains(string(it.Payload), "s3cret") {
				t.Errorf("item %+v", it)
			}
			err = e.WebhookHandler()(t.Context(), it)
			if c.ok != (err == nil) || c.transient != errors.Is(err, crm.ErrUnavailable) {
				t.Errorf("err %v", err)
			}
			if ra, ok := errors.AsType[*crm.RetryAfterError](err); c.after != 0 && (!ok || ra.After != c.after) {
				t.Errorf("retry after: %v", err)
			}
			if !Verify([]byte("s3cret"), body, got.Header.Get(SignatureHeader)) || got.Header.Get(DeliveryHeader) != it.Key ||
				got.Header.Get(EventHeader) != InboundRinging || got.Header.Get("Content-Type") != "application/json" {
				t.Errorf("request headers %v", got.Header)
			}
			if !strings.Contains(string(body), `"name":"Jane Doe"`) || !strings.Contains(string(body), `"event":"inbound.ringing"`) {
				t.Errorf("body %s", body)
			}
		})
	}
}

func TestWebhookNetworkErrorIsTransient(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nobody listens there any more
	e := mustEngine(t, "rules:\n  - on: inbound.ringing\n    do: [{webhook: {url: \""+url+"\", secret_env: HOOK, timeout: 1s}}]\n")
	in := ringing("200")
	items, _ := e.Evaluate(in).Webhooks(in)
	if err := e.WebhookHandler()(t.Context(), items[0]); !errors.Is(err, crm.ErrUnavailable) {
		t.Errorf("err %v", err)
	}
}

// TestWebhookSecretFromAnotherConfig: an item queued under a config whose secret is gone
// fails (and is parked by the outbox) instead of going out unsigned.
func TestWebhookSecretFromAnotherConfig(t *testing.T) {
	e := mustEngine(t, "rules:\n  - on: inbound.ringing\n    do: [{webhook: {url: \"http://127.0.0.1:1/\", secret_env: HOOK}}]\n")
	in := ringing("200")
	items, _ := e.Evaluate(in).Webhooks(in)
	other, err := New(config.Default(), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := other.WebhookHandler()(t.Context(), items[0]); err == nil || errors.Is(err, crm.ErrUnavailable) || !strings.Contains(err.Error(), "HOOK") {
		t.Errorf("err %v", err)
	}
}

func TestSign(t *testing.T) {
	// echo -n '{"a":1}' | openssl dgst -sha256 -hmac key
	want := "sha256=88a67f24bbcdaed0e6c997404bb79a743baf44c6bab2f4c27328e3009d22e342"
	if got := Sign([]byte("key"), []byte(`{"a":1}`)); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	if !Verify([]byte("key"), []byte(`{"a":1}`), want) || Verify([]byte("other"), []byte(`{"a":1}`), want) || Verify([]byte("key"), []byte(`{"a":2}`), want) {
		t.Error("Verify")
	}
}
