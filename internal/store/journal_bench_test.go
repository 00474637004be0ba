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
			saveBatches(b, kind, []call.State{call.Ringing}, func(int) LegsHeld { return LegsUnknown })
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
		b.Run(kind+"/legs=replaced", func(b *testing.B) {
			saveBatches(b, kind, []call.State{call.Ringing, call.Answered, call.Ended}, func(int) LegsHeld { return LegsUnknown })
		})
		b.Run(kind+"/legs=changed-only", func(b *testing.B) {
			saveBatches(b, kind, []call.State{call.Ringing, call.Answered, call.Ended}, func(step int) LegsHeld {
				if step == 0 {
					return LegsNone
				}
				return LegsSame
			})
		})
	}
}

// saveBatches saves b.N calls in batches of 40, each batch once in each of states, with
// what held says the journal holds of their legs at that step.
func saveBatches(b *testing.B, kind string, states []call.State, held func(step int) LegsHeld) {
	st := benchStore(b, kind)
	if st == nil {
		b.Skip("RINGSIDE_TEST_POSTGRES_DSN not set")
	}
	const batch = 40
	t0 := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		for step, state := range states {
			es := make([]JournalEntry, 0, batch)
			for j := i; j < i+batch && j < b.N; j++ {
				es = append(es, JournalEntry{Call: benchCall(j, t0, state), Legs: held(step)})
			}
			if err := st.SaveCalls(context.Background(), es); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// benchCall is call j of a benchmark, in state (answered 5 s and ended 90 s after its
// start), ringing at one of 1,000 agents.
func benchCall(j int, t0 time.Time, state call.State) call.Call {
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
	return c
}
