package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// writeCall writes call i as serve does, in three steps: the journal entry, the agent's
// note, the outbox row of its CRM activity.
func writeCall(ctx context.Context, st *Store, i int) error {
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
	id := fmt.Sprintf("bk-%05d", i)
	if err := st.SaveCall(ctx, testCall(id, start, fmt.Sprintf("Caller %d", i), "200"), nil); err != nil {
		return err
	}
	if err := st.SetNote(ctx, id, "u200", fmt.Sprintf("note %d", i)); err != nil {
		return err
	}
	_, err := st.Enqueue(ctx, OutboxItem{Kind: "crm.activity", Key: "act-" + id, Group: "call:" + id, Payload: []byte(id)})
	return err
}

// contents reads every call (with its notes) and outbox row of st.
func contents(t *testing.T, st *Store) (calls map[string]CallRecord, outbox map[string]OutboxItem) {
	t.Helper()
	recs, err := st.ListCalls(t.Context(), CallFilter{Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	calls = map[string]CallRecord{}
	for _, r := range recs {
		full, err := st.GetCall(t.Context(), r.Call.ID)
		if err != nil {
			t.Fatal(err)
		}
		calls[r.Call.ID] = full
	}
	items, err := st.ListOutbox(t.Context(), OutboxPending, OutboxParked, OutboxDone)
	if err != nil {
		t.Fatal(err)
	}
	outbox = map[string]OutboxItem{}
	for _, it := range items {
		outbox[it.Key] = it
	}
	return calls, outbox
}

// consistent checks that a store holds a prefix of the writes: calls 0…c-1, notes of
// 0…n-1, outbox rows of 0…o-1 with c-1 <= n-1 <= ... (o <= n <= c <= o+1), nothing torn.
func consistent(t *testing.T, what string, st *Store) int {
	t.Helper()
	calls, outbox := contents(t, st)
	c, n, o := len(calls), 0, len(outbox)
	for i := range c {
		id := fmt.Sprintf("bk-%05d", i)
		rec, ok := calls[id]
		if !ok {
			t.Fatalf("%s: %d calls but %s is missing", what, c, id)
		}
		if len(rec.Notes) == 1 && rec.Notes[0].Text == fmt.Sprintf("note %d", i) {
			n++
		} else if len(rec.Notes) != 0 {
			t.Fatalf("%s: %s has notes %+v", what, id, rec.Notes)
		}
	}
	for i := range o {
		if _, ok := outbox["act-"+fmt.Sprintf("bk-%05d", i)]; !ok {
			t.Fatalf("%s: %d outbox rows but that of call %d is missing", what, o, i)
		}
	}
	if o > n || n > c || c > o+1 {
		t.Fatalf("%s: %d calls, %d notes, %d outbox rows: not a moment of the writes", what, c, n, o)
	}
	return c
}

// TestBackupUnderWritesRestore backs the SQLite store up three times while a writer adds
// calls, notes and outbox rows; each backup restores into a fresh data directory as a
// moment of the writes (nothing torn). After the writes, a last backup restores with every
// call, note and outbox row equal to the original's.
func TestBackupUnderWritesRestore(t *testing.T) {
	ctx := t.Context()
	st := openStore(t, Config{}, t.TempDir())
	// Writes before the first backup, so that it is not empty.
	for i := range 20 {
		if err := writeCall(ctx, st, i); err != nil {
			t.Fatal(err)
		}
	}
	var written atomic.Int64
	written.Store(20)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 20; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := writeCall(ctx, st, i); err != nil {
				werr = err
				return
			}
			written.Store(int64(i + 1))
		}
	}()
	out := t.TempDir()
	var sizes []int
	for k := range 3 {
		before := written.Load()
		// Let the writer get ahead between backups.
		for written.Load() < before+25 && werr == nil {
			time.Sleep(5 * time.Millisecond)
		}
		file := filepath.Join(out, fmt.Sprintf("b%d.db", k))
		if err := st.Backup(ctx, file); err != nil {
			t.Fatal(err)
		}
		data := t.TempDir()
		if _, err := Restore(ctx, Config{}, data, file, time.Now()); err != nil {
			t.Fatal(err)
		}
		re := openStore(t, Config{}, data)
		sizes = append(sizes, consistent(t, fmt.Sprintf("backup %d", k), re))
		re.Close()
	}
	close(stop)
	wg.Wait()
	if werr != nil {
		t.Fatal(werr)
	}
	t.Logf("calls in the backups taken during writes: %v (of %d written)", sizes, written.Load())
	if sizes[0] < 20 || sizes[2] <= sizes[0] {
		t.Errorf("the backups did not follow the writes: %v calls", sizes)
	}

	final := filepath.Join(out, "final.db")
	if err := st.Backup(ctx, final); err != nil {
		t.Fatal(err)
	}
	if err := st.Backup(ctx, final); err == nil {
		t.Error("a backup overwrote an existing file")
	}
	data := t.TempDir()
	if _, err := Restore(ctx, Config{}, data, final, time.Now()); err != nil {
		t.Fatal(err)
	}
	re := openStore(t, Config{}, data)
	wantCalls, wantOutbox := contents(t, st)
	gotCalls, gotOutbox := contents(t, re)
	if len(gotCalls) != int(written.Load()) || len(gotCalls) != len(wantCalls) || len(gotOutbox) != len(wantOutbox) {
		t.Fatalf("restored %d calls, %d outbox rows; the store has %d, %d (%d written)", len(gotCalls), len(gotOutbox), len(wantCalls), len(wantOutbox), written.Load())
	}
	for id, w := range wantCalls {
		g := gotCalls[id]
		if fmt.Sprint(g) != fmt.Sprint(w) {
			t.Fatalf("call %s restored as\n%+v\nwant\n%+v", id, g, w)
		}
	}
	for k, w := range wantOutbox {
		g := gotOutbox[k]
		if fmt.Sprint(g) != fmt.Sprint(w) {
			t.Fatalf("outbox row %s restored as\n%+v\nwant\n%+v", k, g, w)
		}
	}
}

