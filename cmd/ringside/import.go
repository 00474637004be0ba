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
	dry := fs.Bool("dry-run", false, "read and check the file, say what it would change, store nothing")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: ringside import [--dry-run] FILE.csv  (separated by , ; or tab; header: type,first_name,last_name,company,email,phone,mobile,other_phone,country)")
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
	if *dry {
		p, err := bd.Preview(ctx, f)
		if err != nil {
			return fmt.Errorf("%s: %w", pos[0], err)
		}
		for _, w := range p.Errors {
			fmt.Fprintf(e.stdout, "%s:%d: error: %s\n", pos[0], w.Line, w.Msg)
		}
		for _, w := range p.Warnings {
			fmt.Fprintf(e.stdout, "%s:%d: warning: %s\n", pos[0], w.Line, w.Msg)
		}
		r := p.Result
		fmt.Fprintf(e.stdout, "%s: dry run, nothing stored: %d rows would add %d contacts, %d leads, %d accounts and update %d records; %d errors, %d warnings\n",
			pos[0], r.Rows, r.Contacts, r.Leads, r.Accounts+r.AccountsLinked, r.Updated+r.AccountsUpdated, len(p.Errors)+p.More, len(p.Warnings))
		if len(p.Errors) > 0 {
			return fmt.Errorf("%s: %d bad rows; the import would be refused", pos[0], len(p.Errors)+p.More)
		}
		return nil
	}
	res, err := bd.Import(ctx, f)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(e.stdout, "%s:%d: warning: %s\n", pos[0], w.Line, w.Msg)
	}
	fmt.Fprintf(e.stdout, "%s: imported %d rows: %d contacts, %d leads, %d updated, %d accounts (%d updated, %d created for contacts' companies)\n",
		pos[0], res.Rows, res.Contacts, res.Leads, res.Updated, res.Accounts, res.AccountsUpdated, res.AccountsLinked)
	return nil
}
