package dynamics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/crm/dynamics/dataversetest"
	"github.com/ringside/ringside/internal/outbox"
	"github.com/ringside/ringside/internal/phone"
	"github.com/ringside/ringside/internal/store"
)

// BenchmarkLookupIndexed measures lookups from an index of 1,000,000 phone entries
// (500,000 contacts with a business and a mobile number, filled through the same path
// as a sync page), and reports the p50/p99 latency of single lookups (half hits, half
// misses).
func BenchmarkLookupIndexed(b *testing.B) {
	const records = 500_000
	fake := dataversetest.New(b, dataversetest.Options{})
	d := newTestDirectory(b, fake, nil)
	t, _ := d.cfg.table(crm.Contact)
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := w; i < records; i += 2 {
				d.put(rowFromJSON(t, map[string]any{
					"contactid": fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
					"fullname":  fmt.Sprintf("Contact %d", i), "lastname": fmt.Sprintf("%d", i),
					"telephone1":  fmt.Sprintf("+49 30 %d", 10_000_000+i),
					"mobilephone": fmt.Sprintf("0170 %d", 20_000_000+i),
				}))
			}
		})
	}
	wg.Wait()
	d.ready.Store(true)
	if n := d.idx.Len(); n != records {
		b.Fatalf("index holds %d records", n)
	}
	queries := make([]phone.Number, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range queries {
		k := rng.IntN(records)
		switch i % 4 {
		case 0:
			queries[i] = d.parser.Parse(fmt.Sprintf("+4930%d", 10_000_000+k))
		case 1:
			queries[i] = d.parser.Parse(fmt.Sprintf("+49170%d", 20_000_000+k))
		default: // misses
			queries[i] = d.parser.Parse(fmt.Sprintf("+4940%d", 10_000_000+k))
		}
	}
	ctx := b.Context()
	lat := make([]time.Duration, 0, 1<<20)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		q := queries[i%len(queries)]
		t0 := time.Now()
		ms, _ := d.Lookup(ctx, q)
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(t0))
		}
		if i%4 < 2 && len(ms) != 1 {
			b.Fatalf("lookup %s: %d matches", q.E164, len(ms))
		}
		i++
	}
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
	}
}

// BenchmarkInitialSync measures the initial sync against the fake with 5 ms of
// simulated latency per page (50,000 contacts, one phone each, pages of 5000).
func BenchmarkInitialSync(b *testing.B) {
	const records = 50_000
	fake := dataversetest.New(b, dataversetest.Options{PageLatency: 5 * time.Millisecond})
	seedContacts(fake, records)
	var total time.Duration
	n := 0
	for b.Loop() {
		d := newTestDirectory(b, fake, nil, func(c *Config) {
			c.PageSize = 5000
			c.Tables = map[string][]string{"contact": {"telephone1", "mobilephone"}}
		})
		t0 := time.Now()
		if err := d.Sync(b.Context(), false, nil); err != nil {
			b.Fatal(err)
		}
		total += time.Since(t0)
		n++
	}
	b.ReportMetric(float64(records*n)/total.Seconds(), "records/s")
}

// BenchmarkLoadIndex measures a restart: loading 1,000,000 phone entries (500,000
// contacts) from the store into memory, without any CRM request.
func BenchmarkLoadIndex(b *testing.B) {
	const records = 500_000
	fake := dataversetest.New(b, dataversetest.Options{})
	st := newMemStore()
	d := newTestDirectory(b, fake, st)
	ctx := b.Context()
	rows := make([]IndexRow, 0, records)
	for i := range records {
		e1, e2 := fmt.Sprintf("+4930%d", 10_000_000+i), fmt.Sprintf("+49170%d", 20_000_000+i)
		rw := &row{Entity: crm.Contact, ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Name: "Contact",
			Phones: [][2]string{{"telephone1", e1}, {"mobilephone", e2}},
			Parsed: []parsedNumber{{Field: "telephone1", Raw: e1, E164: e1, Region: "DE", Digits: e1[1:]}, {Field: "mobilephone", Raw: e2, E164: e2, Region: "DE", Digits: e2[1:]}}}
		rows = append(rows, IndexRow{Key: rw.key(), Data: encodeRow(rw)})
	}
	_ = st.PutIndexRows(ctx, d.scope, rows)
	_ = st.SetState(ctx, d.scope, stateFingerprint, []byte(d.fp))
	for _, t := range d.cfg.tables {
		_ = st.SetState(ctx, d.scope, stateDeltaPrefix+string(t.entity), []byte("x"))
	}
	for b.Loop() {
		d2 := newTestDirectory(b, fake, st)
		if err := d2.Load(ctx); err != nil || !d2.Ready() {
			b.Fatal(err)
		}
	}
	if n := len(fake.Requests()); n != 0 {
		b.Errorf("%d CRM requests while loading", n)
	}
}

// BenchmarkLogCallsThroughOutbox delivers b.N calls' activities through the real outbox
// (SQLite, the default pool) to the fake answering every request in 50 ms, and reports
// the Dataverse requests per logged call: writes due at the same time share a $batch.
// Run with -benchtime 400x.
func BenchmarkLogCallsThroughOutbox(b *testing.B) {
	for _, group := range []bool{false, true} {
		name := map[bool]string{false: "one-change-set-per-request", true: "group-commit"}[group]
		b.Run(name, func(b *testing.B) {
			fake := dataversetest.New(b, dataversetest.Options{Latency: 50 * time.Millisecond})
			ctx := b.Context()
			log := slog.New(slog.DiscardHandler)
			st, err := store.Open(ctx, store.Config{}, b.TempDir(), log)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			d := newTestDirectory(b, fake, st)
			d.noGroupCommit = !group
			start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
			for i := range b.N {
				a := crm.Activity{Key: fmt.Sprintf("call:b-%d", i), Subject: "Incoming call", Direction: "inbound", Number: "+4930111",
					Start: start, Duration: time.Minute}
				payload, _ := json.Marshal(a)
				if _, err := st.Enqueue(ctx, store.OutboxItem{Kind: "crm.activity", Key: a.Key, Group: "call:b-" + fmt.Sprint(i), Payload: payload}); err != nil {
					b.Fatal(err)
				}
			}
			w := outbox.New(st, "bench", map[string]outbox.Handler{"crm.activity": func(ctx context.Context, it store.OutboxItem) error {
				var a crm.Activity
				if err := json.Unmarshal(it.Payload, &a); err != nil {
					return errors.Join(outbox.ErrPermanent, err)
				}
				return d.LogCall(ctx, a)
			}}, log, outbox.Options{Poll: 10 * time.Millisecond})
			before := fake.Stats().Requests
			b.ResetTimer()
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { w.Run(rctx); close(done) }()
			for len(fake.Records("phonecall")) < b.N {
				time.Sleep(5 * time.Millisecond)
			}
			b.StopTimer()
			cancel()
			<-done
			b.ReportMetric(float64(fake.Stats().Requests-before)/float64(b.N), "requests/call")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
		})
	}
}
