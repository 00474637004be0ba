package stats

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/store"
)

var base = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{}, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// genCall is the i-th call of day d of the generated journal.
func genCall(d, i int) call.Call {
	ext := fmt.Sprintf("20%d", i%3)
	user := []string{"alice", "bob", "carol"}[i%3]
	c := call.Call{
		ID:        fmt.Sprintf("c-%d-%d", d, i),
		Direction: call.Inbound,
		State:     call.Ended,
		Remote:    call.Remote{Number: fmt.Sprintf("+4930100%04d", (d*31+i)%37)},
		DID:       fmt.Sprintf("+4930555%d", i%2),
		StartedAt: base.AddDate(0, 0, d).Add(8*time.Hour + time.Duration(i)*10*time.Minute),
		Legs:      []call.Leg{{Extension: ext, User: user}},
	}
	if i%5 == 0 {
		c.Direction, c.DID = call.Outbound, ""
		if i%2 == 0 {
			c.AnsweredAt = c.StartedAt.Add(4 * time.Second)
			c.AnsweredBy = ext
		}
	} else if i%4 != 1 {
		c.AnsweredAt = c.StartedAt.Add(time.Duration(i%6+1) * 3 * time.Second)
		c.AnsweredBy = ext
	} else {
		c.Missed = true
		if i%8 == 1 { // a number never heard again: not called back
			c.Remote.Number = fmt.Sprintf("+4940%03d%03d", d, i)
		}
	}
	c.Remote.Raw = c.Remote.Number
	c.EndedAt = c.StartedAt.Add(2 * time.Minute)
	if !c.AnsweredAt.IsZero() {
		c.EndedAt = c.AnsweredAt.Add(time.Duration(i+1) * 10 * time.Second)
	}
	return c
}

// naive adds up calls the slow, obvious way, as the reference.
func naive(all []call.Call, pick func(call.Call) bool) Figures {
	var f Figures
	var waits []float64
	for _, c := range all {
		if !pick(c) {
			continue
		}
		switch c.Direction {
		case call.Inbound:
			f.CallsIn++
		case call.Outbound:
			f.CallsOut++
		}
		if c.Direction == call.Inbound && !c.AnsweredAt.IsZero() {
			f.Answered++
			waits = append(waits, c.AnsweredAt.Sub(c.StartedAt).Seconds())
		}
		if !c.AnsweredAt.IsZero() {
			f.Talk += c.EndedAt.Sub(c.AnsweredAt).Seconds()
		}
		if c.Missed {
			f.Missed++
			back := false
			for _, o := range all {
				if o.Remote.Number == c.Remote.Number && o.StartedAt.After(c.StartedAt) && (o.Direction == call.Outbound || !o.AnsweredAt.IsZero()) {
					back = true
				}
			}
			if !back {
				f.MissedNotCalledBack++
			}
		}
	}
	if len(waits) > 0 {
		sum := 0.0
		for _, w := range waits {
			sum += w
		}
		f.AnswerAvg = sum / float64(len(waits))
		slices.Sort(waits)
		f.AnswerP90 = waits[int(math.Ceil(0.9*float64(len(waits))))-1]
	}
	return f
}

