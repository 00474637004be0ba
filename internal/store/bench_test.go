package store

import (
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"
)

// benchStore opens a fresh store of one kind, or nil when PostgreSQL is not configured.
func benchStore(b *testing.B, kind string) *Store {
	b.Helper()
	cfg, dir := Config{}, b.TempDir()
	if kind == "postgres" {
		dsn := os.Getenv("RINGSIDE_TEST_POSTGRES_DSN")
		if dsn == "" {
			return nil
		}
		cfg = Config{Driver: "postgres", DSN: pgSchema(b, dsn, dir)}
	}
	st, err := Open(b.Context(), cfg, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// BenchmarkIndexRows1M writes 1,000,000 adapter index rows and reads them back, as a
// CRM adapter's full sync and its start-up load do. Run it with
//
//	go test -run '^$' -bench IndexRows1M -benchtime 1x ./internal/store/
func BenchmarkIndexRows1M(b *testing.B) {
	const n = 1_000_000
	rows := make([]IndexRow, n)
	for i := range rows {
		rows[i] = IndexRow{Key: fmt.Sprintf("contact/%08d", i), Data: fmt.Appendf(nil, `{"p":["+4930%07d","+49171%07d"],"n":"Contact %d"}`, i, i, i)}
	}
	for _, be := range []string{"sqlite", "postgres"} {
		b.Run(be, func(b *testing.B) {
			st := benchStore(b, be)
			if st == nil {
				b.Skip("no PostgreSQL (RINGSIDE_TEST_POSTGRES_DSN)")
			}
			ctx := b.Context()
			for b.Loop() {
				if err := st.ClearIndex(ctx, "bench"); err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				if err := st.PutIndexRows(ctx, "bench", rows); err != nil {
					b.Fatal(err)
				}
				put := time.Since(t0)
				t0 = time.Now()
				count := 0
				if err := st.LoadIndexRows(ctx, "bench", func(IndexRow) error { count++; return nil }); err != nil {
					b.Fatal(err)
				}
				load := time.Since(t0)
				if count != n {
					b.Fatalf("loaded %d rows", count)
				}
				b.ReportMetric(put.Seconds(), "put-s")
				b.ReportMetric(load.Seconds(), "load-s")
			}
		})
	}
}
