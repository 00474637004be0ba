package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ringside/ringside/internal/crm/builtin"
	"github.com/ringside/ringside/internal/server"
)

// simEvent is one native webhook event.
type simEvent struct {
	Event     string `json:"event"`
	CallID    string `json:"call_id"`
	Direction string `json:"direction,omitempty"`
	From      string `json:"from,omitempty"`
	FromName  string `json:"from_name,omitempty"`
	To        string `json:"to,omitempty"`
	Extension string `json:"extension,omitempty"`
	Cause     string `json:"cause,omitempty"`
}

func runSimulate(ctx context.Context, e env, args []string) error {
	var c common
	fs := newFlags("simulate", e, &c)
	serverURL := fs.String("server", "http://127.0.0.1:8080", "the running Ringside server")
	token := fs.String("token", "", "a pbx token (default: $RINGSIDE_TOKEN, else the demo token in the data dir)")
	var exts multi
	fs.Var(&exts, "extension", "extensions that ring (default 200,201: a ring group)")
	from := fs.String("from", "", "place one call from this number instead of the demo tour")
	name := fs.String("name", "", "caller name with --from")
	pace := fs.Duration("pace", 1500*time.Millisecond, "pause between the steps of a call")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if len(exts) == 0 {
		exts = multi{"200", "201"}
	}
	tok := *token
	if tok == "" {
		tok = e.getenv("RINGSIDE_TOKEN")
	}
	if tok == "" {
		cfg, err := c.load(e)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(filepath.Join(cfg.DataDir, server.DemoTokenFile))
		if err != nil {
			return usagef("no token: pass --token (ringside tokens create --scope pbx), or start the server with --demo")
		}
		tok = strings.TrimSpace(string(b))
	}
	post := func(ev simEvent) error {
		body, _ := json.Marshal(ev)
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(rctx, "POST", strings.TrimRight(*serverURL, "/")+"/api/v1/events", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("is the server running at %s? %w", *serverURL, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(msg)))
		}
		return nil
	}
	wait := func(d time.Duration) error {
		select {
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	type step struct {
		say   string
		ev    simEvent
		after time.Duration
	}
	var calls [][]step
	newID := func() string {
		b := make([]byte, 4)
		rand.Read(b)
		return "sim-" + hex.EncodeToString(b)
	}
	inbound := func(num, nm string, answer string, missed bool) []step {
		id := newID()
		var s []step
		for _, x := range exts {
			s = append(s, step{fmt.Sprintf("%s rings on %s", num, x), simEvent{Event: "ringing", CallID: id, Direction: "inbound", From: num, FromName: nm, To: "+49 30 1234560", Extension: x}, 0})
		}
		s[len(s)-1].after = *pace
		if missed {
			return append(s, step{"the caller gives up: missed", simEvent{Event: "ended", CallID: id, Cause: "cancelled"}, *pace})
		}
		s = append(s, step{"answered on " + answer, simEvent{Event: "answered", CallID: id, Extension: answer}, 2 * *pace})
		return append(s, step{"hung up", simEvent{Event: "ended", CallID: id, Cause: "normal"}, *pace})
	}
	if *from != "" {
		calls = append(calls, inbound(*from, *name, exts[0], false))
	} else {
		callers := builtin.DemoCallers
		calls = append(calls,
			inbound(callers[0], "ACME Reception", exts[0], false),
			inbound(callers[len(callers)-2], "Pat Unknown", "", true),
			inbound(callers[2], "", exts[len(exts)-1], false),
			inbound(callers[3], "Thameside", exts[0], false),
			inbound(callers[len(callers)-1], "", exts[0], false),
		)
		id := newID()
		calls = append(calls, []step{
			{"extension " + exts[0] + " dials " + callers[4], simEvent{Event: "dialing", CallID: id, Direction: "outbound", To: callers[4], Extension: exts[0]}, *pace},
			{"the callee answers", simEvent{Event: "answered", CallID: id, Direction: "outbound", Extension: exts[0]}, 2 * *pace},
			{"hung up", simEvent{Event: "ended", CallID: id, Direction: "outbound"}, *pace},
		})
	}
	for _, steps := range calls {
		for _, s := range steps {
			if err := post(s.ev); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s  %-12s %s\n", time.Now().Format("15:04:05"), s.ev.CallID, s.say)
			if err := wait(s.after); err != nil {
				return err
			}
		}
	}
	return nil
}
