//go:build !windows

package cluster

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/cluster/clustertest"
	"github.com/ringside/ringside/internal/loadtest"
)

// TestDialOnStandbyNode: two nodes share one Asterisk; the node that does not hold the
// AMI source's lease forwards click-to-dial over NATS to the holder, which originates
// the call (the standby node answered 502: its own source is not connected). Its
// /readyz says standby for the source.
func TestDialOnStandbyNode(t *testing.T) {
	nats := clustertest.StartNATS(t)
	dsn := clustertest.PostgresDB(t)
	fake, err := loadtest.NewFakeAMI("127.0.0.1:0", "bench")
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	e := &env{t: t, bin: binary(t), dsn: dsn, yaml: fmt.Sprintf(`store: {driver: postgres, dsn_env: RINGSIDE_TEST_NODE_DSN}
cluster: {nats_url: %q, secret_env: RINGSIDE_TEST_CLUSTER_SECRET}
telephony:
  - {kind: ami, address: %q, username: bench, secret: bench, auth: plain}
`, nats.URL, fake.Addr())}
	e.provision(map[string]string{"alice": "200"}, nil)
	a, b := e.start("a"), e.start("b")
	var holder, standby *proc
	eventually(t, 30*time.Second, "a lease holder", func() (bool, error) {
		switch {
		case a.holds() && !b.holds():
			holder, standby = a, b
		case b.holds() && !a.holds():
			holder, standby = b, a
		}
		return holder != nil, nil
	})
	if got := standby.metric(`ringside_source_state{source="ami",state="standby"}`); got != "1" {
		t.Errorf("standby node: ringside_source_state standby = %q, want 1", got)
	}
	code, checks, err := standby.operate("/readyz") // the checks need the metrics token
	if err != nil {
		t.Fatal(err)
	}
	if code != http.StatusOK || !strings.Contains(checks, `"telephony/ami":"standby"`) {
		t.Errorf("standby /readyz: %d %s", code, checks)
	}

	var body []byte
	eventually(t, 20*time.Second, "dial on the standby node", func() (bool, error) {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", standby.url+"/api/v1/dial", strings.NewReader(`{"number":"+49 30 1234567"}`))
		req.Header.Set("Authorization", "Bearer "+e.tokens["alice"])
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		code, body = resp.StatusCode, b
		// 503 while the holder's answering subscription is not yet in place.
		return code != http.StatusServiceUnavailable, nil
	})
	if code != http.StatusAccepted {
		t.Fatalf("dial on the standby node: %d %s", code, body)
	}
	if got := fake.Originates(); len(got) != 1 || !strings.HasPrefix(got[0], "PJSIP/200>") {
		t.Errorf("the Asterisk got %q, want one Originate from 200", got)
	}
}
