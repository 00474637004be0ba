package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ringside/ringside/internal/store"
)

// runBackup writes a consistent copy of the SQLite store to FILE, also while serve runs.
func runBackup(ctx context.Context, e env, args []string) error {
	var c common
	fs := newFlags("backup", e, &c)
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("usage: ringside backup FILE (a new file: the copy of the store)")
	}
	st, err := openStore(ctx, e, &c)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Backup(ctx, rest[0]); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "backed up the store to %s\n", rest[0])
	return nil
}

// runRestore replaces the SQLite store with a backup; it refuses while serve runs.
func runRestore(ctx context.Context, e env, args []string) error {
	var c common
	fs := newFlags("restore", e, &c)
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("usage: ringside restore FILE (a file written by ringside backup; stop ringside serve first)")
	}
	cfg, err := c.load(e)
	if err != nil {
		return err
	}
	replaced, err := store.Restore(ctx, cfg.Store, cfg.DataDir, rest[0], time.Now())
	if err != nil {
		if errors.Is(err, store.ErrInUse) {
			return fmt.Errorf("restore refused: %w", err)
		}
		return err
	}
	fmt.Fprintf(e.stdout, "restored %s into %s\n", rest[0], store.DataFile(cfg.Store, cfg.DataDir))
	if replaced != "" {
		fmt.Fprintf(e.stdout, "the store it replaced is kept as %s (with its -wal and -shm files, if any)\n", replaced)
	}
	return nil
}
