package server

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/ringside/ringside/internal/config"
	"github.com/ringside/ringside/internal/telephony"
)

// A phone system that posts its first event the moment the port is open must find the
// webhook source live, not a 503 "not running" (CI saw one): when Ready is closed, every
// source the server serves over HTTP already takes events.
func TestHTTPSourcesLiveWhenReady(t *testing.T) {
	for i := range 20 {
		data := t.TempDir()
		cfg, err := config.Parse(filepath.Join(data, "ringside.yaml"), fmt.Appendf(nil, "data_dir: %q\nlog_level: error\nweb: {stop_grace: 1ms}\n", filepath.Join(data, "d")))
		if err != nil {
			t.Fatal(err)
		}
		srv, err := New(t.Context(), cfg, nil, Options{Listen: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		select {
		case <-srv.Ready():
		case err := <-done:
			t.Fatalf("server stopped: %v", err)
		}
		var states []string
		for _, ns := range srv.sources {
			if _, ok := ns.src.(http.Handler); !ok {
				continue
			}
			if st, why := ns.src.(telephony.Stater).State(); st != telephony.StateUp {
				states = append(states, ns.name+": "+st+" "+why)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("server: %v", err)
		}
		if len(states) > 0 {
			t.Fatalf("start %d: Ready was closed while HTTP sources did not take events: %v", i, states)
		}
	}
}
