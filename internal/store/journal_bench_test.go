package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/call"
)

// BenchmarkSaveCalls writes new ringing calls in batches of 40, as the pipeline's journal
// writer does under load (one transaction per batch). ns/op is per call.
//
//	go test -run '^$' -bench SaveCalls ./internal/store/
func BenchmarkSaveCalls(b *testing.B) {
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			st := benchStore(b, kind)
			if st == nil {
				b.Skip("RINGSIDE_TEST_POSTGRES_DSN not set")
			}
			const batch = 40
			t0 := time.Now()
			b.ResetTimer()
			for i := 0; i < b.N; i += batch {
				es := make([]JournalEntry, 0, batch)
				for j := i; j < i+batch && j < b.N; j++ {
					es = append(es, JournalEntry{Call: call.Call{
						ID: fmt.Sprintf("0193-%012d", j), PbxID: fmt.Sprint(j), Source: "bench",
						Direction: call.Inbound, State: call.Ringing, StartedAt: t0.Add(time.Duration(j) * time.Millisecond),
						Remote: call.Remote{Raw: "+49 30 1234567", Number: "+49301234567"},
						Legs:   []call.Leg{{Extension: fmt.Sprint(1000 + j%1000), User: fmt.Sprint("agent", j%1000), State: call.Ringing}},
					}})
				}
				if err := st.SaveCalls(context.Background(), es); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSaveCallsLifecycle journals whole calls, three writes each (ringing, answered,
// ended) in batches of 40 calls, once with every write replacing the call's legs (as all
// writes did before the journal writer told the store what it holds) and once with the
// legs written only when they changed (LegsNone, then LegsSame twice: what the pipeline
// passes for a call whose legs stay). ns/op is per call, all three writes.
//
//	go test -run '^$' -bench SaveCallsLifecycle ./internal/store/
func BenchmarkSaveCallsLifecycle(b *testing.B) {
	for _, kind := range []string{"sqlite", "postgres"} {
		for _, mode := range []string{"replaced", "changed-only"} {
			b.Run(kind+"/legs="+mode, func(b *testing.B) {
				st := benchStore(b, kind)
				if st == nil {
					b.Skip("RINGSIDE_TEST_POSTGRES_DSN not set")
				}
				const batch = 40
				t0 := time.Now()
				b.ResetTimer()
				for i := 0; i < b.N; i += batch {
					for step, state := range []call.State{call.Ringing, call.Answered, call.Ended} {
						held := LegsUnknown
						if mode == "changed-only" {
							held = LegsSame
							if step == 0 {
								held = LegsNone
							}
						}
						es := make([]JournalEntry, 0, batch)
						for j := i; j < i+batch && j < b.N; j++ {
							c := call.Call{
								ID: fmt.Sprintf("0193-%012d", j), PbxID: fmt.Sprint(j), Source: "bench",
								Direction: call.Inbound, State: state, StartedAt: t0.Add(time.Duration(j) * time.Millisecond),
								Remote: call.Remote{Raw: "+49 30 1234567", Number: "+49301234567"},
								Legs:   []call.Leg{{Extension: fmt.Sprint(1000 + j%1000), User: fmt.Sprint("agent", j%1000), State: call.Ringing}},
							}
							if state != call.Ringing {
								c.AnsweredAt, c.AnsweredBy, c.Legs[0].State = c.StartedAt.Add(5*time.Second), c.Legs[0].Extension, call.Answered
							}
							if state == call.Ended {
								c.EndedAt, c.Legs[0].State = c.StartedAt.Add(90*time.Second), call.Ended
							}
							es = append(es, JournalEntry{Call: c, Legs: held})
						}
						if err := st.SaveCalls(context.Background(), es); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}
