package main

import (
	"context"
	"fmt"

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
	cfg, err := config.Load(file)
	if err != nil {
		return configError{err}
	}
	if err := server.Check(ctx, cfg); err != nil {
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
