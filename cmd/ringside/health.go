package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// runHealth asks the running server's /healthz (at the config's listen address) and fails
// unless it answers 200: the container's HEALTHCHECK, which has no shell or curl.
func runHealth(ctx context.Context, e env, args []string) error {
	var c common
	fs := newFlags("health", e, &c)
	url := fs.String("url", "", "base URL of the server (default: http:// + the config's listen address)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	base := *url
	if base == "" {
		cfg, err := c.load(e)
		if err != nil {
			return err
		}
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return configError{fmt.Errorf("listen %q: %w", cfg.Listen, err)}
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		base = "http://" + net.JoinHostPort(host, port)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return usagef("--url: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("server not reachable: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s/healthz answered %s", base, resp.Status)
	}
	fmt.Fprintln(e.stdout, "ok")
	return nil
}
