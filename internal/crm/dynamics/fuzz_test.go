package dynamics

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/crm/dynamics/dataversetest"
)

// FuzzFilterEscaping: whatever a value holds, its escaped literal parses in the strict
// fake parser and matches exactly that value (case-insensitively, as Dataverse does).
func FuzzFilterEscaping(f *testing.F) {
	for _, s := range []string{"' or 1 eq 1 or '", "+49 30 123", "O'Brien", "%27", "a&b=c", "''", "\x00", "é"} {
		f.Add(s)
	}
	tb := newTable(crm.Contact, []string{"telephone1"})
	known := func(p string) bool { return p == "telephone1" }
	f.Fuzz(func(t *testing.T, v string) {
		q, err := url.ParseQuery("$filter=" + liveFilter(tb, []string{v}))
		if err != nil {
			t.Fatalf("query for %q does not decode: %v", v, err)
		}
		match, err := dataversetest.ParseFilter(q.Get("$filter"), known)
		if err != nil {
			t.Fatalf("filter for %q refused: %v", v, err)
		}
		if !match(map[string]any{"telephone1": v}) {
			t.Errorf("filter for %q does not match it", v)
		}
		if match(map[string]any{"telephone1": v + "x"}) {
			t.Errorf("filter for %q matches another value", v)
		}
	})
}

// FuzzVariants: any caller ID becomes a bounded set of filter values.
func FuzzVariants(f *testing.F) {
	for _, s := range []string{"+49 30 1234567", "0049301234567", "sip:+1-202-555-0143@x", "' or 1 eq 1 or '", "030/123 45-67"} {
		f.Add(s)
	}
	p := testParser(f)
	f.Fuzz(func(t *testing.T, raw string) {
		n := p.Parse(raw)
		vs := variants(n)
		if len(vs) > 8 {
			t.Errorf("%d variants for %q", len(vs), raw)
		}
		for _, v := range vs {
			if len(v) > 50 || strings.ContainsAny(v, "'\"") {
				t.Errorf("variant %q of %q", v, raw)
			}
		}
	})
}

// FuzzRows: whatever a page holds, reading it neither panics nor yields a row without id.
func FuzzRows(f *testing.F) {
	f.Add([]byte(`{"value":[{"contactid":"0f7e3a1c-1b2d-4e5f-8a9b-0c1d2e3f4a5b","telephone1":"+49 30 1","fullname":"A"},{"id":"x","reason":"deleted"}]}`))
	f.Add([]byte(`{"value":[{"contactid":5,"telephone1":["x"]}]}`))
	p := testParser(f)
	d := &Directory{parser: p}
	tb := newTable(crm.Contact, []string{"telephone1", "mobilephone"})
	f.Fuzz(func(t *testing.T, b []byte) {
		var pg page
		if json.Unmarshal(b, &pg) != nil {
			return
		}
		for _, m := range pg.Value {
			if isDeleted(m) {
				continue
			}
			if rw := rowFromJSON(tb, m); rw != nil {
				if rw.ID == "" {
					t.Error("row without id")
				}
				d.entries(rw)
				if _, err := decodeRow(rw.key(), encodeRow(rw)); err != nil {
					t.Error(err)
				}
			}
		}
	})
}

// FuzzBatchFailure: a $batch reply from the CRM (or from whatever answers in its place)
// is read without panicking, and a failure found in it is a failure (status 300 and up),
// classified like any reply.
func FuzzBatchFailure(f *testing.F) {
	failed := "--batchresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
		"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n\r\n{\"error\":{\"code\":\"0x80043b09\",\"message\":\"read-only\"}}\r\n--batchresponse_1--\r\n"
	ok := "--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n" +
		"--changesetresponse_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n\r\n" +
		"--changesetresponse_2--\r\n--batchresponse_1--\r\n"
	nested := strings.Replace(ok, "204 No Content", "429 Too Many Requests\r\nRetry-After: 7", 1)
	for _, s := range []string{failed, ok, nested, "", "--batchresponse_1\r\n\r\nHTTP/1.1 999\r\n", "not multipart"} {
		f.Add("multipart/mixed; boundary=batchresponse_1", s)
	}
	f.Add("application/json", `{"error":{}}`)
	f.Fuzz(func(t *testing.T, ctype, body string) {
		h := http.Header{}
		h.Set("Content-Type", ctype)
		resp := &response{status: 400, header: h, body: []byte(body)}
		if fail := batchFailure(resp); fail != nil && fail.status < 300 {
			t.Fatalf("a %d part taken for a failure", fail.status)
		}
		if err := classify("fuzz", resp, time.Now); err == nil {
			t.Fatal("a 400 reply classified as no error")
		}
	})
}
