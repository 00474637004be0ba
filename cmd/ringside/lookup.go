package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/lookup"
	"github.com/ringside/ringside/internal/server"
)

func runLookup(ctx context.Context, e env, args []string) error {
	var c common
	fs := newFlags("lookup", e, &c)
	asJSON := fs.Bool("json", false, "print a JSON array of matches")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: ringside lookup [--json] NUMBER")
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
	svc, err := lookup.New(d.Directory, cfg.Lookup, nil)
	if err != nil {
		return configError{err}
	}
	n := d.Parser.Parse(pos[0])
	if n.Withheld {
		return fmt.Errorf("%q is a withheld number: nothing to look up", pos[0])
	}
	res, err := svc.Lookup(ctx, n)
	if err != nil {
		return err
	}
	ms := res.Matches
	if ms == nil {
		ms = []crm.Match{}
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ms)
	}
	if len(ms) == 0 {
		fmt.Fprintf(e.stdout, "no record has %s (%s)\n", pos[0], orRaw(n.E164, "not a valid number"))
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENTITY\tNAME\tCOMPANY\tNUMBER\tMATCH\tID")
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Entity, m.Name, m.Company, m.Number, m.How, m.ID)
	}
	return tw.Flush()
}

func orRaw(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}
