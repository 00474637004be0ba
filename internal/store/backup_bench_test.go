package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkBackup measures `ringside backup` (VACUUM INTO) of a SQLite journal of 100,000
// calls with a note each: the time a backup takes, and the size of the copy
// (bytes/backup as a metric). Run: go test -run '^$' -bench Backup -benchtime 3x ./internal/store
func BenchmarkBackup(b *testing.B) {
	n := 100_000
	if s := os.Getenv("RINGSIDE_BENCH_CALLS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	st := openStore(b, Config{}, b.TempDir())
	ctx := b.Context()
	start := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	for i := 0; i < n; i += 1000 {
		var batch []JournalEntry
		for j := i; j < min(i+1000, n); j++ {
			batch = append(batch, JournalEntry{Call: testCall(fmt.Sprintf("bb-%07d", j), start.Add(time.Duration(j)*time.Minute), "Caller", "200", "201")})
		}
		if err := st.SaveCalls(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	for i := range n {
		if err := st.SetNote(ctx, fmt.Sprintf("bb-%07d", i), "u200", "called back about the invoice"); err != nil {
			b.Fatal(err)
		}
	}
	dir := b.TempDir()
	var size int64
	k := 0
	b.ResetTimer()
	for b.Loop() {
		file := filepath.Join(dir, fmt.Sprintf("b%d.db", k))
		k++
		if err := st.Backup(ctx, file); err != nil {
			b.Fatal(err)
		}
		fi, _ := os.Stat(file)
		size = fi.Size()
		os.Remove(file)
	}
	b.ReportMetric(float64(size), "bytes/backup")
	b.ReportMetric(float64(n), "calls")
}
