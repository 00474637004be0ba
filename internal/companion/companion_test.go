package companion

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.yaml.in/yaml/v3"

	"github.com/ringside/ringside/internal/call"
)

//go:embed sample.yaml
var sampleYAML string

func TestREADMEContainsSample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), sampleYAML) {
		t.Error("README.md does not contain sample.yaml verbatim")
	}
	var cfg Config
	dec := yaml.NewDecoder(strings.NewReader(sampleYAML))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Getenv = func(string) string { return "tok" }
	if _, err := New(cfg, nil, Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestConfig(t *testing.T) {
	env := func(string) string { return "" }
	tokenFile := t.TempDir() + "/token"
	os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600)
	tests := []struct {
		name string
		cfg  Config
		want string // "" = valid
		ws   string
	}{
		{"https", Config{Server: "https://r.example/", Token: "t"}, "", "wss://r.example/api/v1/companion"},
		{"loopback http", Config{Server: "http://127.0.0.1:8080", Token: "t"}, "", "ws://127.0.0.1:8080/api/v1/companion"},
		{"token file", Config{Server: "http://localhost:1", TokenFile: tokenFile}, "", ""},
		{"no server", Config{Token: "t"}, "server", ""},
		{"ftp", Config{Server: "ftp://x", Token: "t"}, "server", ""},
		{"remote http", Config{Server: "http://10.0.0.5", Token: "t"}, "server", ""},
		{"remote http allowed", Config{Server: "http://10.0.0.5", Token: "t", AllowHTTP: "on"}, "", ""},
		{"no token", Config{Server: "https://r.example"}, "token", ""},
		{"missing token file", Config{Server: "https://r.example", TokenFile: "/nonexistent"}, "token_file", ""},
		{"phone", Config{Server: "https://r.example", Token: "t", Phone: "skype"}, "phone", ""},
		{"baresip address", Config{Server: "https://r.example", Token: "t", Phone: "baresip:localhost"}, "baresip: address", ""},
		{"notify", Config{Server: "https://r.example", Token: "t", Notify: "yes"}, "notify", ""},
		{"open_record", Config{Server: "https://r.example", Token: "t", OpenRecord: "always"}, "open_record", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Getenv = env
			c, err := New(tt.cfg, nil, Options{})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tt.ws != "" && c.s.wsURL != tt.ws {
					t.Errorf("ws URL %s, want %s", c.s.wsURL, tt.ws)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want+":") {
				t.Errorf("err = %v, want one about %s", err, tt.want)
			}
		})
	}
}

func TestSafeURLAndText(t *testing.T) {
	for u, ok := range map[string]bool{
		"https://org.crm4.dynamics.com/main.aspx?etn=contact&id=1": true,
		"http://127.0.0.1:8080/crm/contact/demo":                   true,
		"file:///etc/passwd":                                       false,
		"javascript:alert(1)":                                      false,
		"https://x.example/a b":                                    false,
		"https://x.example/\"&calc":                                false,
		"/crm/contact/1":                                           false,
		"https://user:pw@x.example/":                               false,
	} {
		if _, err := SafeURL(u); (err == nil) != ok {
			t.Errorf("SafeURL(%q) err = %v", u, err)
		}
	}
	if got := Text("<b>Evil</b>\r\n\x00 & Co \xff", 100); got != "‹b›Evil‹/b› + Co \uFFFD" {
		t.Errorf("Text = %q", got)
	}
	if got := Text(strings.Repeat("ä", 500), 10); got != strings.Repeat("ä", 9)+"…" {
		t.Errorf("cut = %q", got)
	}
}

