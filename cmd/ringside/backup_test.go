package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/store"
	"github.com/ringside/ringside/internal/testenv"
)

// TestBackupRestoreCommands: `ringside backup` copies the store while serve runs and
// calls, notes and outbox rows are being written; `ringside restore` refuses while serve
// runs, and, once it has stopped, restores the last backup into a fresh data directory
// with every call, note and outbox row of the original.
func TestBackupRestoreCommands(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cli(t, "correct horse battery\n", "users", "add", "alice", "--extension", "200", "--data", data, "--password-stdin")
	pbx := lastLine(cli(t, "", "tokens", "create", "--scope", "pbx", "--data", data))

	port := testenv.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	var serveErr syncBuffer
	go func() {
		done <- run(ctx, env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &serveErr, getenv: func(string) string { return "" }},
			[]string{"serve", "--data", data, "--listen", fmt.Sprintf("127.0.0.1:%d", port)})
	}()
	stopped := false
	stopServe := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d:\n%s", code, serveErr.String())
		}
	}
	t.Cleanup(stopServe)
	testenv.Eventually(t, 20*time.Second, "serve answers /healthz", func() (bool, error) {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})

	// A second process's view of the store (as the CLI has) writes notes and outbox rows
	// while the server journals the calls the phone system reports.
	side, err := store.Open(t.Context(), store.Config{}, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer side.Close()
	c := client{t: t, base: base}
	var n atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("bk-%d", i)
			for _, ev := range []string{
				`{"event":"ringing","call_id":"` + id + `","direction":"inbound","from":"+49 30 98765` + fmt.Sprint(i%100) + `","extension":"200"}`,
				`{"event":"answered","call_id":"` + id + `","extension":"200"}`,
				`{"event":"ended","call_id":"` + id + `","cause":"normal"}`,
			} {
				if code, body := c.do("POST", "/api/v1/events", pbx, "application/json", ev); code != http.StatusAccepted {
					t.Errorf("event: %d %s", code, body)
					return
				}
			}
			side.Enqueue(context.Background(), store.OutboxItem{Kind: "webhook", Key: "k-" + id, Group: "webhook:x " + id, Payload: []byte(id)})
			n.Add(1)
		}
	}()
	// Notes on the calls journaled so far.
	noted := map[string]bool{}
	note := func() {
		recs, err := side.ListCalls(t.Context(), store.CallFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if !noted[r.Call.ID] {
				noted[r.Call.ID] = true
				if err := side.SetNote(t.Context(), r.Call.ID, "alice", "notes of "+r.Call.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for k := range 2 {
		for n.Load() < int64(10*(k+1)) {
			time.Sleep(10 * time.Millisecond)
		}
		note()
		file := filepath.Join(dir, fmt.Sprintf("during-%d.db", k))
		if out := cli(t, "", "backup", file, "--data", data); !strings.Contains(out, file) {
			t.Errorf("backup said %q", out)
		}
	}
	close(stop)
	wg.Wait()
	// Let the pipeline journal the last events, then note them too.
	testenv.Eventually(t, 20*time.Second, "every call journaled as ended", func() (bool, error) {
		recs, err := side.ListCalls(t.Context(), store.CallFilter{Limit: 1000})
		if err != nil || len(recs) != int(n.Load()) {
			return false, err
		}
		for _, r := range recs {
			if r.Call.State != "ended" {
				return false, nil
			}
		}
		return true, nil
	})
	note()
	final := filepath.Join(dir, "final.db")
	cli(t, "", "backup", final, "--data", data)

	code, _, errOut := runCLI(t, "", "restore", final, "--data", data)
	if code == 0 || !strings.Contains(errOut, "ringside serve is using this store") {
		t.Errorf("restore while serve runs: exit %d, %q; want a refusal naming serve", code, errOut)
	}
	code, _, errOut = runCLI(t, "", "serve", "--data", data, "--listen", "127.0.0.1:0")
	if code == 0 || !strings.Contains(errOut, "ringside serve is using this store") {
		t.Errorf("a second serve on the same data: exit %d, %q", code, errOut)
	}

	stopServe()
	fresh := filepath.Join(dir, "fresh")
	if out := cli(t, "", "restore", final, "--data", fresh); !strings.Contains(out, "restored") {
		t.Errorf("restore said %q", out)
	}
	re, err := store.Open(t.Context(), store.Config{}, fresh, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	want, got := dump(t, side), dump(t, re)
	calls := strings.Count(want, "\n") - strings.Count(want, "outbox ")
	if calls != int(n.Load()) || want != got {
		t.Fatalf("restored store differs from the original (%d calls written):\n got %.2000s\nwant %.2000s", n.Load(), got, want)
	}
	if strings.Count(got, "notes of ") != calls || !strings.Contains(got, " k-bk-0 ") {
		t.Errorf("the restore lacks notes or the first outbox row:\n%.1000s", got)
	}
}

// dump renders every call (with notes) and outbox row of st.
func dump(t *testing.T, st *store.Store) string {
	t.Helper()
	var b bytes.Buffer
	recs, err := st.ListCalls(t.Context(), store.CallFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		full, err := st.GetCall(t.Context(), r.Call.ID)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s %s %v\n", full.Call.ID, full.Call.State, full.Call.Remote.Raw, full.Notes)
	}
	items, err := st.ListOutbox(t.Context(), store.OutboxPending, store.OutboxParked, store.OutboxDone)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		fmt.Fprintf(&b, "outbox %d %s %s %s\n", it.ID, it.Key, it.Group, it.Payload)
	}
	return b.String()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
