package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ringside/ringside/internal/store"
)

func runTokens(ctx context.Context, e env, args []string) error {
	if len(args) == 0 {
		return usagef("usage: ringside tokens create --user NAME | --scope pbx [--name LABEL] [--expires 90d] | list | revoke ID… | revoke --user NAME")
	}
	var c common
	switch args[0] {
	case "create":
		fs := newFlags("tokens create", e, &c)
		user := fs.String("user", "", "the agent the token speaks for (scope agent)")
		scope := fs.String("scope", "", "agent (default with --user) or pbx (for a phone system's webhooks; needs no user)")
		name := fs.String("name", "", "a label to recognise the token by")
		expires := fs.String("expires", "", "how long the token works, e.g. 90d, 12h (default: until revoked)")
		if _, err := parse(fs, args[1:]); err != nil {
			return err
		}
		var until time.Time
		if *expires != "" {
			d, err := parseLifetime(*expires)
			if err != nil {
				return usagef("--expires: %v", err)
			}
			until = time.Now().Add(d)
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
		secret, t, err := st.CreateTokenUntil(ctx, *user, *scope, *name, until)
		if err != nil {
			return err
		}
		if !t.ExpiresAt.IsZero() {
			fmt.Fprintf(e.stderr, "created %s token %d, working until %s; it is shown once:\n", t.Scope, t.ID, t.ExpiresAt.Local().Format("2006-01-02 15:04"))
		} else {
			fmt.Fprintf(e.stderr, "created %s token %d; it is shown once:\n", t.Scope, t.ID)
		}
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
		fmt.Fprintln(tw, "ID\tSCOPE\tUSER\tNAME\tCREATED\tEXPIRES")
		for _, t := range ts {
			exp := "never"
			if !t.ExpiresAt.IsZero() {
				exp = t.ExpiresAt.Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Scope, t.User, t.Name, t.CreatedAt.Format("2006-01-02 15:04"), exp)
		}
		return tw.Flush()
	case "revoke":
		fs := newFlags("tokens revoke", e, &c)
		user := fs.String("user", "", "revoke every token of this user")
		pos, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if (*user == "") == (len(pos) == 0) {
			return usagef("usage: ringside tokens revoke ID… | --user NAME")
		}
		var ids []int64
		for _, p := range pos {
			id, err := strconv.ParseInt(p, 10, 64)
			if err != nil || id <= 0 {
				return usagef("%q is not a token id (ringside tokens list shows them)", p)
			}
			ids = append(ids, id)
		}
		st, err := openStore(ctx, e, &c)
		if err != nil {
			return err
		}
		defer st.Close()
		if *user != "" {
			n, err := st.RevokeUserTokens(ctx, *user)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no user %q", *user)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "revoked %d tokens of %s; their open connections close within a second\n", n, *user)
			return nil
		}
		for _, id := range ids {
			if err := st.RevokeToken(ctx, id); errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no token %d (ringside tokens list)", id)
			} else if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "revoked token %d; its open connections close within a second\n", id)
		}
		return nil
	}
	return usagef("unknown tokens command %q (create, list, revoke)", args[0])
}

// parseLifetime reads a token's lifetime: a Go duration (12h, 90m) or days (90d).
func parseLifetime(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > 3650 {
			return 0, fmt.Errorf("%q is not a number of days from 1 to 3650", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d <= 0 {
			return 0, fmt.Errorf("%q is not a lifetime such as 90d or 12h", s)
		}
	}
	return d, nil
}
