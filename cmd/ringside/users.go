package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/ringside/ringside/internal/store"
)

func openStore(ctx context.Context, e env, c *common) (*store.Store, error) {
	cfg, err := c.load(e)
	if err != nil {
		return nil, err
	}
	return store.Open(ctx, cfg.Store, cfg.DataDir, quietLogger(e.stderr, cfg).With("component", "store"))
}

func readPassword(e env, stdin bool) (string, bool, error) {
	if !stdin {
		b := make([]byte, 15)
		rand.Read(b)
		return base64.RawURLEncoding.EncodeToString(b), true, nil
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", false, fmt.Errorf("reading the password from standard input: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if len(pw) < 8 {
		return "", false, usagef("the password must be at least 8 characters")
	}
	return pw, false, nil
}

func runUsers(ctx context.Context, e env, args []string) error {
	if len(args) == 0 {
		return usagef("usage: ringside users add NAME --extension EXT [--email E] [--admin] [--password-stdin] | list | passwd NAME [--password-stdin]")
	}
	var c common
	switch args[0] {
	case "add":
		fs := newFlags("users add", e, &c)
		var exts multi
		fs.Var(&exts, "extension", "extension of the user's phone (repeat for several)")
		email := fs.String("email", "", "email (maps the user to their CRM user)")
		admin := fs.Bool("admin", false, "may see every call and the outbox")
		pwStdin := fs.Bool("password-stdin", false, "read the password from standard input instead of generating one")
		pos, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("name the user: ringside users add NAME --extension EXT")
		}
		pw, generated, err := readPassword(e, *pwStdin)
		if err != nil {
			return err
		}
		st, err := openStore(ctx, e, &c)
		if err != nil {
			return err
		}
		defer st.Close()
		u, err := st.AddUser(ctx, store.User{Name: pos[0], Extensions: exts, Email: *email, Admin: *admin}, pw)
		if errors.Is(err, store.ErrExists) {
			return fmt.Errorf("user %q exists already", pos[0])
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "added user %s (extensions: %s)\n", u.Name, strings.Join(u.Extensions, ", "))
		if generated {
			fmt.Fprintf(e.stdout, "password (shown once): %s\n", pw)
		}
		return nil
	case "passwd":
		fs := newFlags("users passwd", e, &c)
		pwStdin := fs.Bool("password-stdin", false, "read the password from standard input instead of generating one")
		pos, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("name the user: ringside users passwd NAME")
		}
		pw, generated, err := readPassword(e, *pwStdin)
		if err != nil {
			return err
		}
		st, err := openStore(ctx, e, &c)
		if err != nil {
			return err
		}
		defer st.Close()
		if err := st.SetPassword(ctx, pos[0], pw); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "password of %s changed\n", pos[0])
		if generated {
			fmt.Fprintf(e.stdout, "password (shown once): %s\n", pw)
		}
		return nil
	case "list":
		fs := newFlags("users list", e, &c)
		if _, err := parse(fs, args[1:]); err != nil {
			return err
		}
		st, err := openStore(ctx, e, &c)
		if err != nil {
			return err
		}
		defer st.Close()
		us, err := st.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tEXTENSIONS\tEMAIL\tADMIN")
		for _, u := range us {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\n", u.Name, strings.Join(u.Extensions, ","), u.Email, u.Admin)
		}
		return tw.Flush()
	}
	return usagef("unknown users command %q (add, list, passwd)", args[0])
}

// multi is a repeatable string flag that also splits on commas.
type multi []string

func (m *multi) String() string { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*m = append(*m, p)
		}
	}
	return nil
}
