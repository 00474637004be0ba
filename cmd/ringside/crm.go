package main

import (
	"context"
	"fmt"
	"time"

	"github.com/ringside/ringside/internal/crm/dynamics"
	"github.com/ringside/ringside/internal/server"
)

func runCRM(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || (args[0] != "sync" && args[0] != "check") {
		return usagef("usage: ringside crm sync [--full] | crm check")
	}
	var c common
	fs := newFlags("crm "+args[0], e, &c)
	full := fs.Bool("full", false, "rebuild the local phone index from scratch")
	if _, err := parse(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := c.load(e)
	if err != nil {
		return err
	}
	d, err := server.OpenDirectory(ctx, cfg, quietLogger(e.stderr, cfg))
	if err != nil {
		return err
	}
	defer d.Close()
	switch args[0] {
	case "sync":
		s, ok := d.Directory.(interface {
			Sync(ctx context.Context, full bool, progress func(done, total int)) error
		})
		if !ok {
			fmt.Fprintf(e.stdout, "crm kind %q answers from its own tables: nothing to sync\n", cfg.CRM.Kind)
			return nil
		}
		start := time.Now()
		last := time.Time{}
		err := s.Sync(ctx, *full, func(done, total int) {
			if time.Since(last) < 200*time.Millisecond && done != total {
				return
			}
			last = time.Now()
			if total > 0 {
				fmt.Fprintf(e.stderr, "\rsyncing: %d of %d records (%d%%)   ", done, total, done*100/total)
			} else {
				fmt.Fprintf(e.stderr, "\rsyncing: %d records   ", done)
			}
		})
		fmt.Fprintln(e.stderr)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "phone index up to date (%s)\n", time.Since(start).Round(time.Millisecond))
		return nil
	default:
		dd, ok := d.Directory.(*dynamics.Directory)
		if !ok {
			fmt.Fprintf(e.stdout, "crm kind %q: nothing to check (it lives in Ringside's own store)\n", cfg.CRM.Kind)
			return nil
		}
		bad := 0
		for _, f := range dd.Findings(ctx) {
			mark := "ok  "
			if !f.OK {
				mark = "FAIL"
				bad++
			}
			fmt.Fprintf(e.stdout, "%s %-28s %s\n", mark, f.Check, f.Detail)
		}
		if bad > 0 {
			return fmt.Errorf("%d check(s) failed", bad)
		}
		return nil
	}
}
