package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

func runDial(ctx context.Context, e env, args []string) error {
	var c common
	fs := newFlags("dial", e, &c)
	user := fs.String("user", "", "dial from this user's phone (needs access to the data dir to mint a one-off token)")
	serverURL := fs.String("server", "http://127.0.0.1:8080", "the running Ringside server")
	token := fs.String("token", "", "an agent token (default: $RINGSIDE_TOKEN, or one minted for --user)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: ringside dial --user NAME NUMBER")
	}
	tok := *token
	if tok == "" {
		tok = e.getenv("RINGSIDE_TOKEN")
	}
	if tok == "" {
		if *user == "" {
			return usagef("say who dials: --user NAME, or --token / $RINGSIDE_TOKEN")
		}
		st, err := openStore(ctx, e, &c)
		if err != nil {
			return err
		}
		secret, t, err := st.CreateToken(ctx, *user, "agent", "ringside dial")
		if err != nil {
			st.Close()
			return fmt.Errorf("minting a token for %s: %w", *user, err)
		}
		defer func() {
			st.RevokeToken(context.WithoutCancel(ctx), t.ID)
			st.Close()
		}()
		tok = secret
	}
	body, _ := json.Marshal(map[string]string{"number": pos[0]})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(*serverURL, "/")+"/api/v1/dial", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("is the server running? %w", err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s: %v", resp.Status, out["error"])
	}
	fmt.Fprintf(e.stdout, "dialing %s from extension %v\n", pos[0], out["extension"])
	return nil
}
