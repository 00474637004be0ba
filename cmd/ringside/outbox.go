package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/ringside/ringside/internal/phone"
	"github.com/ringside/ringside/internal/store"
)

const outboxUsage = "usage: ringside outbox list [--parked] | retry ID… | retry --all | drop ID…"

// runOutbox lets an admin see and steer the outbox from the store (the running server
// picks retried items up at its next poll).
func runOutbox(ctx context.Context, e env, args []string) error {
	if len(args) == 0 {
		return usagef(outboxUsage)
	}
	var c common
	fs := newFlags("outbox "+args[0], e, &c)
	parked := fs.Bool("parked", false, "list only the parked items (list)")
	all := fs.Bool("all", false, "retry every parked item (retry)")
	rest, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	var ids []int64
	for _, a := range rest {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || id <= 0 {
			return usagef("%q is not an outbox item id (see ringside outbox list)", a)
		}
		ids = append(ids, id)
	}
	switch args[0] {
	case "list":
		if len(ids) > 0 || *all {
			return usagef(outboxUsage)
		}
	case "retry":
		if (len(ids) == 0) == !*all {
			return usagef("retry takes item ids or --all")
		}
	case "drop":
		if len(ids) == 0 || *all {
			return usagef("drop takes item ids")
		}
	default:
		return usagef("unknown outbox command %q (list, retry, drop)", args[0])
	}
	st, err := openStore(ctx, e, &c)
	if err != nil {
		return err
	}
	defer st.Close()
	switch args[0] {
	case "list":
		states := []string{store.OutboxPending, store.OutboxParked}
		if *parked {
			states = states[1:]
		}
		items, err := st.ListOutbox(ctx, states...)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATE\tKIND\tSTREAM\tATTEMPTS\tCREATED\tLAST ERROR")
		for _, it := range items {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", it.ID, it.State, it.Kind, oneLine(it.Group, 60), it.Attempts,
				it.CreatedAt.Local().Format("2006-01-02 15:04:05"), oneLine(it.LastError, 100))
		}
		return tw.Flush()
	case "retry":
		if *all {
			done, err := st.RequeueAllParked(ctx)
			fmt.Fprintf(e.stdout, "retrying %d parked items\n", len(done))
			return err
		}
		var errs []error
		for _, id := range ids {
			if err := st.RequeueParked(ctx, id); err != nil {
				errs = append(errs, fmt.Errorf("item %d: %w", id, err))
				continue
			}
			fmt.Fprintf(e.stdout, "retrying item %d\n", id)
		}
		return errors.Join(errs...)
	default: // drop
		var errs []error
		for _, id := range ids {
			if err := st.DropOutboxItem(ctx, id); err != nil {
				errs = append(errs, fmt.Errorf("item %d: %w", id, err))
				continue
			}
			fmt.Fprintf(e.stdout, "dropped item %d\n", id)
		}
		return errors.Join(errs...)
	}
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// runPurge removes what the retention allows now (or counts it with --dry-run).
func runPurge(ctx context.Context, e env, args []string) error {
	var c common
	fs := newFlags("purge", e, &c)
	dry := fs.Bool("dry-run", false, "only count what would be removed")
	if rest, err := parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return usagef("usage: ringside purge [--dry-run]")
	}
	cfg, err := c.load(e)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, e, &c)
	if err != nil {
		return err
	}
	defer st.Close()
	p, err := st.Purge(ctx, store.Retention{Calls: cfg.Retention.Calls, Outbox: cfg.Retention.Outbox, Audit: cfg.Retention.Audit}, *dry)
	if err != nil {
		return err
	}
	verb := "removed"
	if *dry {
		verb = "would remove"
	}
	fmt.Fprintf(e.stdout, "%s %d journal entries older than %s, %d delivered outbox rows older than %s and %d audit entries older than %s\n",
		verb, p.Calls, cfg.Retention.Calls, p.Outbox, cfg.Retention.Outbox, p.Audit, cfg.Retention.Audit)
	return nil
}

// runForget removes a caller's number, name and notes from the journal (a
// data-protection request).
func runForget(ctx context.Context, e env, args []string) error {
	var c common
	fs := newFlags("forget", e, &c)
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 || strings.TrimSpace(rest[0]) == "" {
		return usagef("usage: ringside forget NUMBER")
	}
	cfg, err := c.load(e)
	if err != nil {
		return err
	}
	parser, err := phone.NewParser(cfg.Phone)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, e, &c)
	if err != nil {
		return err
	}
	defer st.Close()
	raw := strings.TrimSpace(rest[0])
	numbers := []string{raw}
	if n := parser.Parse(raw); n.E164 != "" && n.E164 != raw {
		numbers = append(numbers, n.E164)
	}
	var total store.Forgotten
	for _, n := range numbers {
		f, err := st.Forget(ctx, n)
		if err != nil {
			return err
		}
		total.Calls += f.Calls
		total.Notes += f.Notes
		total.Picks += f.Picks
		total.Outbox += f.Outbox
	}
	fmt.Fprintf(e.stdout, "forgot %s: removed %d calls from the journal (with the caller's number and name), %d notes entries, %d remembered records, %d CRM writes not yet delivered\n",
		strings.Join(numbers, " / "), total.Calls, total.Notes, total.Picks, total.Outbox)
	fmt.Fprintln(e.stdout, "the CRM keeps its own records; a running server forgets its cached lookups within the cache's TTL")
	return nil
}
