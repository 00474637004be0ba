package main

import (
	"context"
	"log/slog"

	"github.com/ringside/ringside/internal/config"
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
	level := new(slog.LevelVar)
	log := leveledLogger(e.stderr, cfg, level)
	// SIGHUP reloads the config (rules, users, log_level, lookup); until the server is
	// built, a SIGHUP waits in the channel.
	hup, stopHUP := reloadSignals()
	defer stopHUP()
	srv, err := server.New(ctx, cfg, log, server.Options{Listen: *listen, Demo: *demo, Out: e.stdout, LogLevel: level})
	if err != nil {
		return configError{err}
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: reloading the config", "file", cfg.File)
				srv.Reload(ctx, func() (*config.Config, error) { return c.load(e) })
			}
		}
	}()
	return srv.Run(ctx)
}
