package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/ringside/ringside/internal/config"
	"github.com/ringside/ringside/internal/server"
)

func runConfig(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] != "check" {
		return usagef("usage: ringside config check [FILE] [--connect]")
	}
	var c common
	fs := newFlags("config check", e, &c)
	connect := fs.Bool("connect", false, "also connect to the phone systems and the CRM")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("one config file at most")
	}
	file := c.configFile
	if len(pos) == 1 {
		file = pos[0]
	}
	if file == "" {
		file = e.getenv("RINGSIDE_CONFIG")
	}
	if file == "" {
		return usagef("name the file: ringside config check ringside.yaml")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	// One pass: the file's own mistakes and those inside the connectors' sections.
	cfg, err := config.ParseAll(file, data)
	if cfg == nil {
		return configError{err}
	}
	if cerr := server.Check(ctx, cfg); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if err != nil {
		return configError{err}
	}
	if *connect {
		if err := server.Connect(ctx, cfg); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stdout, "%s: OK\n", file)
	return nil
}
