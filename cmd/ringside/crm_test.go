package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringside/ringside/internal/crm/dynamics/dataversetest"
)

// ringside crm sync fills the local phone index from a (fake) Dataverse; lookups then
// answer from the index, and crm check reports what it checked.
func TestCRMSyncLookupCheck(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	fake.Put("contact", map[string]any{"firstname": "Jane", "lastname": "Doe", "telephone1": "+49 (30) 123 456-78"})
	fake.Put("account", map[string]any{"name": "ACME GmbH", "telephone1": "030 9876540"})
	t.Setenv("RINGSIDE_TEST_DYN_SECRET", "secret")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "ringside.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
crm:
  kind: dynamics
  url: %s
  authority: %s
  tenant_id: tenant
  client_id: client
  client_secret_env: RINGSIDE_TEST_DYN_SECRET
`, filepath.Join(dir, "data"), fake.URL, fake.URL)), 0o600)

	code, out, errs := runCLI(t, "", "crm", "sync", "--config", cfg)
	if code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("crm sync: %d %s %s", code, out, errs)
	}
	before := len(fake.Requests())
	code, out, errs = runCLI(t, "", "lookup", "--json", "0049 30 12345678", "--config", cfg)
	if code != 0 || !strings.Contains(out, `"name": "Jane Doe"`) || !strings.Contains(out, `"match": "exact"`) {
		t.Fatalf("lookup after sync: %d %s %s", code, out, errs)
	}
	// The index was loaded from the store: no live query for the lookup (a delta sync may run).
	for _, r := range fake.Requests()[before:] {
		if strings.Contains(r, "$filter") && strings.Contains(r, "telephone") {
			t.Errorf("lookup went to the CRM: %s", r)
		}
	}
	code, out, errs = runCLI(t, "", "crm", "check", "--config", cfg)
	if code != 0 || !strings.Contains(out, "ok") || strings.Contains(out, "FAIL") {
		t.Fatalf("crm check: %d %s %s", code, out, errs)
	}
	t.Setenv("RINGSIDE_TEST_DYN_SECRET", "wrong")
	code, out, _ = runCLI(t, "", "crm", "check", "--config", cfg)
	if code == 0 || !strings.Contains(out, "FAIL") {
		t.Fatalf("crm check with a wrong secret: %d %s", code, out)
	}
}
