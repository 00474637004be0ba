package builtin

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ringside/ringside/internal/crm"
)

// ImportResult says what an import stored.
type ImportResult struct {
	Rows            int `json:"rows"`             // data rows read
	Contacts        int `json:"contacts"`         // contacts created
	Leads           int `json:"leads"`            // leads created
	Accounts        int `json:"accounts"`         // account rows created
	AccountsUpdated int `json:"accounts_updated"` // account rows that matched an existing account by name
	AccountsLinked  int `json:"accounts_created"` // accounts created for contacts' companies
}

// A LineError is one bad line of an import file.
type LineError struct {
	Line int    // 1-based line number in the file
	Msg  string // what is wrong
}

// ImportError lists the bad lines of a rejected import (up to maxLineErrors of them).
type ImportError struct {
	Lines []LineError
	More  int // bad lines not listed
}

// maxLineErrors is how many bad lines one ImportError lists.
const maxLineErrors = 20

func (e *ImportError) Error() string {
	var b strings.Builder
	b.WriteString("builtin: import rejected, nothing was stored:")
	for _, l := range e.Lines {
		fmt.Fprintf(&b, "\n  line %d: %s", l.Line, l.Msg)
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "\n  … and %d more bad lines", e.More)
	}
	return b.String()
}

func (e *ImportError) add(line int, format string, args ...any) {
	if len(e.Lines) >= maxLineErrors {
		e.More++
		return
	}
	e.Lines = append(e.Lines, LineError{Line: line, Msg: fmt.Sprintf(format, args...)})
}

// importColumns are the columns Import knows; others are ignored.
var importColumns = []string{"type", "first_name", "last_name", "company", "email", "phone", "mobile", "other_phone", "country"}

type importRow struct {
	line int
	rec  crm.Record
}

// Import loads accounts, contacts and leads from CSV with the header
// type,first_name,last_name,company,email,phone,mobile,other_phone,country (any order,
// any case, a BOM tolerated, unknown columns ignored). An account's name is in company;
// a contact with a company is linked to the account of that name (from the file or the
// directory, created when missing); country is the ISO region of the row's numbers.
// The file is stored entirely or, when any line is bad, not at all: the *ImportError
// then lists the bad lines.
func (d *Directory) Import(ctx context.Context, r io.Reader) (ImportResult, error) {
	rows, res, err := parseImport(r)
	if err != nil {
		return ImportResult{}, err
	}
	if len(rows) == 0 {
		return res, nil
	}
	if err := d.Sync(ctx); err != nil {
		return ImportResult{}, err
	}
	// Accounts first, so that contacts find them whatever the row order. An account row
	// whose name is taken (in the directory or earlier in the file) adds to that account.
	d.mu.RLock()
	accounts := make(map[string]string, len(d.accounts))
	for k, v := range d.accounts {
		accounts[k] = v
	}
	existing := func(id string) (crm.Record, bool) {
		return d.recs.get("account/" + id) // URL not set
	}
	batch := make([]crm.Record, 0, len(rows))
	inBatch := map[string]int{} // account ID → index in batch
	for _, row := range rows {
		if row.rec.Entity != crm.Account {
			continue
		}
		rec := row.rec
		id, ok := accounts[fold(rec.Name)]
		if !ok {
			rec.ID = newID()
			accounts[fold(rec.Name)] = rec.ID
			inBatch[rec.ID] = len(batch)
			batch = append(batch, rec)
			res.Accounts++
			continue
		}
		i, ok := inBatch[id]
		if !ok {
			base, found := existing(id)
			if !found { // an account of the file that another row already merged
				base = crm.Record{Ref: crm.Ref{Entity: crm.Account, ID: id}, Name: rec.Name}
			}
			i = len(batch)
			inBatch[id] = i
			batch = append(batch, base)
		}
		merge(&batch[i], rec)
		res.AccountsUpdated++
	}
	d.mu.RUnlock()
	for _, row := range rows {
		rec := row.rec
		switch rec.Entity {
		case crm.Account:
			continue
		case crm.Lead:
			res.Leads++
		case crm.Contact:
			res.Contacts++
			if c := strings.TrimSpace(rec.Company); c != "" {
				id, ok := accounts[fold(c)]
				if !ok {
					id = newID()
					accounts[fold(c)] = id
					batch = append(batch, crm.Record{Ref: crm.Ref{Entity: crm.Account, ID: id}, Name: c, Country: rec.Country})
					res.AccountsLinked++
				}
				rec.AccountID = id
			}
		}
		rec.ID = newID()
		batch = append(batch, rec)
	}
	if err := d.write(ctx, batch); err != nil {
		return ImportResult{}, fmt.Errorf("builtin: import: %w", err)
	}
	return res, nil
}

