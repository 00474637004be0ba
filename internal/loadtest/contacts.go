package loadtest

import (
	"fmt"

	"github.com/ringside/ringside/internal/crm"
)

var areas = []string{"30", "40", "89", "69", "221", "711", "351", "621"}

// Contacts returns n generated contacts, each with a business number (written the way
// people type them) and every second one with a mobile.
func Contacts(n int) []crm.Record { return ContactsRange(0, n) }

// ContactsRange returns generated contacts from to to-1.
func ContactsRange(from, to int) []crm.Record {
	recs := make([]crm.Record, 0, max(0, to-from))
	for i := from; i < to; i++ {
		r := crm.Record{Ref: crm.Ref{Entity: crm.Contact, ID: fmt.Sprintf("bench%07d", i)}, FirstName: "Bench", LastName: fmt.Sprint("Caller", i),
			Name: fmt.Sprint("Bench Caller", i), Company: "Load Test Ltd", Country: "DE",
			Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: fmt.Sprintf("0%s %07d", areas[i%len(areas)], 2000000+i)}}}
		if i%2 == 0 {
			r.Phones = append(r.Phones, crm.Phone{Field: crm.FieldMobile, Raw: fmt.Sprintf("+49 171 %07d", 3000000+i)})
		}
		recs = append(recs, r)
	}
	return recs
}

// CallerOf returns the E.164 number of generated contact i (its business number).
func CallerOf(i int) string { return fmt.Sprintf("+49%s%07d", areas[i%len(areas)], 2000000+i) }

// UnknownCaller returns a number no generated contact has.
func UnknownCaller(i int) string { return fmt.Sprintf("+49172%07d", i%10000000) }
