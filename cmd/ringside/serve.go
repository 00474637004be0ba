package main

import (
	"context"

	"github.com/ringside/ringside/internal/server"
	"github.com/ringside/ringside/internal/store"
)

func runServe(ctx context.Context, e env, args []string) error {
	var c common
	fs := newFlags("serve", e, &c)
	listen := fs.String("listen", "", "address to listen on (default: the config's listen, 127.0.0.1:8080)")
	demo := fs.Bool("demo", false, "seed sample CRM data and the agents alice and bob, and print how to log in")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.load(e)
	if err != nil {
		return err
	}
	// One server per SQLite store: the data lock also keeps restore away while it runs.
	unlock, err := store.LockData(cfg.Store, cfg.DataDir)
	if err != nil {
		return err
	}
	defer unlock()
	log := newLogger(e.stderr, cfg)
	srv, err := server.New(ctx, cfg, log, server.Options{Listen: *listen, Demo: *demo, Out: e.stdout})
	if err != nil {
		return configError{err}
	}
	return srv.Run(ctx)
}
