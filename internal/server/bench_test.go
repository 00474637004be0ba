package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/config"
	"github.com/ringside/ringside/internal/store"
)

// popHarness connects n agents (extensions 1000+i) and measures, per event, the time from
// the POST leaving the client to the pop arriving on that agent's WebSocket.
type popHarness struct {
	waiters sync.Map // call id → chan time.Time
	conns   []*websocket.Conn
}

func (h *popHarness) connect(b *testing.B, n int, hello bool, dial func(i int) (string, http.Header)) {
	for i := range n {
		u, hdr := dial(i)
		c, _, err := websocket.Dial(b.Context(), u, &websocket.DialOptions{HTTPHeader: hdr})
		if err != nil {
			b.Fatalf("agent %d: %v", i, err)
		}
		c.SetReadLimit(1 << 20)
		if hello {
			// The greeting proves the hub has registered the connection.
			if _, _, err := c.Read(b.Context()); err != nil {
				b.Fatalf("agent %d: no greeting: %v", i, err)
			}
		}
		h.conns = append(h.conns, c)
		go func() {
			for {
				_, data, err := c.Read(context.Background())
				if err != nil {
					return
				}
				// Only the phone system's call id is needed: find it without decoding the
				// whole message (pbx_id in Ringside's messages, id in the relay's).
				key := []byte(`"pbx_id":"`)
				i := bytes.Index(data, key)
				if i < 0 {
					key = []byte(`"id":"`)
					if i = bytes.Index(data, key); i < 0 {
						continue
					}
				}
				rest := data[i+len(key):]
				j := bytes.IndexByte(rest, '"')
				if ch, ok := h.waiters.LoadAndDelete(string(rest[:j])); ok {
					ch.(chan time.Time) <- time.Now()
				}
			}
		}()
	}
}

func (h *popHarness) close() {
	for _, c := range h.conns {
		c.CloseNow()
	}
}

// run sends b.N ringing events from parallel senders and reports p50/p99, events/s and
// the CPU time per event.
func (h *popHarness) run(b *testing.B, n int, post func(callID string, ext int) error) {
	var mu sync.Mutex
	var lat []time.Duration
	var seq atomic.Int64
	b.ResetTimer()
	start := time.Now()
	cpu0, cpuOK := processCPU()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			i := seq.Add(1)
			id := fmt.Sprintf("b-%d", i)
			ch := make(chan time.Time, 1)
			h.waiters.Store(id, ch)
			t0 := time.Now()
			if err := post(id, int(i)%n); err != nil {
				b.Error(err)
				return
			}
			select {
			case t1 := <-ch:
				mine = append(mine, t1.Sub(t0))
			case <-time.After(10 * time.Second):
				b.Errorf("no pop for %s", id)
				return
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	cpu1, _ := processCPU()
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "events/s")
	if cpuOK {
		// The process's CPU time per event: the server's and the load's (same for both
		// benchmarks), steadier than events/s on a noisy machine.
		b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(len(lat)), "cpu-µs/event")
	}
}

func poster(url, token string) func(string, int) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	return func(id string, ext int) error {
		body := fmt.Sprintf(`{"event":"ringing","call_id":%q,"from":"+49 30 %07d","from_name":"Bench","extension":"%d"}`, id, ext, 1000+ext)
		req, _ := http.NewRequest("POST", url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("POST: %s", resp.Status)
		}
		return nil
	}
}

const benchAgents = 1000

