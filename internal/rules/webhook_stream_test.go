package rules

import (
	"errors"
	"testing"

	"github.com/ringside/ringside/internal/crm"
)

// Each webhook URL is its own ordered stream per call: one dead receiver does not hold
// back the others.
func TestWebhookStreamPerURL(t *testing.T) {
	e := mustEngine(t, "rules:\n  - on: inbound.ringing\n    do: [{webhook: {url: \"http://127.0.0.1:1/a\", secret_env: HOOK}}, {webhook: {url: \"http://127.0.0.1:1/b\", secret_env: HOOK}}]\n")
	in := ringing("200")
	items, err := e.Evaluate(in).Webhooks(in)
	if err != nil || len(items) != 2 {
		t.Fatalf("%d items, %v", len(items), err)
	}
	if items[0].Group == items[1].Group {
		t.Errorf("both URLs share the stream %q", items[0].Group)
	}
	again, _ := e.Evaluate(in).Webhooks(in)
	if again[0].Group != items[0].Group {
		t.Errorf("one URL and call, two streams: %q, %q", again[0].Group, items[0].Group)
	}
}

// A request that can never be built (a control character in a header) is not retried.
func TestWebhookUnbuildableRequestIsPermanent(t *testing.T) {
	e := mustEngine(t, "rules:\n  - on: inbound.ringing\n    do: [{webhook: {url: \"http://127.0.0.1:1/a\", secret_env: HOOK}}]\n")
	in := ringing("200")
	items, _ := e.Evaluate(in).Webhooks(in)
	it := items[0]
	it.Key = "bad\r\nX-Injected: 1"
	err := e.WebhookHandler()(t.Context(), it)
	if err == nil || errors.Is(err, crm.ErrUnavailable) {
		t.Errorf("err %v: want a permanent error", err)
	}
}
