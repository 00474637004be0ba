//go:build !windows

package sipwatch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ringside/ringside/internal/testenv"
)

// BenchmarkPopLatency measures, over 200 inbound calls driven by sipp through a real
// Kamailio, the time from the NOTIFY with the early dialog leaving Kamailio (logged by
// Kamailio itself, event_route[tm:local-request]) to the call.ringing pop arriving on the
// agent's WebSocket of a real `ringside serve` (built from cmd/ringside, configured with a
// sipwatch source, used only through its CLI and HTTP API). Run it alone:
//
//	go test -run '^$' -bench PopLatency -benchtime 1x ./internal/telephony/sipwatch
func BenchmarkPopLatency(b *testing.B) {
	const calls = 200
	root := testenv.RepoRoot(b)
	k := startKamailio(b, kamailioOpts{TraceNotify: true, Lifetime: 5})
	dir := b.TempDir()
	bin := filepath.Join(dir, "ringside")
	build := exec.Command("go", "build", "-o", bin, "./cmd/ringside")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build ringside: %v\n%s", err, out)
	}
	httpPort := testenv.FreePort(b)
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
data_dir: %s
log_level: warn
telephony:
  - kind: sipwatch
    server: 127.0.0.1:%d
    domain: 127.0.0.1
    listen: 127.0.0.1:0
    extensions: ["200"]
`, httpPort, filepath.Join(dir, "data"), k.Port)
	cfgPath := filepath.Join(dir, "ringside.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	cli := func(stdin string, args ...string) string {
		// ringside CMD SUB --config FILE ARGS...
		full := append(append(append([]string{}, args[:2]...), "--config", cfgPath), args[2:]...)
		cmd := exec.Command(bin, full...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("ringside %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	cli("pw-for-alice-123\n", "users", "add", "alice", "--extension", "200", "--password-stdin")
	out := strings.Split(strings.TrimSpace(cli("", "tokens", "create", "--user", "alice")), "\n")
	token := strings.TrimSpace(out[len(out)-1])

	serveLog, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		b.Fatal(err)
	}
	serve := exec.Command(bin, "serve", "--config", cfgPath)
	serve.Stdout, serve.Stderr = serveLog, serveLog
	serve.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := serve.Start(); err != nil {
		b.Fatal(err)
	}
	served := make(chan struct{})
	go func() { _ = serve.Wait(); close(served) }()
	b.Cleanup(func() {
		_ = serve.Process.Signal(syscall.SIGTERM)
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			_ = serve.Process.Kill()
			<-served
		}
		serveLog.Close()
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	waitHTTP(b, base+"/readyz", served, filepath.Join(dir, "serve.log"))

	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/api/v1/stream",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		b.Fatalf("stream: %v", err)
	}
	ws.SetReadLimit(1 << 20)
	var mu sync.Mutex
	pops := map[string]time.Time{}
	types := map[string]int{}
	got := make(chan struct{}, calls)
	go func() {
		for {
			_, data, err := ws.Read(ctx)
			at := time.Now()
			if err != nil {
				return
			}
			var m struct {
				Type string `json:"type"`
				Call struct {
					ID string `json:"id"`
				} `json:"call"`
			}
			if json.Unmarshal(data, &m) != nil {
				continue
			}
			mu.Lock()
			types[m.Type]++
			mu.Unlock()
			if m.Type != "call.ringing" {
				continue
			}
			mu.Lock()
			if _, ok := pops[m.Call.ID]; !ok {
				pops[m.Call.ID] = at
				got <- struct{}{}
			}
			mu.Unlock()
		}
	}()

	b.ResetTimer()
	phone := runSipp(b, "uas_answer.xml", "-p", strconv.Itoa(k.Phones["200"]), "-d", "100", "-m", strconv.Itoa(calls), "-timeout", "120")
	caller := runSipp(b, "uac_call.xml", "-p", strconv.Itoa(testenv.FreeUDPPort(b)), "-s", "200", "-d", "100",
		"-m", strconv.Itoa(calls), "-r", "5", "-l", "5", "-timeout", "120",
		"-key", "from_user", "+49309876543", "-key", "from_name", "ACME", fmt.Sprintf("127.0.0.1:%d", k.Port))
	caller.waitFor(b, 2*time.Minute)
	phone.waitFor(b, 30*time.Second)
	deadline := time.After(30 * time.Second)
	for n := 0; n < calls; n++ {
		select {
		case <-got:
		case <-deadline:
			mu.Lock()
			log, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
			b.Fatalf("%d of %d pops; messages by type %v; server log:\n%s", n, calls, types, log[max(0, len(log)-4000):])
		}
	}
	b.StopTimer()

	sent := notifyTimes(b, k.logPath)
	var lat []time.Duration
	mu.Lock()
	for id, at := range pops {
		if t0, ok := sent[id]; ok {
			lat = append(lat, at.Sub(t0))
		}
	}
	mu.Unlock()
	if len(lat) < calls {
		var some []string
		for id := range pops {
			some = append(some, id)
		}
		b.Fatalf("matched %d of %d pops to a NOTIFY (%d calls logged); pop ids like %q", len(lat), calls, len(sent), some[:min(3, len(some))])
	}
	slices.Sort(lat)
	p := func(q int) float64 { return float64(lat[min(len(lat)-1, len(lat)*q/100)].Microseconds()) / 1000 }
	b.ReportMetric(p(50), "p50-ms")
	b.ReportMetric(p(99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(len(lat)), "calls")
}

var (
	notifyLine = regexp.MustCompile(`NOTIFY-EARLY (\d+)\.(\d{6})`)
	kamPrefix  = regexp.MustCompile(`^\s*\d+\(\d+\) `)
	earlyCall  = regexp.MustCompile(`call-id="([^"]+)"[^>]*>\s*<state>early</state>`)
)

// notifyTimes reads Kamailio's log: when the first NOTIFY showing each call's dialog
// early left. A logged NOTIFY runs over several lines, up to the next log line.
func notifyTimes(b *testing.B, logPath string) map[string]time.Time {
	data, err := os.ReadFile(logPath)
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]time.Time{}
	var at time.Time
	var block strings.Builder
	flush := func() {
		if !at.IsZero() {
			for _, m := range earlyCall.FindAllStringSubmatch(block.String(), -1) {
				if _, ok := out[m[1]]; !ok {
					out[m[1]] = at
				}
			}
		}
		at = time.Time{}
		block.Reset()
	}
	for _, line := range strings.Split(string(data), "\n") {
		if kamPrefix.MatchString(line) {
			flush()
			if m := notifyLine.FindStringSubmatch(line); m != nil {
				sec, _ := strconv.ParseInt(m[1], 10, 64)
				usec, _ := strconv.ParseInt(m[2], 10, 64)
				at = time.Unix(sec, usec*1000)
			}
		}
		if !at.IsZero() {
			block.WriteString(line)
			block.WriteByte('\n')
		}
	}
	flush()
	return out
}

// waitHTTP waits until url answers 200, or fails with the server's log.
func waitHTTP(b *testing.B, url string, exited <-chan struct{}, logPath string) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			b.Fatalf("ringside serve exited:\n%s", log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			b.Fatalf("%s not ready: %v\n%s", url, err, log)
		}
	}
}