func TestSystemDesktop(t *testing.T) {
	var got []string
	run := func(_ context.Context, env []string, name string, args ...string) error {
		got = append(got, strings.Join(append(append(env, name), args...), " "))
		return nil
	}
	for _, goos := range []string{"linux", "darwin", "windows"} {
		d := SystemDesktop{GOOS: goos, Run: run}
		d.Notify(t.Context(), "Call from <ACME>", "Jane\nDoe")
		d.Open(t.Context(), "https://crm.example/contact/1")
		if err := d.Open(t.Context(), "file:///c:/windows/system32/calc.exe"); err == nil {
			t.Errorf("%s: opened a file URL", goos)
		}
	}
	want := []string{
		"notify-send --app-name=Ringside -- Call from ‹ACME› Jane Doe",
		"xdg-open https://crm.example/contact/1",
		"osascript -e on run argv -e display notification (item 2 of argv) with title (item 1 of argv) -e end run Call from ‹ACME› Jane Doe",
		"open https://crm.example/contact/1",
		"RINGSIDE_TITLE=Call from ‹ACME› RINGSIDE_BODY=Jane Doe powershell.exe -NoProfile -NonInteractive -WindowStyle Hidden -Command " + windowsToast,
		"rundll32.exe url.dll,FileProtocolHandler https://crm.example/contact/1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// fakePhone is a scripted local phone.
type fakePhone struct {
	emit  chan func(call.Signal)
	mu    sync.Mutex
	dials []string
}

func (p *fakePhone) Run(ctx context.Context, emit func(call.Signal)) error {
	p.emit <- emit
	<-ctx.Done()
	return nil
}

func (p *fakePhone) Dial(_ context.Context, ext, number string) error {
	p.mu.Lock()
	p.dials = append(p.dials, ext+">"+number)
	p.mu.Unlock()
	if number == "666" {
		return errors.New("baresip: dial refused: no such account")
	}
	return nil
}
func (p *fakePhone) State() (string, string)              { return "up", "" }
func (p *fakePhone) Answer(context.Context, string) error { return nil }
func (p *fakePhone) Hangup(context.Context, string) error { return nil }

type recDesktop struct {
	mu    sync.Mutex
	notes []string
	open  []string
}

func (d *recDesktop) Notify(_ context.Context, title, body string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.notes = append(d.notes, title+"|"+body)
	return nil
}

func (d *recDesktop) Open(_ context.Context, u string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.open = append(d.open, u)
	return nil
}

// fakeServer accepts companion connections and hands each to the test.
func fakeServer(t *testing.T, token string) (string, chan *websocket.Conn) {
	conns := make(chan *websocket.Conn)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/companion" || r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		conns <- ws // the hijacked connection outlives the handler
	}))
	t.Cleanup(srv.Close)
	return srv.URL, conns
}

func send(t *testing.T, ws *websocket.Conn, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if err := ws.Write(t.Context(), websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
}

func recv(t *testing.T, ws *websocket.Conn) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.Unmarshal(b, &m)
		if m["type"] != TypeStatus {
			return m
		}
	}
}