// TestRestoreRefusals: restore refuses while the data lock is held (a running serve),
// refuses a file that is not a Ringside store and leaves the store as it was, and keeps
// the store it replaces.
func TestRestoreRefusals(t *testing.T) {
	ctx := t.Context()
	src := openStore(t, Config{}, t.TempDir())
	if err := writeCall(ctx, src, 0); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "b.db")
	if err := src.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}

	data := t.TempDir()
	cur := openStore(t, Config{}, data)
	if err := writeCall(ctx, cur, 0); err != nil {
		t.Fatal(err)
	}
	if err := writeCall(ctx, cur, 1); err != nil {
		t.Fatal(err)
	}
	cur.Close()

	unlock, err := LockData(Config{}, data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(ctx, Config{}, data, backup, time.Now()); !errors.Is(err, ErrInUse) {
		t.Errorf("restore while the data lock is held: %v, want ErrInUse", err)
	}
	if _, err := LockData(Config{}, data); !errors.Is(err, ErrInUse) {
		t.Errorf("a second lock: %v, want ErrInUse", err)
	}
	unlock()

	junk := filepath.Join(t.TempDir(), "junk.db")
	os.WriteFile(junk, []byte("not a database, not at all, not even close to one"), 0o600)
	if _, err := Restore(ctx, Config{}, data, junk, time.Now()); err == nil {
		t.Error("restored a file that is not a database")
	}
	if re := openStore(t, Config{}, data); len(must(contents(t, re))) != 2 {
		t.Error("a refused restore changed the store")
	} else {
		re.Close()
	}

	replaced, err := Restore(ctx, Config{}, data, backup, time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(replaced) != "ringside.db.replaced-20261205T120000Z" {
		t.Errorf("replaced store kept as %q", replaced)
	}
	re := openStore(t, Config{}, data)
	if n := len(must(contents(t, re))); n != 1 {
		t.Errorf("restored store has %d calls, want the backup's 1", n)
	}
	old := openStore(t, Config{DSN: replaced}, "")
	if n := len(must(contents(t, old))); n != 2 {
		t.Errorf("the replaced store has %d calls, want 2", n)
	}
}

func must[A, B any](a A, _ B) A { return a }

// TestBackupPostgres: a PostgreSQL store says to use pg_dump, and takes no data lock.
func TestBackupPostgres(t *testing.T) {
	bs := backends(t)
	st := bs[1].open(t)
	if err := st.Backup(t.Context(), filepath.Join(t.TempDir(), "x.db")); !errors.Is(err, ErrUsePgDump) {
		t.Errorf("Backup: %v, want ErrUsePgDump", err)
	}
	cfg := Config{Driver: "postgres", DSN: "postgres://x"}
	if _, err := Restore(t.Context(), cfg, "", "x.db", time.Now()); !errors.Is(err, ErrUsePgDump) {
		t.Errorf("Restore: %v, want ErrUsePgDump", err)
	}
	if unlock, err := LockData(cfg, ""); err != nil {
		t.Errorf("LockData: %v", err)
	} else {
		unlock()
	}
}