// BenchmarkPipeline: event in at /api/v1/events → pop on the agent's WebSocket, through the
// whole pipeline (tracker, lookup in the built-in directory, hub, journal), with 1,000
// agents connected. Compare with BenchmarkRelay, run in the same invocation.
func BenchmarkPipeline(b *testing.B) {
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	cfg.LogLevel = "error"
	// Every simulated agent comes from 127.0.0.1: lift the per-address cap (512).
	cfg.Web.MaxConnectionsPerAddress = 4 * benchAgents
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	srv, err := New(ctx, cfg, nil, Options{Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	st := srv.Store()
	st.SetPasswordCost(bcrypt.MinCost)
	tokens := make([]string, benchAgents)
	for i := range benchAgents {
		name := fmt.Sprintf("agent%d", i)
		if _, err := st.AddUser(ctx, store.User{Name: name, Extensions: []string{fmt.Sprint(1000 + i)}}, "benchmark-password"); err != nil {
			b.Fatal(err)
		}
		if tokens[i], _, err = st.CreateToken(ctx, name, "agent", ""); err != nil {
			b.Fatal(err)
		}
	}
	pbx, _, _ := st.CreateToken(ctx, "", "pbx", "bench")
	if err := srv.refreshUsers(ctx); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	<-srv.Ready()
	var h popHarness
	h.connect(b, benchAgents, true, func(i int) (string, http.Header) {
		return "ws://" + srv.Addr() + "/api/v1/stream", http.Header{"Authorization": {"Bearer " + tokens[i]}}
	})
	defer h.close()
	h.run(b, benchAgents, poster(srv.URL()+"/api/v1/events", pbx))
	cancel()
	<-done
}

// BenchmarkRelay is the lower bound: a bare HTTP-to-WebSocket relay with no lookup, no
// tracker and no store, on the same harness.
func BenchmarkRelay(b *testing.B) { relay(b, nil) }

// BenchmarkRelayJournaled is the relay with the pipeline's journal: each event is also
// saved as a ringing call through store.SaveCalls, gathered for the same 5 ms per
// transaction by a writer of its own, off the pop's path (as the pipeline's journal
// writer does). Pipeline ÷ this is what the pipeline costs beyond keeping every call
// durable.
func BenchmarkRelayJournaled(b *testing.B) {
	st, err := store.Open(b.Context(), store.Config{}, b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var mu sync.Mutex
	var queued []store.JournalEntry
	notify := make(chan struct{}, 1)
	done := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-notify:
			case <-stop:
				return
			}
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			es := queued
			queued = nil
			mu.Unlock()
			if err := st.SaveCalls(context.Background(), es); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	defer func() { close(stop); <-done }()
	var seq atomic.Int64
	relay(b, func(callID, from, ext string) {
		at := time.Now()
		c := call.Call{ID: fmt.Sprintf("r-%012d", seq.Add(1)), PbxID: callID, Source: "bench", Direction: call.Inbound,
			State: call.Ringing, StartedAt: at, Remote: call.Remote{Raw: from},
			Legs: []call.Leg{{Extension: ext, User: "agent" + ext, State: call.Ringing, RingingAt: at}}}
		mu.Lock()
		queued = append(queued, store.JournalEntry{Call: c, Legs: store.LegsNone})
		mu.Unlock()
		select {
		case notify <- struct{}{}:
		default:
		}
	})
}

// relay runs the bare relay; journal, when set, is given every event after its pop was
// queued.
func relay(b *testing.B, journal func(callID, from, ext string)) {
	var mu sync.RWMutex
	conns := map[string]chan []byte{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		ch := make(chan []byte, 64)
		mu.Lock()
		conns[r.URL.Query().Get("ext")] = ch
		mu.Unlock()
		ctx := c.CloseRead(r.Context())
		for {
			select {
			case m := <-ch:
				if err := c.Write(ctx, websocket.MessageText, m); err != nil {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	})
	mux.HandleFunc("POST /events", func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			CallID    string `json:"call_id"`
			Extension string `json:"extension"`
			From      string `json:"from"`
		}
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		msg, _ := json.Marshal(map[string]any{"type": "call.ringing", "call": map[string]any{"id": ev.CallID, "remote": map[string]string{"raw": ev.From}}})
		mu.RLock()
		ch := conns[ev.Extension]
		mu.RUnlock()
		if ch != nil {
			ch <- msg
		}
		if journal != nil {
			journal(ev.CallID, ev.From, ev.Extension)
		}
		w.WriteHeader(http.StatusAccepted)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: mux}
	go hs.Serve(ln)
	defer hs.Close()
	var h popHarness
	h.connect(b, benchAgents, false, func(i int) (string, http.Header) {
		return fmt.Sprintf("ws://%s/stream?ext=%d", ln.Addr(), 1000+i), nil
	})
	defer h.close()
	// Every agent must be registered before the first event.
	for {
		mu.RLock()
		n := len(conns)
		mu.RUnlock()
		if n == benchAgents {
			break
		}
		time.Sleep(time.Millisecond)
	}
	h.run(b, benchAgents, poster("http://"+ln.Addr().String()+"/events", ""))
}
