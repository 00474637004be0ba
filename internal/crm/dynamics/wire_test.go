package dynamics

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/crm/dynamics/dataversetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// recorder is a transport that writes down every API request.
type recorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

var boundaryRE = regexp.MustCompile(`(?:batch|changeset)_[0-9a-f]{20,}`)

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.Contains(req.URL.Path, "/oauth2/") {
		var body []byte
		if req.Body != nil {
			body, _ = io.ReadAll(req.Body)
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		r.mu.Lock()
		fmt.Fprintf(&r.buf, "%s %s\n", req.Method, req.URL.RequestURI())
		var keys []string
		for k := range req.Header {
			if k != "Authorization" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&r.buf, "%s: %s\n", k, req.Header.Get(k))
		}
		if len(body) > 0 {
			fmt.Fprintf(&r.buf, "\n%s\n", bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n")))
		}
		r.buf.WriteString("\n")
		r.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) take(base string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := strings.ReplaceAll(r.buf.String(), base, "https://contoso.crm4.dynamics.com")
	r.buf.Reset()
	return boundaryRE.ReplaceAllStringFunc(s, func(b string) string { k, _, _ := strings.Cut(b, "_"); return k + "_BOUNDARY" })
}

// TestWire compares the requests the adapter sends with testdata/wire/*.txt (go test
// -run TestWire -update rewrites them).
func TestWire(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	contact := fake.Put("contact", map[string]any{"contactid": "0f7e3a1c-1b2d-4e5f-8a9b-0c1d2e3f4a5b", "lastname": "Doe", "telephone1": "+49 30 9876543"})
	fake.Put("systemuser", map[string]any{"systemuserid": "44444444-4444-4444-4444-444444444444", "internalemailaddress": "alice@example.com"})
	rec := &recorder{}
	d, err := New(testConfig(fake), testParser(t), newMemStore(), slog.New(slog.DiscardHandler), WithGetenv(testGetenv), WithTransport(rec))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	steps := []struct {
		name string
		run  func() error
	}{
		{"live_lookup", func() error { _, err := d.Lookup(ctx, d.parser.Parse("+49 30 9876543")); return err }},
		{"create_contact", func() error {
			_, err := d.Create(ctx, crm.Record{Ref: crm.Ref{Entity: crm.Contact}, FirstName: "Jane", LastName: "O'Doe",
				Phones: []crm.Phone{{Field: crm.FieldMobile, Raw: "+49 170 1234567"}}})
			return err
		}},
		{"log_call", func() error {
			return d.LogCall(ctx, crm.Activity{Key: "call:c-1", Subject: "Incoming call from Jane Doe", Notes: "quote", Direction: "inbound",
				Number: "+49309876543", Regarding: &crm.Ref{Entity: crm.Contact, ID: contact}, AgentEmail: "alice@example.com",
				Start: start, End: start.Add(100 * time.Second), Duration: 100 * time.Second})
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := st.run(); err != nil {
				t.Fatal(err)
			}
			got := rec.take(fake.URL)
			path := filepath.Join("testdata", "wire", st.name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", path, diff)
			}
		})
	}
}
