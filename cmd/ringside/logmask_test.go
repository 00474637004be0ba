package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/config"
)

// With log_mask_numbers, newLogger masks numbers in both log formats.
func TestNewLoggerMasksNumbers(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		for _, mask := range []bool{false, true} {
			var buf bytes.Buffer
			log := newLogger(&buf, &config.Config{LogLevel: "info", LogFormat: format, LogMaskNumbers: mask})
			log.Info("call from +49 30 9876543", "number", "+49309876543", "err", fmt.Errorf("lookup 030 9876543 failed"), "notes", "call back")
			out := buf.String()
			if got := strings.Contains(strings.ReplaceAll(out, " ", ""), "9876543"); got == mask {
				t.Errorf("%s, log_mask_numbers %v: number in the log = %v:\n%s", format, mask, got, out)
			}
			if strings.Contains(out, "call back") {
				t.Errorf("%s: notes at info level:\n%s", format, out)
			}
		}
	}
}

// A server with log_mask_numbers and debug logging never writes a caller's number: calls
// ring, are answered and end, notes are saved, numbers are looked up, webhooks fail and
// park. (Today none of these paths logs a number even unmasked: this test guards against
// one that would; TestNewLoggerMasksNumbers and internal/logmask show the masking.)
func TestServeLogHasNoNumbers(t *testing.T) {
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadRequest) }))
	t.Cleanup(refuse.Close)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	secret := filepath.Join(dir, "hook.secret")
	os.WriteFile(secret, []byte("s3cret"), 0o600)
	cfgFile := filepath.Join(dir, "ringside.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`data_dir: %s
log_level: debug
log_mask_numbers: true
rules:
  - on: inbound.ended
    do: [{webhook: {url: %q, secret_file: %q}}]
`, data, refuse.URL+"/hook", secret)), 0o600)
	pbx := lastLine(cli(t, "", "tokens", "create", "--scope", "pbx", "--config", cfgFile))
	cli(t, "", "users", "add", "alice", "--extension", "200", "--config", cfgFile)
	alice := lastLine(cli(t, "", "tokens", "create", "--user", "alice", "--config", cfgFile))
	base, logs := startServeLog(t, cfgFile)
	c := client{t: t, base: base}
	numbers := []string{"+49 30 9876543", "0171 2345678", "+43 1 5123456"}
	for i, n := range numbers {
		id := fmt.Sprintf("m-%d", i)
		c.event(pbx, `{"event":"ringing","call_id":"`+id+`","direction":"inbound","from":"`+n+`","from_name":"Jane Doe","extension":"200"}`)
		c.event(pbx, `{"event":"answered","call_id":"`+id+`","extension":"200"}`)
		c.event(pbx, `{"event":"ended","call_id":"`+id+`","cause":"normal"}`)
		c.do("POST", "/api/v1/activities", alice, "application/json", `{"call_id":"`+id+`","notes":"call back on `+n+`"}`)
		if code, body := c.do("GET", "/api/v1/lookup?number="+url.QueryEscape(n), alice, "", ""); code != http.StatusOK {
			t.Errorf("lookup %s: %d %s", n, code, body)
		}
	}
	waitUntil(t, 60*time.Second, "the refused webhooks to park", func() bool {
		return strings.Count(cli(t, "", "outbox", "list", "--parked", "--config", cfgFile), " parked ") == len(numbers)
	})
	out := logs()
	if !strings.Contains(out, "outbox item parked") {
		t.Fatalf("the log does not show the parked webhooks (is debug logging on?):\n%s", out)
	}
	for _, n := range numbers {
		// The subscriber part, written with any separators numbers are written with.
		d := regexp.MustCompile(`\D`).ReplaceAllString(n, "")
		d = d[len(d)-7 : len(d)-2]
		re := regexp.MustCompile(strings.Join(strings.Split(d, ""), `[ ()/\-]*`))
		if re.MatchString(out) {
			t.Errorf("digits of %s in the log:\n%s", n, out)
		}
	}
	if strings.Contains(out, "Jane Doe") || strings.Contains(out, "call back") {
		t.Errorf("a caller's name or notes in the log:\n%s", out)
	}
}
