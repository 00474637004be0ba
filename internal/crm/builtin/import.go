package builtin

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/phone"
)

// ImportResult says what an import stored (or, from Preview, would store).
type ImportResult struct {
	Rows            int         `json:"rows"`             // data rows read
	Contacts        int         `json:"contacts"`         // contacts created
	Leads           int         `json:"leads"`            // leads created
	Updated         int         `json:"updated"`          // contacts and leads that matched an existing record and were updated
	Accounts        int         `json:"accounts"`         // account rows created
	AccountsUpdated int         `json:"accounts_updated"` // account rows that matched an existing account by name
	AccountsLinked  int         `json:"accounts_created"` // accounts created for contacts' companies
	Separator       string      `json:"separator"`        // the column separator found: "," ";" or "\t"
	Encoding        string      `json:"encoding"`         // "utf-8" or "windows-1252"
	Warnings        []LineError `json:"warnings,omitempty"`
}

// A LineError is one bad (or doubtful) line of an import file.
type LineError struct {
	Line  int    `json:"line"`            // 1-based line number in the file
	Field string `json:"field,omitempty"` // the column concerned, when one is
	Msg   string `json:"message"`         // what is wrong
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
	e.addField(line, "", format, args...)
}

func (e *ImportError) addField(line int, field, format string, args ...any) {
	if len(e.Lines) >= maxLineErrors {
		e.More++
		return
	}
	e.Lines = append(e.Lines, LineError{Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// importColumns are the columns Import knows; others are ignored.
var importColumns = []string{"type", "first_name", "last_name", "company", "email", "phone", "mobile", "other_phone", "country"}

type importRow struct {
	line int
	rec  crm.Record
}

// A PreviewItem is one row of an import as Preview sees it.
type PreviewItem struct {
	Line   int      `json:"line"`
	Type   string   `json:"type"`
	Name   string   `json:"name"`
	Email  string   `json:"email,omitempty"`
	Phones []string `json:"phones,omitempty"`
	// Action is create, update (an existing record: same email, or same name and
	// phone; accounts: same name) or error (the row is wrong; see Issues).
	Action string   `json:"action"`
	Issues []string `json:"issues,omitempty"`
}

// maxPreviewItems bounds the rows a Preview lists (the counts cover every row).
const maxPreviewItems = 1000

// Preview is what an import would do, stored nothing.
type Preview struct {
	Result   ImportResult  `json:"result"`
	Errors   []LineError   `json:"errors"` // the import is refused while there are any
	More     int           `json:"more_errors,omitempty"`
	Warnings []LineError   `json:"warnings"` // stored anyway
	Items    []PreviewItem `json:"items"`    // the first maxPreviewItems rows
}

// parsed is a read import file.
type parsed struct {
	rows  []importRow
	res   ImportResult
	bad   *ImportError
	warns []LineError
	items []PreviewItem
	item  map[int]int // line → index in items
}

// Import loads accounts, contacts and leads from CSV with the header
// type,first_name,last_name,company,email,phone,mobile,other_phone,country (any order,
// any case, a BOM tolerated, unknown columns ignored; `,` `;` or tab between columns,
// UTF-8 or Windows-1252). An account's name is in company; a contact with a company is
// linked to the account of that name (from the file or the directory, created when
// missing); country is the ISO region of the row's numbers. A contact or lead that
// matches an existing one of the same type — same email, or same name and phone — is
// updated (its other numbers kept) instead of added twice. The file is stored entirely
// or, when any line is bad, not at all: the *ImportError then lists the bad lines.
func (d *Directory) Import(ctx context.Context, r io.Reader) (ImportResult, error) {
	p, err := d.readImport(r)
	if err != nil {
		return ImportResult{}, err
	}
	if len(p.bad.Lines) > 0 {
		return ImportResult{}, p.bad
	}
	if len(p.rows) == 0 {
		return p.res, nil
	}
	if err := d.Sync(ctx); err != nil {
		return ImportResult{}, err
	}
	batch := d.plan(p)
	if err := d.write(ctx, batch); err != nil {
		return ImportResult{}, fmt.Errorf("builtin: import: %w", err)
	}
	p.res.Warnings = p.warns
	return p.res, nil
}

// Preview reads an import file and says what Import would do with it, row by row,
// storing nothing.
func (d *Directory) Preview(ctx context.Context, r io.Reader) (Preview, error) {
	p, err := d.readImport(r)
	if err != nil {
		return Preview{}, err
	}
	if len(p.rows) > 0 {
		if err := d.Sync(ctx); err != nil {
			return Preview{}, err
		}
		d.plan(p)
	}
	out := Preview{Result: p.res, Errors: p.bad.Lines, More: p.bad.More, Warnings: p.warns, Items: p.items}
	if out.Errors == nil {
		out.Errors = []LineError{}
	}
	if out.Warnings == nil {
		out.Warnings = []LineError{}
	}
	if out.Items == nil {
		out.Items = []PreviewItem{}
	}
	out.Result.Warnings = nil
	return out, nil
}

// plan turns the rows into the records to write, updating p's counts and the actions
// of its preview items. It stores nothing.
func (d *Directory) plan(p *parsed) []crm.Record {
	rows, res := p.rows, &p.res
	act := func(line int, action string) {
		if i, ok := p.item[line]; ok {
			p.items[i].Action = action
		}
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	// Accounts first, so that contacts find them whatever the row order. An account row
	// whose name is taken (in the directory or earlier in the file) adds to that account.
	accounts := make(map[string]string, len(d.accounts))
	for k, v := range d.accounts {
		accounts[k] = v
	}
	batch := make([]crm.Record, 0, len(rows))
	inBatch := map[string]int{} // key → index in batch
	for _, row := range rows {
		if row.rec.Entity != crm.Account {
			continue
		}
		rec := row.rec
		id, ok := accounts[fold(rec.Name)]
		if !ok {
			rec.ID = newID()
			accounts[fold(rec.Name)] = rec.ID
			inBatch[key(rec.Ref)] = len(batch)
			batch = append(batch, rec)
			res.Accounts++
			act(row.line, "create")
			continue
		}
		k := "account/" + id
		i, ok := inBatch[k]
		if !ok {
			base, found := d.recs.get(k)
			if !found { // an account of the file that another row already merged
				base = crm.Record{Ref: crm.Ref{Entity: crm.Account, ID: id}, Name: rec.Name}
			}
			i = len(batch)
			inBatch[k] = i
			batch = append(batch, base)
		}
		merge(&batch[i], rec)
		res.AccountsUpdated++
		act(row.line, "update")
	}
	// Contacts and leads: same type and same email, or same name and phone, is the same
	// person, in the directory or earlier in the file (and a row with only a name, a
	// record of that name with neither email nor phone).
	byEmail := map[string]string{} // entity + "|" + folded email → key
	bare := map[string]string{}    // entity + "|" + folded name → key, of records with neither email nor phone
	d.recs.eachIdentity(func(k, email, name string, phones bool) {
		ent, _, _ := strings.Cut(k, "/")
		if ent == string(crm.Account) {
			return
		}
		if email != "" {
			byEmail[ent+"|"+strings.ToLower(email)] = k
		} else if !phones {
			bare[ent+"|"+fold(name)] = k
		}
	})
	fileByNamePhone := map[string]string{} // entity|name|E.164 or digits → key, for rows of this file
	numberKey := func(rec crm.Record, p crm.Phone) string {
		n := d.parser.ParseStored(p.Raw, rec.Country)
		if n.E164 != "" {
			return n.E164
		}
		return n.Digits
	}
	existing := func(rec crm.Record) string {
		if rec.Email == "" && len(rec.Phones) == 0 {
			// Only a name: the same as a record of that name that has nothing else either.
			return bare[string(rec.Entity)+"|"+fold(rec.Name)]
		}
		if rec.Email != "" {
			if k, ok := byEmail[string(rec.Entity)+"|"+strings.ToLower(rec.Email)]; ok {
				return k
			}
		}
		for _, ph := range rec.Phones {
			nk := numberKey(rec, ph)
			if nk == "" {
				continue
			}
			if k, ok := fileByNamePhone[string(rec.Entity)+"|"+fold(rec.Name)+"|"+nk]; ok {
				return k
			}
			for _, h := range d.idx.Lookup(d.parser.ParseStored(ph.Raw, rec.Country)) {
				if h.How != phone.MatchExact || !strings.HasPrefix(h.Key, string(rec.Entity)+"/") {
					continue
				}
				if name, ok := d.recs.name(h.Key); ok && fold(name) == fold(rec.Name) {
					return h.Key
				}
			}
		}
		return ""
	}
	for _, row := range rows {
		rec := row.rec
		if rec.Entity == crm.Account {
			continue
		}
		if rec.Entity == crm.Contact {
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
		if k := existing(rec); k != "" {
			i, ok := inBatch[k]
			if !ok {
				base, _ := d.recs.get(k)
				i = len(batch)
				inBatch[k] = i
				batch = append(batch, base)
			}
			update(&batch[i], rec)
			rec = batch[i]
			res.Updated++
			act(row.line, "update")
		} else {
			rec.ID = newID()
			inBatch[key(rec.Ref)] = len(batch)
			batch = append(batch, rec)
			if rec.Entity == crm.Lead {
				res.Leads++
			} else {
				res.Contacts++
			}
			act(row.line, "create")
		}
		k := key(rec.Ref)
		if rec.Email == "" && len(rec.Phones) == 0 {
			bare[string(rec.Entity)+"|"+fold(rec.Name)] = k
		}
		if rec.Email != "" {
			byEmail[string(rec.Entity)+"|"+strings.ToLower(rec.Email)] = k
		}
		for _, ph := range rec.Phones {
			if nk := numberKey(rec, ph); nk != "" {
				fileByNamePhone[string(rec.Entity)+"|"+fold(rec.Name)+"|"+nk] = k
			}
		}
	}
	return batch
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
	addPhones(dst, src.Phones)
}

// update applies a re-imported contact or lead row to the record it matched: the
// row's non-empty texts win, and its numbers are added to those the record has (a
// number in the same field is replaced).
func update(dst *crm.Record, src crm.Record) {
	for _, f := range []struct {
		dst *string
		src string
	}{
		{&dst.FirstName, src.FirstName}, {&dst.LastName, src.LastName}, {&dst.Name, src.Name},
		{&dst.Company, src.Company}, {&dst.Email, src.Email}, {&dst.Country, src.Country},
		{&dst.AccountID, src.AccountID},
	} {
		if strings.TrimSpace(f.src) != "" {
			*f.dst = f.src
		}
	}
	addPhones(dst, src.Phones)
}

func addPhones(dst *crm.Record, ps []crm.Phone) {
	for _, p := range ps {
		if !slices.ContainsFunc(dst.Phones, func(q crm.Phone) bool { return q.Raw == p.Raw }) {
			dst.Phones = append(dst.Phones, p)
		}
	}
}

// decodeText reads the whole file as text: UTF-8 (a BOM dropped) when it is valid
// UTF-8, else Windows-1252 (what Excel on Windows writes).
func decodeText(r io.Reader) ([]byte, string, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, "", err
	}
	b = bytes.TrimPrefix(b, []byte("\ufeff"))
	if utf8.Valid(b) {
		return b, "utf-8", nil
	}
	out, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil {
		return nil, "", err
	}
	return out, "windows-1252", nil
}

// separator picks the column separator from the header line: the most frequent of
// `,` `;` and tab outside quotes (`,` when none is there).
func separator(b []byte) rune {
	counts := map[rune]int{}
	quoted := false
	for _, c := range string(b) {
		if c == '\n' && !quoted {
			break
		}
		switch c {
		case '"':
			quoted = !quoted
		case ',', ';', '\t':
			if !quoted {
				counts[c]++
			}
		}
	}
	best := ','
	for _, c := range []rune{';', '\t'} {
		if counts[c] > counts[best] {
			best = c
		}
	}
	return best
}

// readImport reads and checks the whole file; it stores nothing.
func (d *Directory) readImport(r io.Reader) (*parsed, error) {
	p := &parsed{bad: &ImportError{}, item: map[int]int{}}
	text, enc, err := decodeText(r)
	if err != nil {
		return nil, fmt.Errorf("builtin: import: cannot read the file: %w", err)
	}
	sep := separator(text)
	p.res.Separator, p.res.Encoding = string(sep), enc
	cr := csv.NewReader(bytes.NewReader(text))
	cr.Comma = sep
	cr.FieldsPerRecord = -1
	bad := p.bad
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		bad.add(1, "the file is empty; the first line must be a header such as %s", strings.Join(importColumns, ","))
		return p, nil
	}
	if err != nil {
		bad.add(csvLine(err, 1), "%s", csvMsg(err))
		return p, nil
	}
	col := map[string]int{}
	for i, h := range header {
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
		bad.add(1, "the header has no type column (want %s, separated by , ; or tab)", strings.Join(importColumns, ","))
	}
	if len(bad.Lines) > 0 {
		return p, nil
	}
	cell := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}
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
		p.res.Rows++
		typ := strings.ToLower(strings.TrimSpace(cell(fields, "type")))
		rec := crm.Record{
			Ref:       crm.Ref{Entity: crm.Entity(typ)},
			FirstName: cell(fields, "first_name"),
			LastName:  cell(fields, "last_name"),
			Company:   cell(fields, "company"),
			Email:     strings.TrimSpace(cell(fields, "email")),
			Country:   cell(fields, "country"),
		}
		var phoneErrs []LineError
		for _, ph := range []struct{ col, field string }{{"phone", crm.FieldBusiness}, {"mobile", crm.FieldMobile}, {"other_phone", crm.FieldOther}} {
			v := strings.TrimSpace(cell(fields, ph.col))
			if v == "" {
				continue
			}
			rec.Phones = append(rec.Phones, crm.Phone{Field: ph.field, Raw: v})
			if n := d.parser.ParseStored(v, strings.ToUpper(strings.TrimSpace(rec.Country))); n.Withheld || (n.E164 == "" && len(n.Digits) < 3) {
				phoneErrs = append(phoneErrs, LineError{line, ph.col, fmt.Sprintf("%s: %q is not a phone number", ph.col, v)})
			}
		}
		var issues []LineError
		if typ == "" {
			issues = append(issues, LineError{line, "type", "type is empty (want contact, lead or account)"})
		} else if err := normalise(&rec); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				issues = append(issues, LineError{line, fe.Field, fe.Field + ": " + fe.Msg})
			} else {
				issues = append(issues, LineError{line, "", err.Error()})
			}
		}
		issues = append(issues, phoneErrs...)
		it := PreviewItem{Line: line, Type: typ, Name: rec.Name, Email: rec.Email, Action: "error"}
		if it.Name == "" {
			it.Name = strings.TrimSpace(strings.TrimSpace(rec.FirstName) + " " + strings.TrimSpace(rec.LastName))
		}
		for _, ph := range rec.Phones {
			it.Phones = append(it.Phones, ph.Raw)
		}
		for _, is := range issues {
			bad.addField(is.Line, is.Field, "%s", is.Msg)
			it.Issues = append(it.Issues, is.Msg)
		}
		if len(issues) == 0 {
			if len(rec.Phones) == 0 {
				w := LineError{line, "phone", "no phone number: the record is stored but no call will find it"}
				p.warns = append(p.warns, w)
				it.Issues = append(it.Issues, w.Msg)
			}
			p.rows = append(p.rows, importRow{line: line, rec: rec})
		}
		if len(p.items) < maxPreviewItems {
			p.item[line] = len(p.items)
			p.items = append(p.items, it)
		}
	}
	return p, nil
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
