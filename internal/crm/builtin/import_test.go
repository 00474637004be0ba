package builtin

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ringside/ringside/internal/crm"
)

// lookupNames returns the names of the records found for a number.
func lookupNames(t *testing.T, d *Directory, raw string) []string {
	t.Helper()
	n := testParser(t).Parse(raw)
	ms, err := d.Lookup(t.Context(), n)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Record.Name)
	}
	return out
}

// TestImportSemicolonAndTab: Excel in German writes `;`, other tools tab; both are
// detected from the header line.
func TestImportSemicolonAndTab(t *testing.T) {
	for sep, src := range map[string]string{
		";":  "type;first_name;last_name;company;phone\ncontact;Jana;Schulz;Müller GmbH;030 5550101\n",
		"\t": "type\tfirst_name\tlast_name\tphone\ncontact\tJana\tSchulz\t030 5550101\n",
	} {
		d := newDir(t, openStore(t, t.TempDir()))
		res, err := d.Import(t.Context(), strings.NewReader(src))
		if err != nil {
			t.Fatalf("separator %q: %v", sep, err)
		}
		if res.Contacts != 1 || res.Separator != sep {
			t.Errorf("separator %q: %+v", sep, res)
		}
		if got := lookupNames(t, d, "030 5550101"); len(got) != 1 || got[0] != "Jana Schulz" {
			t.Errorf("separator %q: lookup = %v", sep, got)
		}
	}
}

// TestImportWindows1252: a file saved by Excel on Windows (not UTF-8) reads right.
func TestImportWindows1252(t *testing.T) {
	src := []byte("type;first_name;last_name;phone\ncontact;J\xfcrgen;M\xfcller;030 5550102\n") // ü in Windows-1252
	d := newDir(t, openStore(t, t.TempDir()))
	res, err := d.Import(t.Context(), bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if res.Encoding != "windows-1252" {
		t.Errorf("encoding = %q", res.Encoding)
	}
	if got := lookupNames(t, d, "030 5550102"); len(got) != 1 || got[0] != "Jürgen Müller" {
		t.Errorf("lookup = %q", got)
	}
}

// TestReimportNoTwins: importing the same file twice, or a corrected one, updates the
// records (same email, or same name and phone) instead of adding twins.
func TestReimportNoTwins(t *testing.T) {
	src := "type,first_name,last_name,email,phone,mobile\n" +
		"contact,Jana,Schulz,jana@example.com,030 5550101,\n" +
		"lead,Ole,Berg,,030 5550103,\n"
	d := newDir(t, openStore(t, t.TempDir()))
	if _, err := d.Import(t.Context(), strings.NewReader(src)); err != nil {
		t.Fatal(err)
	}
	n := d.Len()
	res, err := d.Import(t.Context(), strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != n || res.Updated != 2 || res.Contacts != 0 || res.Leads != 0 {
		t.Fatalf("second import: len %d → %d, %+v", n, d.Len(), res)
	}
	if got := lookupNames(t, d, "030 5550101"); len(got) != 1 {
		t.Fatalf("twins: %v", got)
	}
	// Jana's new mobile (same email) and Ole's email (same name and phone) update them.
	fix := "type,first_name,last_name,email,phone,mobile\n" +
		"contact,Jana,Schulz-Berg,JANA@example.com,,0170 5550104\n" +
		"lead,Ole,Berg,ole@example.com,030 5550103,\n"
	res, err = d.Import(t.Context(), strings.NewReader(fix))
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != n || res.Updated != 2 {
		t.Fatalf("corrected import: len %d → %d, %+v", n, d.Len(), res)
	}
	if got := lookupNames(t, d, "0170 5550104"); len(got) != 1 || got[0] != "Jana Schulz-Berg" {
		t.Errorf("mobile: %v", got)
	}
	if got := lookupNames(t, d, "030 5550101"); len(got) != 1 || got[0] != "Jana Schulz-Berg" {
		t.Errorf("old phone kept: %v", got)
	}
	ms, _ := d.Lookup(t.Context(), testParser(t).Parse("030 5550103"))
	if len(ms) != 1 || ms[0].Record.Email != "ole@example.com" || ms[0].Record.Entity != crm.Lead {
		t.Errorf("ole: %+v", ms)
	}
}

// TestImportPhoneChecks: a phone that is not a number is an error naming the line and
// column; a row without any phone is a warning (stored, but never found by a call).
func TestImportPhoneChecks(t *testing.T) {
	d := newDir(t, openStore(t, t.TempDir()))
	src := "type,first_name,last_name,phone,mobile\n" +
		"contact,Jana,Schulz,not-a-number,\n" +
		"contact,Ole,Berg,,\n" +
		"person,Max,Muster,030 5550105,\n"
	_, err := d.Import(t.Context(), strings.NewReader(src))
	var ie *ImportError
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error()
	for _, w := range []string{`line 2: phone: "not-a-number" is not a phone number`, `line 4: type: "person" is not contact, lead or account`} {
		if !strings.Contains(msg, w) {
			t.Errorf("missing %q in %s", w, msg)
		}
	}
	if d.Len() != 0 {
		t.Fatalf("stored %d records from a rejected file", d.Len())
	}
	p, err := d.Preview(t.Context(), strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Errors) != 2 || len(p.Warnings) != 1 || p.Warnings[0].Line != 3 || !strings.Contains(p.Warnings[0].Msg, "no phone") {
		t.Errorf("preview: errors %+v warnings %+v", p.Errors, p.Warnings)
	}
	if len(p.Items) != 3 || p.Items[0].Action != "error" || p.Items[1].Action != "create" {
		t.Errorf("items: %+v", p.Items)
	}
	if d.Len() != 0 {
		t.Fatal("preview stored records")
	}
}
