package dynamics

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/ringside/ringside/internal/crm"
)

// Create creates a contact, lead or account from r (the unknown-caller dialog) and
// returns it as stored, with its id and URL. The new record is indexed at once, so the
// next call from its number is recognised before the next sync.
func (d *Directory) Create(ctx context.Context, r crm.Record) (crm.Record, error) {
	if !r.Entity.Valid() {
		return crm.Record{}, fmt.Errorf("dynamics: create: unknown entity %q (use contact, account or lead)", r.Entity)
	}
	t, ok := d.cfg.table(r.Entity)
	if !ok {
		t = newTable(r.Entity, phoneColumns(r.Entity))
	}
	op := "create " + string(r.Entity)
	resp, err := d.c.do(ctx, request{
		op: op, method: http.MethodPost,
		url:    d.cfg.api + t.set + "?$select=" + t.selectList(),
		body:   createBody(t, r, true),
		prefer: []string{"return=representation", annotations},
	})
	if err != nil {
		return crm.Record{}, err
	}
	var m map[string]any
	if err := json.Unmarshal(resp.body, &m); err != nil {
		return crm.Record{}, fmt.Errorf("dynamics: %s: decode reply: %w", op, err)
	}
	rw := rowFromJSON(t, m)
	if rw == nil {
		return crm.Record{}, fmt.Errorf("dynamics: %s: reply has no %s", op, t.idAttr)
	}
	if _, indexed := d.cfg.table(r.Entity); indexed && d.put(rw) {
		if err := d.persist(ctx, []IndexRow{{Key: rw.key(), Data: encodeRow(rw)}}, nil); err != nil {
			d.log.Warn("index created record", "err", err)
		}
	}
	return d.record(rw), nil
}

// phoneColumns are the columns a table has for the crm phone fields.
func phoneColumns(e crm.Entity) []string {
	if e == crm.Account {
		return []string{"telephone1", "telephone2", "telephone3"}
	}
	return []string{"telephone1", "telephone2", "telephone3", "mobilephone"}
}

// column maps a crm phone field to a column of t: a column name is kept, business is
// telephone1, home telephone2, mobile mobilephone, other telephone3.
func column(t table, field string, used map[string]bool) string {
	cols := phoneColumns(t.entity)
	want := map[string]string{crm.FieldBusiness: "telephone1", crm.FieldHome: "telephone2", crm.FieldMobile: "mobilephone", crm.FieldOther: "telephone3"}[field]
	if slices.Contains(cols, field) || slices.Contains(t.columns, field) {
		want = field
	}
	if want != "" && !used[want] && (slices.Contains(cols, want) || slices.Contains(t.columns, want)) {
		return want
	}
	for _, c := range cols {
		if !used[c] {
			return c
		}
	}
	return ""
}

// createBody is the Web API body for a new record from r. Required columns (contact and
// lead lastname, lead subject, account name) are always filled.
func createBody(t table, r crm.Record, binds bool) map[string]any {
	m := map[string]any{}
	set := func(k, v string) {
		if v = strings.TrimSpace(v); v != "" {
			m[k] = v
		}
	}
	first, last := r.FirstName, r.LastName
	if first == "" && last == "" && r.Name != "" {
		if i := strings.LastIndexByte(strings.TrimSpace(r.Name), ' '); i > 0 {
			first, last = strings.TrimSpace(r.Name)[:i], strings.TrimSpace(r.Name)[i+1:]
		} else {
			last = r.Name
		}
	}
	used := map[string]bool{}
	for _, p := range r.Phones {
		if c := column(t, p.Field, used); c != "" && strings.TrimSpace(p.Raw) != "" {
			used[c] = true
			set(c, p.Raw)
		}
	}
	set("emailaddress1", r.Email)
	switch r.Entity {
	case crm.Account:
		name := r.Name
		if name == "" {
			name = r.Company
		}
		set("name", name)
	case crm.Contact:
		set("firstname", first)
		set("lastname", last)
		if binds && isGUID(r.AccountID) {
			m["parentcustomerid_account@odata.bind"] = "/accounts(" + r.AccountID + ")"
		}
	case crm.Lead:
		set("firstname", first)
		set("lastname", last)
		set("companyname", r.Company)
		subject := "Call"
		if len(r.Phones) > 0 {
			subject = "Call from " + r.Phones[0].Raw
		}
		set("subject", subject)
	}
	if binds {
		// The API insists on the required columns; the form (extraqs) lets the user fill them.
		if _, ok := m["lastname"]; !ok && r.Entity != crm.Account {
			m["lastname"] = "(unknown caller)"
		}
		if _, ok := m["name"]; !ok && r.Entity == crm.Account {
			m["name"] = "(unknown caller)"
		}
	}
	return m
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
