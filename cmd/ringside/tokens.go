package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/ringside/ringside/internal/store"
)

func runTokens(ctx context.Context, e env, args []string) error {
	if len(args) == 0 {
		return usagef("usage: ringside tokens create --user NAME | --scope pbx [--name LABEL] | list")
	}
	var c common
	switch args[0] {
	case "create":
		fs := newFlags("tokens create", e, &c)
		user := fs.String("user", "", "the agent the token speaks for (scope agent)")
		scope := fs.String("scope", "", "agent (default with --user) or pbx (for a phone system's webhooks; needs no user)")
		name := fs.String("name", "", "a label to recognise the token by")
		if _, err := parse(fs, args[1:]); err != nil {
			return err
		}
		if *scope == "" {
			*scope = "agent"
		}
		switch {
		case *scope != "agent" && *scope != "pbx":
			return usagef("--scope must be agent or pbx")
		case *scope == "agent" && *user == "":
			return usagef("an agent token needs --user NAME (or use --scope pbx)")
		case *scope == "pbx" && *user != "":
			return usagef("a pbx token belongs to no user: drop --user")
		}
		st, err := openStore(ctx, e, &c)
		if err != nil {
			return err
		}
		defer st.Close()
		if *user != "" {
			if _, err := st.GetUser(ctx, *user); errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no user %q (ringside users add %s --extension EXT)", *user, *user)
			}
		}
		secret, t, err := st.CreateToken(ctx, *user, *scope, *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "created %s token %d; it is shown once:\n", t.Scope, t.ID)
		fmt.Fprintln(e.stdout, secret)
		return nil
	case "list":
		fs := newFlags("tokens list", e, &c)
		if _, err := parse(fs, args[1:]); err != nil {
			return err
		}
		st, err := openStore(ctx, e, &c)
		if err != nil {
			return err
		}
		defer st.Close()
		ts, err := st.ListTokens(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSCOPE\tUSER\tNAME\tCREATED")
		for _, t := range ts {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", t.ID, t.Scope, t.User, t.Name, t.CreatedAt.Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	}
	return usagef("unknown tokens command %q (create, list)", args[0])
}
