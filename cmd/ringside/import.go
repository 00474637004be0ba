package main

import (
	"context"
	"fmt"
	"os"

	"github.com/ringside/ringside/internal/crm/builtin"
	"github.com/ringside/ringside/internal/server"
)

func runImport(ctx context.Context, e env, args []string) error {
	var c common
	fs := newFlags("import", e, &c)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: ringside import FILE.csv  (header: type,first_name,last_name,company,email,phone,mobile,other_phone,country)")
	}
	cfg, err := c.load(e)
	if err != nil {
		return err
	}
	if cfg.CRM.Kind != "builtin" {
		return fmt.Errorf("import loads the built-in directory, but the config uses crm kind %q", cfg.CRM.Kind)
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	d, err := server.OpenDirectory(ctx, cfg, quietLogger(e.stderr, cfg))
	if err != nil {
		return err
	}
	defer d.Close()
	bd, ok := d.Directory.(*builtin.Directory)
	if !ok {
		return fmt.Errorf("import: the directory is not the built-in one")
	}
	res, err := bd.Import(ctx, f)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	fmt.Fprintf(e.stdout, "%s: imported %d rows: %d contacts, %d leads, %d accounts (%d updated, %d created for contacts' companies)\n",
		pos[0], res.Rows, res.Contacts, res.Leads, res.Accounts, res.AccountsUpdated, res.AccountsLinked)
	return nil
}
