package stats

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/store"
)

// benchJournal opens (building it once) a SQLite journal of n calls spread evenly over
// a year from base, in RINGSIDE_BENCH_DIR (kept between runs) or a temporary folder.
func benchJournal(b *testing.B, n int) *store.Store {
	b.Helper()
	dir := os.Getenv("RINGSIDE_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	dir = filepath.Join(dir, "stats-"+strconv.Itoa(n))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(context.Background(), store.Config{}, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		return st
	}
	gap := 365 * 24 * time.Hour / time.Duration(n)
	batch := make([]store.JournalEntry, 0, 10000)
	for i := range n {
		c := genCall(0, i%30)
		c.ID = fmt.Sprintf("b%07d", i)
		shift := time.Duration(i)*gap - (c.StartedAt.Sub(base))
		c.StartedAt = c.StartedAt.Add(shift)
		if !c.AnsweredAt.IsZero() {
			c.AnsweredAt = c.AnsweredAt.Add(shift)
		}
		c.EndedAt = c.EndedAt.Add(shift)
		c.Remote.Number = fmt.Sprintf("+4930%07d", (i*7919)%200000)
		c.Remote.Raw = c.Remote.Number
		batch = append(batch, store.JournalEntry{Call: c})
		if len(batch) == cap(batch) || i == n-1 {
			if err := st.SaveCalls(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	os.WriteFile(filepath.Join(dir, "complete"), nil, 0o600)
	return st
}

// BenchmarkMonthOf1MCalls: a month's statistics (per day, agents, DIDs) from a journal
// of 1,000,000 calls over a year (RINGSIDE_BENCH_CALLS changes the size).
func BenchmarkMonthOf1MCalls(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("RINGSIDE_BENCH_CALLS")); err == nil && v > 0 {
		n = v
	}
	st := benchJournal(b, n)
	from := base.AddDate(0, 5, 0)
	for _, step := range []Step{Day, Hour} {
		b.Run(string(step), func(b *testing.B) {
			var r Report
			for b.Loop() {
				var err error
				r, err = Compute(context.Background(), st, Options{From: from, To: from.AddDate(0, 1, 0), Step: step})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(r.Total.CallsIn+r.Total.CallsOut), "calls/op")
		})
	}
}