func same(t *testing.T, what string, got, want Figures) {
	t.Helper()
	got.waits, got.talk, want.waits, want.talk = nil, 0, nil, 0
	if math.Abs(got.AnswerAvg-want.AnswerAvg) < 1e-6 {
		got.AnswerAvg = want.AnswerAvg
	}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

// TestAgainstGeneratedJournal: ten days of 30 calls each (in and out, answered,
// missed, called back or not, two DIDs, three agents); the figures of a range inside
// them match the naive count, in total, per day, per hour, per agent and per DID.
func TestAgainstGeneratedJournal(t *testing.T) {
	st := openStore(t)
	var all []call.Call
	var entries []store.JournalEntry
	for d := range 10 {
		for i := range 30 {
			c := genCall(d, i)
			all = append(all, c)
			entries = append(entries, store.JournalEntry{Call: c})
		}
	}
	if err := st.SaveCalls(t.Context(), entries); err != nil {
		t.Fatal(err)
	}
	from, to := base.AddDate(0, 0, 2), base.AddDate(0, 0, 7) // days 2..6
	in := func(c call.Call) bool { return !c.StartedAt.Before(from) && c.StartedAt.Before(to) }
	r, err := Compute(t.Context(), st, Options{From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	want := naive(all, in)
	if want.Missed == 0 || want.MissedNotCalledBack == 0 || want.MissedNotCalledBack == want.Missed || want.CallsOut == 0 {
		t.Fatalf("the generated journal does not exercise every figure: %+v", want)
	}
	same(t, "total", r.Total, want)
	if len(r.Buckets) != 5 {
		t.Fatalf("%d day buckets", len(r.Buckets))
	}
	for i, b := range r.Buckets {
		day := from.AddDate(0, 0, i)
		same(t, "day "+day.Format("02.01."), b.Figures, naive(all, func(c call.Call) bool { return in(c) && c.StartedAt.Truncate(24*time.Hour).Equal(day) }))
	}
	for _, user := range []string{"alice", "bob", "carol"} {
		i := slices.IndexFunc(r.Agents, func(a Row) bool { return a.Key == user })
		if i < 0 {
			t.Fatalf("no row for %s: %+v", user, r.Agents)
		}
		same(t, user, r.Agents[i].Figures, naive(all, func(c call.Call) bool { return in(c) && c.Legs[0].User == user }))
	}
	for _, did := range []string{"+49305550", "+49305551"} {
		i := slices.IndexFunc(r.DIDs, func(a Row) bool { return a.Key == did })
		if i < 0 {
			t.Fatalf("no row for %s", did)
		}
		same(t, did, r.DIDs[i].Figures, naive(all, func(c call.Call) bool { return in(c) && c.Direction == call.Inbound && c.DID == did }))
	}
	// By the hour: 5 days × 24 buckets; 08:00 of the first day has calls 0–5.
	rh, err := Compute(t.Context(), st, Options{From: from, To: to, Step: Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(rh.Buckets) != 120 {
		t.Fatalf("%d hour buckets", len(rh.Buckets))
	}
	h8 := from.Add(8 * time.Hour)
	same(t, "08:00", rh.Buckets[8].Figures, naive(all, func(c call.Call) bool { return !c.StartedAt.Before(h8) && c.StartedAt.Before(h8.Add(time.Hour)) }))
	same(t, "hourly total", rh.Total, want)
}

// TestFixedFigures: four inbound calls answered after 1, 2, 3 and 10 seconds and one
// missed; the numbers are worked out by hand.
func TestFixedFigures(t *testing.T) {
	st := openStore(t)
	var entries []store.JournalEntry
	for i, wait := range []int{1, 2, 3, 10, 0} {
		c := call.Call{ID: fmt.Sprint(i), Direction: call.Inbound, State: call.Ended, Remote: call.Remote{Raw: "x", Number: fmt.Sprint("+4930", i)},
			StartedAt: base.Add(time.Duration(i) * time.Minute), Legs: []call.Leg{{Extension: "200", User: "alice"}}}
		if wait > 0 {
			c.AnsweredAt = c.StartedAt.Add(time.Duration(wait) * time.Second)
			c.AnsweredBy = "200"
			c.EndedAt = c.AnsweredAt.Add(30 * time.Second)
		} else {
			c.Missed, c.EndedAt = true, c.StartedAt.Add(20*time.Second)
		}
		entries = append(entries, store.JournalEntry{Call: c})
	}
	if err := st.SaveCalls(t.Context(), entries); err != nil {
		t.Fatal(err)
	}
	r, err := Compute(t.Context(), st, Options{From: base, To: base.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	same(t, "total", r.Total, Figures{CallsIn: 5, Answered: 4, Missed: 1, MissedNotCalledBack: 1, AnswerAvg: 4, AnswerP90: 10, Talk: 120})
	var csv strings.Builder
	if err := r.WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csv.String(), "agent,alice,5,0,4,1,1,4.0,10.0,120.0") {
		t.Errorf("csv:\n%s", csv.String())
	}
	svg := r.SVG(Labels{Title: "Calls <by day>", Answered: "answered", Missed: "missed", Outbound: "outbound"})
	if !strings.HasPrefix(svg, "<svg") || !strings.Contains(svg, "Calls &lt;by day&gt;") || !strings.Contains(svg, "answered: 4") || strings.Contains(svg, "<script") ||
		!strings.Contains(svg, `fill="#17703a" class="answered"`) { // colours of its own: it is also served as an <img>
		t.Errorf("svg: %s", svg)
	}
}

func TestOptions(t *testing.T) {
	st := openStore(t)
	for _, o := range []Options{{From: base, To: base}, {From: base, To: base.Add(time.Hour), Step: "week"}, {From: base, To: base.AddDate(2, 0, 0), Step: Hour}} {
		if _, err := Compute(t.Context(), st, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestCSVFormulaCells(t *testing.T) {
	r := Report{Agents: []Row{{Key: "=HYPERLINK(\"x\")"}}, DIDs: []Row{{Key: "+4930555"}}}
	var b strings.Builder
	r.WriteCSV(&b)
	if !strings.Contains(b.String(), `'=HYPERLINK`) || !strings.Contains(b.String(), "did,+4930555,") {
		t.Errorf("%s", b.String())
	}
}

// TestAgentLegs: a call that rang alice and bob and that bob answered counts as an
// inbound call for both, answered (with its wait and talk time) for bob only; a user
// on two extensions of one call counts it once.
func TestAgentLegs(t *testing.T) {
	st := openStore(t)
	c := call.Call{ID: "q1", Direction: call.Inbound, State: call.Ended, Remote: call.Remote{Raw: "x", Number: "+49301"},
		StartedAt: base.Add(time.Hour), Legs: []call.Leg{{Extension: "200", User: "alice"}, {Extension: "201", User: "bob"}, {Extension: "211", User: "bob"}}}
	c.AnsweredAt, c.AnsweredBy, c.EndedAt = c.StartedAt.Add(6*time.Second), "211", c.StartedAt.Add(66*time.Second)
	if err := st.SaveCalls(t.Context(), []store.JournalEntry{{Call: c}}); err != nil {
		t.Fatal(err)
	}
	r, err := Compute(t.Context(), st, Options{From: base, To: base.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Agents) != 2 {
		t.Fatalf("agents: %+v", r.Agents)
	}
	for _, a := range r.Agents {
		want := Figures{CallsIn: 1}
		if a.Key == "bob" {
			want = Figures{CallsIn: 1, Answered: 1, AnswerAvg: 6, AnswerP90: 6, Talk: 60}
		}
		same(t, a.Key, a.Figures, want)
	}
}