// merge adds what an account row of an import brings to an account: email and country
// where it has none, and the numbers it does not have yet.
func merge(dst *crm.Record, src crm.Record) {
	if dst.Email == "" {
		dst.Email = src.Email
	}
	if dst.Country == "" {
		dst.Country = src.Country
	}
	for _, p := range src.Phones {
		if !slices.ContainsFunc(dst.Phones, func(q crm.Phone) bool { return q.Raw == p.Raw }) {
			dst.Phones = append(dst.Phones, p)
		}
	}
}

// parseImport reads and checks the whole file; it stores nothing.
func parseImport(r io.Reader) ([]importRow, ImportResult, error) {
	var res ImportResult
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	bad := &ImportError{}
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		bad.add(1, "the file is empty; the first line must be a header such as %s", strings.Join(importColumns, ","))
		return nil, res, bad
	}
	if err != nil {
		bad.add(csvLine(err, 1), "%s", csvMsg(err))
		return nil, res, bad
	}
	col := map[string]int{}
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			continue
		}
		if _, dup := col[h]; dup {
			bad.add(1, "column %q appears twice in the header", h)
			continue
		}
		col[h] = i
	}
	if _, ok := col["type"]; !ok {
		bad.add(1, "the header has no type column (want %s)", strings.Join(importColumns, ","))
	}
	if len(bad.Lines) > 0 {
		return nil, res, bad
	}
	cell := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}
	var rows []importRow
	for {
		fields, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// A CSV syntax error leaves the reader out of step: report it and stop.
			bad.add(csvLine(err, 1), "%s", csvMsg(err))
			break
		}
		line, _ := cr.FieldPos(0)
		if !slices.ContainsFunc(fields, func(f string) bool { return strings.TrimSpace(f) != "" }) {
			continue // a line of empty cells
		}
		res.Rows++
		typ := strings.ToLower(strings.TrimSpace(cell(fields, "type")))
		rec := crm.Record{
			Ref:       crm.Ref{Entity: crm.Entity(typ)},
			FirstName: cell(fields, "first_name"),
			LastName:  cell(fields, "last_name"),
			Company:   cell(fields, "company"),
			Email:     strings.TrimSpace(cell(fields, "email")),
			Country:   cell(fields, "country"),
		}
		for _, p := range []struct{ col, field string }{{"phone", crm.FieldBusiness}, {"mobile", crm.FieldMobile}, {"other_phone", crm.FieldOther}} {
			if v := cell(fields, p.col); strings.TrimSpace(v) != "" {
				rec.Phones = append(rec.Phones, crm.Phone{Field: p.field, Raw: strings.TrimSpace(v)})
			}
		}
		if typ == "" {
			bad.add(line, "type is empty (want contact, lead or account)")
			continue
		}
		if err := normalise(&rec); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				bad.add(line, "%s: %s", fe.Field, fe.Msg)
			} else {
				bad.add(line, "%v", err)
			}
			continue
		}
		rows = append(rows, importRow{line: line, rec: rec})
	}
	if len(bad.Lines) > 0 {
		return nil, ImportResult{}, bad
	}
	return rows, res, nil
}

// csvLine returns the line a csv error names, or def.
func csvLine(err error, def int) int {
	var pe *csv.ParseError
	if errors.As(err, &pe) && pe.Line > 0 {
		return pe.Line
	}
	return max(def, 1)
}

func csvMsg(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return "not valid CSV: " + pe.Err.Error()
	}
	return "cannot read the file: " + err.Error()
}
