package store

import (
	"testing"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/crm"
)

// TestListCallsSearch: the history's search by name or number, the record's calls, and
// the last contact (by number, leaving the current call out), on every backend.
func TestListCallsSearch(t *testing.T) {
	forEach(t, func(t *testing.T, open func(t *testing.T) *Store) {
		s := open(t)
		ctx := t.Context()
		t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		a := testCall("s-a", t0, "Jürgen 100%_Sicher", "200")
		b := testCall("s-b", t0.Add(time.Minute), "Erika Muster", "200")
		b.Remote.Raw, b.Remote.Number = "089 4445556", "+49894445556"
		c := testCall("s-c", t0.Add(2*time.Minute), "Other", "201")
		for _, x := range []struct {
			id string
			ms []crm.Match
		}{{"s-a", nil}, {"s-b", []crm.Match{{Record: crm.Record{Ref: crm.Ref{Entity: crm.Contact, ID: "r1"}, Name: "Mustermann KG"}}}}, {"s-c", nil}} {
			cc := map[string]callT{"s-a": a, "s-b": b, "s-c": c}[x.id]
			if err := s.SaveCall(ctx, cc, x.ms); err != nil {
				t.Fatal(err)
			}
		}
		ref := crm.Ref{Entity: crm.Contact, ID: "r1"}
		name := "Mustermann KG"
		if err := s.AnnotateCall(ctx, "s-b", Annotation{Regarding: &ref, RegardingName: &name}); err != nil {
			t.Fatal(err)
		}
		ids := func(f CallFilter) []string {
			t.Helper()
			recs, err := s.ListCalls(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range recs {
				out = append(out, r.Call.ID)
			}
			return out
		}
		for _, tc := range []struct {
			name string
			f    CallFilter
			want []string
		}{
			{"caller name, any case", CallFilter{Query: "erika"}, []string{"s-b"}},
			{"record name", CallFilter{Query: "mustermann"}, []string{"s-b"}},
			{"wildcards are literal", CallFilter{Query: "100%_s"}, []string{"s-a"}},
			{"a % is literal (unescaped it would match all)", CallFilter{Query: "%"}, []string{"s-a"}},
			{"digits", CallFilter{Digits: "4445556"}, []string{"s-b"}},
			{"name or digits", CallFilter{Query: "other", Digits: "309876543"}, []string{"s-c", "s-a"}},
			{"own extensions only", CallFilter{Query: "other", Extensions: []string{"200"}}, nil},
			{"regarding", CallFilter{Regarding: &ref}, []string{"s-b"}},
			{"last contact", CallFilter{Numbers: []string{"+49309876543"}, Exclude: "s-c", Limit: 1}, []string{"s-a"}},
		} {
			if got := ids(tc.f); !equal(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
	})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

type callT = call.Call