// TestCompanionProtocol drives the companion against a fake server: it waits for the
// greeting, maps extensions, survives a dropped connection, keeps signals that could not
// be sent, marks stale ones as resync, executes only its own session's requests, reports
// failures, and notifies on pops but not on resync.
func TestCompanionProtocol(t *testing.T) {
	base, conns := fakeServer(t, "tok")
	phone := &fakePhone{emit: make(chan func(call.Signal), 1)}
	desk := &recDesktop{}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var clock sync.Mutex
	c, err := New(Config{Server: base, Token: "tok", OpenRecord: "ringing"}, nil, Options{Phone: phone, Desktop: desk,
		Now: func() time.Time { clock.Lock(); defer clock.Unlock(); return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	emit := <-phone.emit

	// A call rings before the server connection is up: it waits.
	emit(call.Signal{CallID: "a", Kind: call.SigRinging, Extension: "200", Direction: call.Inbound,
		Remote: call.Party{Number: "+4930111"}, Time: now})
	ws := <-conns
	send(t, ws, Hello{Type: TypeHello, Session: "s1", User: "alice", Extensions: []string{"201", "202"}})
	m := recv(t, ws)
	if m["type"] != TypeSignal || m["call_id"] != "a" || m["extension"] != "201" || m["kind"] != "ringing" || m["resync"] == true {
		t.Errorf("first signal %v", m)
	}
	// The server goes away; a signal emitted meanwhile is sent after the reconnect.
	ws.Close(websocket.StatusGoingAway, "restart")
	clock.Lock()
	now = now.Add(time.Minute)
	clock.Unlock()
	emit(call.Signal{CallID: "a", Kind: call.SigEnded, Cause: "cancelled", Time: now.Add(-time.Minute)})
	ws = <-conns
	// The stream's greeting replays the calls in progress: no second notification.
	if err := ws.Write(t.Context(), websocket.MessageText, []byte(`{"type":"call.ringing","call":{"id":"alice:a","remote":{"raw":"+4930111"}}}`)); err != nil {
		t.Fatal(err)
	}
	send(t, ws, Hello{Type: TypeHello, Session: "s2", User: "alice", Extensions: []string{"201"}})
	m = recv(t, ws)
	if m["call_id"] != "a" || m["kind"] != "ended" || m["extension"] != nil || m["resync"] != true {
		t.Errorf("signal after reconnect %v (stale: want resync)", m)
	}

	send(t, ws, Request{Type: TypeDial, ID: "r0", Session: "s1", Number: "999"}) // the old session: ignored
	send(t, ws, Request{Type: TypeDial, ID: "r1", Session: "s2", Number: "+4930222", Extension: "201"})
	if m = recv(t, ws); m["type"] != TypeResult || m["id"] != "r1" || m["error"] != "" {
		t.Errorf("dial result %v", m)
	}
	send(t, ws, Request{Type: TypeDial, ID: "r2", Session: "s2", Number: "666"})
	if m = recv(t, ws); m["id"] != "r2" || !strings.Contains(m["error"].(string), "no such account") {
		t.Errorf("failed dial result %v", m)
	}
	phone.mu.Lock()
	if strings.Join(phone.dials, ",") != "201>+4930222,>666" {
		t.Errorf("dials %v", phone.dials)
	}
	phone.mu.Unlock()

	pop := `{"type":"call.ringing","call":{"id":"alice:b","direction":"inbound","remote":{"raw":"+49 30 9876543","name":"\u003cscript\u003e"}},` +
		`"matches":[{"entity":"contact","name":"Jane Doe","company":"ACME","url":"/crm/contact/1"}]}`
	for _, msg := range []string{
		`{"type":"call.ringing","resync":true,"call":{"id":"alice:old","remote":{"raw":"1"}},"matches":[{"url":"https://x.example/1"}]}`,
		pop, pop, // the second one does not open the record again
		`{"type":"call.answered","call":{"id":"alice:b"},"actions":[{"do":"notify","title":"Answered","text":"by you"},{"do":"open_record","url":"https://crm.example/2"}]}`,
		`{"type":"call.ended","call":{"id":"alice:c"},"actions":[{"do":"open_record","target":"companion","url":"https://crm.example/3"}]}`,
	} {
		if err := ws.Write(t.Context(), websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	// A round trip proves the pops above were handled before we stop.
	send(t, ws, Request{Type: TypeAnswer, ID: "r3", Session: "s2"})
	if m = recv(t, ws); m["id"] != "r3" {
		t.Errorf("answer result %v", m)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	// The desktop runs its commands concurrently: compare in sorted order.
	wantNotes := "Answered|by you,Call from <script>|Jane Doe · ACME · +49 30 9876543,Call from <script>|Jane Doe · ACME · +49 30 9876543"
	wantOpen := base + "/crm/contact/1," + "https://crm.example/3"
	desk.mu.Lock()
	defer desk.mu.Unlock()
	slices.Sort(desk.notes)
	slices.Sort(desk.open)
	if got := strings.Join(desk.notes, ","); got != wantNotes {
		t.Errorf("notes\n got %s\nwant %s", got, wantNotes)
	}
	if got := strings.Join(desk.open, ","); got != wantOpen {
		t.Errorf("opened\n got %s\nwant %s", got, wantOpen)
	}
}

func TestUnauthorized(t *testing.T) {
	base, _ := fakeServer(t, "right")
	phone := &fakePhone{emit: make(chan func(call.Signal), 1)}
	c, err := New(Config{Server: base, Token: "wrong"}, nil, Options{Phone: phone, Desktop: &recDesktop{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(t.Context()); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("Run = %v, want ErrUnauthorized", err)
	}
}
