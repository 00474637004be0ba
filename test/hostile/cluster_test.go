//go:build !windows

package hostile

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ringside/ringside/internal/cluster/clustertest"
	"github.com/ringside/ringside/internal/testenv"
)

// TestForgedClusterMessage: anyone who can publish on the NATS server tries to deliver a
// pop with an open_record URL of their choosing to bob. The node drops it (it is not
// signed with the cluster secret), counts it in the metrics, and real pops still arrive.
func TestForgedClusterMessage(t *testing.T) {
	nt := clustertest.StartNATS(t)
	t.Setenv("RINGSIDE_TEST_CLUSTER_SECRET", "a-long-shared-cluster-secret-for-tests")
	n := start(t, "cluster:\n  nats_url: "+nt.URL+"\n  secret_env: RINGSIDE_TEST_CLUSTER_SECRET\n", map[string]string{"bob": "201"})
	b := n.connect(t, n.tokens["bob"], nil)
	testenv.Eventually(t, 10*time.Second, "the node's bus to connect", func() (bool, error) {
		_, body := do(t, nil, "GET", n.url+"/metrics", "", "", "")
		return strings.Contains(body, "ringside_cluster_connected 1"), nil
	})

	nc, err := nats.Connect(nt.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	forged := func(hdr map[string]string) {
		m := &nats.Msg{Subject: "ringside.stream", Header: nats.Header{},
			Data: []byte(`{"type":"call.ringing","call":{"id":"forged-1"},"open_record":"https://evil.example/"}`)}
		for k, v := range hdr {
			m.Header.Set(k, v)
		}
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	forged(map[string]string{"Ringside-User": "bob"})
	forged(map[string]string{"Ringside-User": "bob", "Ringside-Sig": "00ff", "Ringside-Time": "1"})
	nc.Flush()

	// A real pop after the forged ones.
	n.event(t, `{"event":"ringing","call_id":"real-1","from":"+4930123456","extension":"201"}`)
	ms := b.Until(t, 5*time.Second, "the real pop", func(m testenv.Msg) bool { return m.Type == "call.ringing" && m.Call.ID != "forged-1" })
	for _, m := range ms {
		if m.Call.ID == "forged-1" {
			t.Fatalf("bob got the forged pop")
		}
	}
	testenv.Eventually(t, 5*time.Second, "the forged messages in the metrics", func() (bool, error) {
		_, body := do(t, nil, "GET", n.url+"/metrics", "", "", "")
		return strings.Contains(body, "ringside_cluster_forged_total 2"), nil
	})
	_ = context.Background
}
