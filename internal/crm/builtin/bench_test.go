package builtin

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"slices"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/phone"
)

var areas = []string{"30", "40", "89", "69", "221", "711", "351", "621"}

// benchContacts returns n contacts with a business number each and a mobile for half.
func benchContacts(n int) []crm.Record {
	recs := make([]crm.Record, n)
	for i := range recs {
		r := crm.Record{Ref: crm.Ref{Entity: crm.Contact, ID: fmt.Sprintf("c%07d", i)}, FirstName: "First", LastName: fmt.Sprint("Last", i),
			Name: fmt.Sprint("First Last", i), Company: "Company", Country: "DE",
			Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: fmt.Sprintf("0%s %07d", areas[i%len(areas)], 2000000+i)}}}
		if i%2 == 0 {
			r.Phones = append(r.Phones, crm.Phone{Field: crm.FieldMobile, Raw: fmt.Sprintf("+49 171 %07d", 3000000+i)})
		}
		recs[i] = r
	}
	return recs
}

// BenchmarkLoad100k measures start-up: reading 100,000 contacts from SQLite into the
// index.
//
//	go test -run '^$' -bench Load100k -benchtime 1x ./internal/crm/builtin/
func BenchmarkLoad100k(b *testing.B) {
	st := openStore(b, b.TempDir())
	if _, err := st.PutRecords(b.Context(), benchContacts(100_000)); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		d, err := New(st, testParser(b), Config{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Load(b.Context()); err != nil {
			b.Fatal(err)
		}
		if d.Len() != 100_000 {
			b.Fatalf("loaded %d", d.Len())
		}
	}
}

// BenchmarkLookup1M looks numbers up in a directory of 1,000,000 contacts (1.5 million
// numbers) and reports the latency percentiles of single lookups. The records go
// straight into memory (the store is not what is measured). Run it with
//
//	go test -run '^$' -bench Lookup1M -benchtime 200000x ./internal/crm/builtin/
func BenchmarkLookup1M(b *testing.B) {
	const contacts = 1_000_000
	p := testParser(b)
	d, err := New(newMemStore(), p, Config{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	d.applyAll(benchContacts(contacts))
	b.Logf("indexed %d contacts in %s", d.Len(), time.Since(start).Round(time.Millisecond))
	heap, mark := gcFigures()
	b.Logf("live heap %.0f MB, forced GC %s (mark CPU %s)", heap/1e6, mark.wall, mark.cpu)
	// The numbers a phone system sends: mostly known callers in E.164, some unknown.
	rng := rand.New(rand.NewPCG(1, 2))
	queries := make([]phone.Number, 4096)
	for i := range queries {
		k := rng.IntN(contacts)
		switch i % 8 {
		case 0:
			queries[i] = p.Parse(fmt.Sprintf("+49 172 %07d", k)) // unknown
		case 1:
			queries[i] = p.Parse(fmt.Sprintf("+49171%07d", 3000000+k&^1)) // mobile
		default:
			queries[i] = p.Parse(fmt.Sprintf("+49%s%07d", areas[k%len(areas)], 2000000+k))
		}
	}
	ctx := context.Background()
	lat := make([]time.Duration, 0, 1<<20)
	found, i := 0, 0
	b.ReportAllocs()
	for b.Loop() {
		q := queries[i%len(queries)]
		i++
		t0 := time.Now()
		ms, _ := d.Lookup(ctx, q)
		lat = append(lat, time.Since(t0))
		if len(ms) > 0 {
			found++
		}
	}
	slices.Sort(lat)
	pct := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Nanoseconds()) }
	b.ReportMetric(pct(0.50), "p50-ns")
	b.ReportMetric(pct(0.99), "p99-ns")
	b.ReportMetric(pct(0.999), "p99.9-ns")
	b.ReportMetric(float64(found)/float64(len(lat)), "hit-ratio")
	b.ReportMetric(heap/1e6, "heap-MB")
	b.ReportMetric(float64(mark.wall.Microseconds())/1e3, "gc-ms")
	b.ReportMetric(float64(mark.cpu.Microseconds())/1e3, "gc-cpu-ms")
	runtime.KeepAlive(d)
	if pct(0.99) > float64(50*time.Microsecond) {
		b.Errorf("p99 %v, want under 50µs", time.Duration(pct(0.99)))
	}
}

// gcTime is what one forced collection cost.
type gcTime struct {
	wall time.Duration // the runtime.GC call (mark and sweep, the world mostly running)
	cpu  time.Duration // CPU time of the GC's mark workers (/cpu/classes/gc/mark)
}

// gcFigures collects twice (the first one settles what the set-up left behind) and
// returns the live heap in bytes (HeapInuse after the collection) and the cost of the
// second collection, whose marking work is proportional to the pointers the heap holds.
func gcFigures() (heapInuse float64, t gcTime) {
	runtime.GC()
	samples := []metrics.Sample{{Name: "/cpu/classes/gc/mark/assist:cpu-seconds"},
		{Name: "/cpu/classes/gc/mark/dedicated:cpu-seconds"}, {Name: "/cpu/classes/gc/mark/idle:cpu-seconds"}}
	cpu := func() float64 {
		metrics.Read(samples)
		sum := 0.0
		for _, s := range samples {
			if s.Value.Kind() == metrics.KindFloat64 {
				sum += s.Value.Float64()
			}
		}
		return sum
	}
	before := cpu()
	t0 := time.Now()
	runtime.GC()
	t.wall = time.Since(t0)
	t.cpu = time.Duration((cpu() - before) * float64(time.Second))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse), t
}
