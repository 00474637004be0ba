//go:build !windows

package server

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/cluster"
	"github.com/ringside/ringside/internal/cluster/clustertest"
	"github.com/ringside/ringside/internal/telephony"
)

// TestDialThroughLeaseHolder: on a standby node of a cluster (another node holds the
// source's lease), click-to-dial is forwarded over NATS to the holder, which dials (it
// answered 502: the source on the standby node is not connected). With no holder, the
// user reads that no node is connected to the phone system.
func TestDialThroughLeaseHolder(t *testing.T) {
	nats := clustertest.StartNATS(t)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	secret := filepath.Join(t.TempDir(), "cluster.secret")
	if err := os.WriteFile(secret, []byte("a shared secret of the test cluster"), 0o600); err != nil {
		t.Fatal(err)
	}
	node := func(name string, pbx *fakePBX, holds bool) *Server {
		bus, err := cluster.NewBus(cluster.Config{NATSURL: nats.URL, SecretFile: secret}, name, nil)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { _ = bus.Run(ctx, func(string, []byte, time.Time) {}) })
		s := &Server{log: slog.New(slog.DiscardHandler), clu: &clustering{bus: bus, leases: noLeases{}, held: map[string]bool{"pbx": holds}},
			sources: []namedSource{source(t, "pbx", pbx)}}
		<-bus.Ready()
		return s
	}
	holderPBX, standbyPBX := &fakePBX{}, &fakePBX{state: telephony.StateDown}
	holder := node("a", holderPBX, true)
	standby := node("b", standbyPBX, false)

	// Before the holder serves: no node answers.
	err := standby.dial(t.Context(), user("200"), "+4930123")
	if !errors.Is(err, telephony.ErrDialUnavailable) || !strings.Contains(err.Error(), "no node") {
		t.Fatalf("dial with no lease holder = %v, want ErrDialUnavailable (no node)", err)
	}

	lctx, stop := context.WithCancel(ctx)
	holder.serveDial(lctx, &wg, holder.sources[0])
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = standby.dial(t.Context(), user("200"), "+4930123")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // the holder's subscription reaches the server
	}
	if err != nil {
		t.Fatalf("dial on the standby node = %v, want it placed by the lease holder", err)
	}
	if holderPBX.calls() != "200>+4930123" || standbyPBX.calls() != "" {
		t.Errorf("holder dialled %q, standby %q", holderPBX.calls(), standbyPBX.calls())
	}

	// The holder's source is down: its reason comes back as unavailable.
	holderPBX.mu.Lock()
	holderPBX.state = telephony.StateDown
	holderPBX.mu.Unlock()
	err = standby.dial(t.Context(), user("200"), "+4930123")
	if !errors.Is(err, telephony.ErrDialUnavailable) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("dial through a holder whose source is down = %v", err)
	}
	stop()
}

// noLeases marks a server as clustered; the tests set which sources it holds.
type noLeases struct{}

func (noLeases) Hold(ctx context.Context, _ string, _ func(context.Context)) { <-ctx.Done() }
