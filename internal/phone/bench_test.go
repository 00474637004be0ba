package phone

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"
)

// benchNumber returns the i-th generated E.164 number.
func benchNumber(prefix string, i int) Number {
	e := fmt.Sprintf("+%s%08d", prefix, i*37)
	return Number{Raw: e, E164: e, Region: "DE", Digits: e[1:]}
}

// buildBenchIndex indexes records records: 90% with a parsed landline, half of them with a
// mobile too, 10% with a local number only the suffix fallback can find.
func buildBenchIndex(records int) *Index {
	x := NewIndex(8)
	for i := range records {
		key := fmt.Sprintf("contact/%d", i)
		switch {
		case i%10 == 9:
			d := fmt.Sprintf("7%07d", i)
			x.Set(key, []Entry{{"telephone1", Number{Raw: d, Digits: d}}})
		case i%2 == 0:
			x.Set(key, []Entry{{"telephone1", benchNumber("4930", i)}, {"mobilephone", benchNumber("49170", i)}})
		default:
			x.Set(key, []Entry{{"telephone1", benchNumber("4930", i)}})
		}
	}
	return x
}

// BenchmarkIndexLookup looks up received numbers in an index of 1,000,000 records: 70%
// exact hits, 20% suffix-only hits, 10% misses. It reports the p99 of single lookups
// (timed on every 8th one) and the heap the index holds per record.
func BenchmarkIndexLookup(b *testing.B) {
	const records = 1_000_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	x := buildBenchIndex(records)
	runtime.GC()
	runtime.ReadMemStats(&after)
	heapPerRecord := float64(after.HeapAlloc-before.HeapAlloc) / records

	rng := rand.New(rand.NewPCG(1, 2))
	queries := make([]Number, 1<<14)
	for i := range queries {
		r := rng.IntN(records)
		switch q := rng.IntN(10); {
		case q < 7 && r%10 != 9:
			queries[i] = benchNumber("4930", r)
		case q < 9:
			r = r - r%10 + 9 // a local-only record
			e := fmt.Sprintf("+4989%s", fmt.Sprintf("7%07d", r))
			queries[i] = Number{E164: e, Digits: e[1:]}
		default:
			queries[i] = benchNumber("4940", r) // nobody
		}
	}
	samples := make([]time.Duration, 0, 1<<16)
	hits := 0
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		q := queries[i&(len(queries)-1)]
		if i&7 == 0 && len(samples) < cap(samples) {
			start := time.Now()
			hits += len(x.Lookup(q))
			samples = append(samples, time.Since(start))
		} else {
			hits += len(x.Lookup(q))
		}
		i++
	}
	b.StopTimer()
	if hits == 0 {
		b.Fatal("no hits")
	}
	b.ReportMetric(heapPerRecord, "heap-B/record") // after the loop: b.Loop resets metrics
	slices.Sort(samples)
	if len(samples) > 0 {
		b.ReportMetric(float64(samples[len(samples)*99/100].Nanoseconds()), "p99-ns")
	}
	runtime.KeepAlive(x)
}

// BenchmarkIndexSet measures building: one Set per record into a growing index.
func BenchmarkIndexSet(b *testing.B) {
	x := NewIndex(8)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		x.Set(fmt.Sprintf("contact/%d", i), []Entry{{"telephone1", benchNumber("4930", i)}})
		i++
	}
}

func BenchmarkParse(b *testing.B) {
	p := newTestParser(b)
	inputs := []string{
		"+49309876543", "%2B49309876543", "0049301112233", "030/123 45-67", "0 030 1234567",
		"sip:+49301234567@pbx;user=phone", `"Jane" <sip:0301234567@pbx>`, "+44 20 7946 0958 ext 12",
		"anonymous", "200", "' or 1 eq 1 or '", "12345678",
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.Parse(inputs[i%len(inputs)])
		i++
	}
}
