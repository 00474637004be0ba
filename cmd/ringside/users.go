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
		return usagef("usage: ringside users add NAME --extension EXT [--shared] [--email E] [--admin] [--password-stdin] | list | passwd NAME [--password-stdin] | disable NAME | enable NAME | remove NAME")
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
		shared := fs.Bool("shared", false, "allow an extension another user has already (both see its calls)")
		pos, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("name the user: ringside users add NAME --extension EXT")
		}
		if err := store.CheckName("the user name", pos[0]); err != nil {
			return usagef("%v", strings.TrimSuffix(err.Error(), ": "+store.ErrInvalidName.Error()))
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
		if !*shared {
			var taken *store.ExtensionTakenError
			if err := st.CheckExtensions(ctx, pos[0], exts); errors.As(err, &taken) {
				return fmt.Errorf("extension %s belongs to %s already: give %s another extension, or add --shared if both should see its calls", taken.Extension, taken.User, pos[0])
			} else if err != nil {
				return err
			}
		}
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
		fmt.Fprintf(e.stdout, "password of %s changed; their browser sessions have ended\n", pos[0])
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
		fmt.Fprintln(tw, "NAME\tEXTENSIONS\tEMAIL\tADMIN\tDISABLED")
		for _, u := range us {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%v\n", u.Name, strings.Join(u.Extensions, ","), u.Email, u.Admin, u.Disabled)
		}
		return tw.Flush()
	case "disable", "enable", "remove":
		fs := newFlags("users "+args[0], e, &c)
		pos, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("name the user: ringside users %s NAME", args[0])
		}
		st, err := openStore(ctx, e, &c)
		if err != nil {
			return err
		}
		defer st.Close()
		var msg string
		switch args[0] {
		case "disable":
			err, msg = st.DisableUser(ctx, pos[0]), "disabled %s: their sessions ended, their tokens stop working, and their open connections close within a second\n"
		case "enable":
			err, msg = st.EnableUser(ctx, pos[0]), "enabled %s\n"
		case "remove":
			err, msg = st.RemoveUser(ctx, pos[0]), "removed %s with their tokens and sessions (their calls stay in the journal)\n"
		}
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no user %q", pos[0])
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, msg, pos[0])
		return nil
	}
	return usagef("unknown users command %q (add, list, passwd, disable, enable, remove)", args[0])
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
