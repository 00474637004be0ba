// Package loadtest is Ringside's load harness: it connects simulated agents over
// WebSockets, drives ring-answer-hangup calls at a given rate through the webhook source or
// a fake Asterisk manager replaying real captures, and measures pop latency end to end
// (from the moment the harness sends the event to the moment the agent's client reads the
// pop), the server's own histogram, memory and goroutines.
package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/ringside/ringside/internal/config"
	"github.com/ringside/ringside/internal/server"
	"github.com/ringside/ringside/internal/store"
	"github.com/ringside/ringside/internal/telephony/ami"
)

// Config is what a run does. Zero values take the defaults noted.
type Config struct {
	// Agents is how many simulated agents connect (one WebSocket each). Default 100.
	Agents int
	// Rate is calls per second (0: agents only, to measure idle memory).
	Rate float64
	// Duration is how long calls are placed (after the agents are connected). Default 10s.
	Duration time.Duration
	// Source is webhook (default) or ami.
	Source string
	// Servers are the base URLs of running nodes; agents are spread over them and calls
	// go to the first. Empty: the harness starts a server in-process on a temporary data
	// dir.
	Servers []string
	// Server is the config of the servers (remote: to provision agents and tokens in their
	// store; in-process: the base config). Nil: the defaults.
	Server *config.Config
	// DirectorySize is how many generated contacts fill the built-in directory of an
	// in-process server. Default 10,000.
	DirectorySize int
	// Fixtures is a folder of AMI captures; empty: the real captures embedded in the
	// binary (ami.Captures).
	Fixtures string
	// Scenario is the capture replayed with Source ami. Default inbound_answered.
	Scenario string
	// AMIListen is where the fake AMI listens (remote servers must be configured with
	// it). Default 127.0.0.1:0.
	AMIListen string
	// Ring and Talk shape a call: ringing → answered after Ring → ended after Talk.
	// Defaults 1s and 2s.
	Ring, Talk time.Duration
	// UnknownEvery makes every n-th caller unknown to the directory. Default 10.
	UnknownEvery int
	// Progress receives a progress line (\r-updated) every second; nil: none.
	Progress io.Writer
	// Log receives the in-process server's log; nil: discarded.
	Log *slog.Logger
}

// Result is what a run measured.
type Result struct {
	Agents     int     `json:"agents"`
	Rate       float64 `json:"rate"`
	Source     string  `json:"source"`
	Nodes      int     `json:"nodes"`
	Duration   string  `json:"duration"`
	Calls      int64   `json:"calls"`
	Pops       int64   `json:"pops"`
	Duplicates int64   `json:"duplicate_pops"`
	Missing    int64   `json:"missing_pops"`
	Messages   int64   `json:"messages"`
	Errors     int64   `json:"errors"`
	Dropped    int64   `json:"agents_dropped"`

	P50          time.Duration `json:"p50_ns"`
	P99          time.Duration `json:"p99_ns"`
	Max          time.Duration `json:"max_ns"`
	EventsPerSec float64       `json:"events_per_s"`

	ServerP50 time.Duration `json:"server_p50_ns"`
	ServerP99 time.Duration `json:"server_p99_ns"`

	RSS            int64   `json:"rss_bytes"`
	RSSNoAgents    int64   `json:"rss_no_agents_bytes"`
	RSSIdleAgents  int64   `json:"rss_idle_agents_bytes"`
	RSSStart       int64   `json:"rss_start_bytes"`
	RSSMax         int64   `json:"rss_max_bytes"`
	BytesPerAgent  int64   `json:"idle_bytes_per_agent"`
	GoroutinesIdle float64 `json:"goroutines_idle"`
	GoroutinesEnd  float64 `json:"goroutines_end"`
	InProcess      bool    `json:"in_process"`
}

// String is the one summary line: pops=… p50=… p99=… max=… events/s=… rss=….
func (r Result) String() string {
	return fmt.Sprintf("pops=%d p50=%s p99=%s max=%s events/s=%.0f rss=%s", r.Pops, r.P50, r.P99, r.Max, r.EventsPerSec, mib(r.RSS))
}

// Details is a second look for people: what the summary line leaves out.
func (r Result) Details() string {
	return fmt.Sprintf("calls=%d duplicates=%d missing=%d errors=%d dropped=%d server_p50=%s server_p99=%s rss_start=%s rss_max=%s no_agents=%s idle_agents=%s per_agent=%dB goroutines_idle=%.0f goroutines_end=%.0f",
		r.Calls, r.Duplicates, r.Missing, r.Errors, r.Dropped, r.ServerP50, r.ServerP99, mib(r.RSSStart), mib(r.RSSMax), mib(r.RSSNoAgents), mib(r.RSSIdleAgents), r.BytesPerAgent, r.GoroutinesIdle, r.GoroutinesEnd)
}

func mib(b int64) string { return fmt.Sprintf("%.0fMiB", float64(b)/(1<<20)) }

type run struct {
	cfg      Config
	pbxToken string
	agents   []*agent
	ami      *FakeAMI
	scenario *Scenario
	client   *http.Client

	sent  sync.Map // call id → time.Time the ringing left the harness
	mu    sync.Mutex
	lats  []time.Duration
	pops  map[string]int
	calls atomic.Int64
	msgs  atomic.Int64
	errs  atomic.Int64
	gone  atomic.Int64
	last  atomic.Value // string: last error
}

type agent struct {
	user, ext, token, url string
}

// Run does one load run and returns what it measured.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Agents <= 0 {
		cfg.Agents = 100
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.Source == "" {
		cfg.Source = "webhook"
	}
	if cfg.Source != "webhook" && cfg.Source != "ami" {
		return Result{}, fmt.Errorf("loadtest: source %q is not webhook or ami", cfg.Source)
	}
	if cfg.DirectorySize <= 0 {
		cfg.DirectorySize = 10000
	}
	if cfg.Scenario == "" {
		cfg.Scenario = "inbound_answered"
	}
	if cfg.Ring <= 0 {
		cfg.Ring = time.Second
	}
	if cfg.Talk <= 0 {
		cfg.Talk = 2 * time.Second
	}
	if cfg.UnknownEvery <= 0 {
		cfg.UnknownEvery = 10
	}
	if cfg.AMIListen == "" {
		cfg.AMIListen = "127.0.0.1:0"
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	raiseFileLimit()
	r := &run{cfg: cfg, pops: map[string]int{}, client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute, DisableCompression: true}}}
	defer r.client.CloseIdleConnections()
	res := Result{Agents: cfg.Agents, Rate: cfg.Rate, Source: cfg.Source, Duration: cfg.Duration.String()}

	if cfg.Source == "ami" {
		fsys := ami.Captures()
		if cfg.Fixtures != "" {
			fsys = os.DirFS(cfg.Fixtures)
		}
		sc, err := LoadScenarioFS(fsys, cfg.Scenario)
		if err != nil {
			return res, err
		}
		r.scenario = sc
		if r.ami, err = NewFakeAMI(cfg.AMIListen, "bench"); err != nil {
			return res, err
		}
		defer r.ami.Close()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	servers := cfg.Servers
	if len(servers) == 0 {
		url, stop, err := r.startServer(ctx)
		if err != nil {
			return res, err
		}
		defer stop()
		servers = []string{url}
		res.InProcess = true
	} else if err := r.provision(ctx, cfg.Server, servers); err != nil {
		return res, err
	}
	res.Nodes = len(servers)
	if r.ami != nil {
		wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
		err := r.ami.WaitLogin(wctx)
		wcancel()
		if err != nil {
			return res, errors.New("loadtest: no server logged in to the fake AMI within 30s")
		}
	}

	// Memory before and after the agents connect, after a GC (in-process) so that the
	// difference is what the connections hold.
	res.RSSNoAgents = r.rss(ctx, servers, true)
	var wg sync.WaitGroup
	defer wg.Wait()
	if err := r.connectAgents(ctx, &wg); err != nil {
		return res, err
	}
	res.RSSIdleAgents = r.rss(ctx, servers, true)
	if d := res.RSSIdleAgents - res.RSSNoAgents; d > 0 {
		res.BytesPerAgent = d / int64(cfg.Agents)
	}
	res.GoroutinesIdle = r.metric(ctx, servers, "go_goroutines")
	res.RSSStart = res.RSSIdleAgents

	// Calls.
	start := time.Now()
	dctx, dcancel := context.WithTimeout(ctx, cfg.Duration)
	defer dcancel()
	var calls sync.WaitGroup
	stopProgress := r.progress(ctx, servers, start, &res)
	if cfg.Rate > 0 {
		interval := time.Duration(float64(time.Second) / cfg.Rate)
		next := start
	loop:
		for n := 0; ; n++ {
			next = next.Add(interval)
			t := time.NewTimer(time.Until(next))
			select {
			case <-dctx.Done():
				t.Stop()
				break loop
			case <-t.C:
			}
			calls.Go(func() { r.call(ctx, n, servers[0]) })
		}
	} else {
		<-dctx.Done()
	}
	elapsed := time.Since(start)
	calls.Wait()
	// Let the last pops arrive.
	settle := time.NewTimer(500 * time.Millisecond)
	select {
	case <-settle.C:
	case <-ctx.Done():
	}
	stopProgress()
	res.GoroutinesEnd = r.metric(ctx, servers, "go_goroutines")
	res.RSS = r.rss(ctx, servers, false)
	res.RSSMax = max(res.RSSMax, res.RSS)
	r.fill(&res, elapsed)
	res.ServerP50, res.ServerP99 = r.serverQuantiles(ctx, servers)
	cancel()
	if res.Missing > 0 || res.Errors > 0 {
		if v, ok := r.last.Load().(string); ok {
			cfg.Log.Warn("load run had errors", "last", v)
		}
	}
	return res, nil
}

func (r *run) fail(err error) {
	r.errs.Add(1)
	r.last.Store(err.Error())
}

func (r *run) fill(res *Result, elapsed time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res.Calls = r.calls.Load()
	res.Messages = r.msgs.Load()
	res.Errors = r.errs.Load()
	res.Dropped = r.gone.Load()
	for _, n := range r.pops {
		res.Pops++
		if n > 1 {
			res.Duplicates += int64(n - 1)
		}
	}
	res.Missing = max(0, res.Calls-res.Pops)
	lats := slices.Clone(r.lats)
	slices.Sort(lats)
	res.P50, res.P99, res.Max = quantile(lats, .5), quantile(lats, .99), quantile(lats, 1)
	if elapsed > 0 {
		res.EventsPerSec = float64(res.Messages) / elapsed.Seconds()
	}
}

func quantile(s []time.Duration, q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// startServer builds an in-process server on a temporary data dir with the directory
// filled and the agents provisioned.
func (r *run) startServer(ctx context.Context) (string, func(), error) {
	dir, err := os.MkdirTemp("", "ringside-bench-")
	if err != nil {
		return "", nil, fmt.Errorf("loadtest: %w", err)
	}
	y := fmt.Sprintf("data_dir: %s\nlisten: 127.0.0.1:0\nlog_level: warn\ntelephony:\n  - {kind: webhook}\n", dir)
	if r.ami != nil {
		y += fmt.Sprintf("  - {kind: ami, address: %q, username: bench, secret: bench, auth: plain}\n", r.ami.Addr())
	}
	cfg, err := config.Parse(filepath.Join(dir, "bench.yaml"), []byte(y))
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("loadtest: %w", err)
	}
	if base := r.cfg.Server; base != nil {
		cfg.Phone, cfg.Lookup, cfg.Calls, cfg.Rules = base.Phone, base.Lookup, base.Calls, base.Rules
	}
	st, err := store.Open(ctx, cfg.Store, cfg.DataDir, nil)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	const chunk = 50000
	for i := 0; i < r.cfg.DirectorySize; i += chunk {
		recs := ContactsRange(i, min(r.cfg.DirectorySize, i+chunk))
		if _, err := st.PutRecords(ctx, recs); err != nil {
			st.Close()
			os.RemoveAll(dir)
			return "", nil, fmt.Errorf("loadtest: filling the directory: %w", err)
		}
		r.progressf("filling the directory: %d/%d contacts", min(r.cfg.DirectorySize, i+chunk), r.cfg.DirectorySize)
	}
	err = r.provisionStore(ctx, st, nil)
	st.Close()
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	r.progressf("loading the server")
	srv, err := server.New(ctx, cfg, r.cfg.Log, server.Options{Listen: "127.0.0.1:0"})
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Run(sctx); err != nil {
			r.cfg.Log.Error("in-process server stopped", "err", err)
		}
	}()
	select {
	case <-srv.Ready():
	case <-done:
		cancel()
		os.RemoveAll(dir)
		return "", nil, errors.New("loadtest: the in-process server stopped at start")
	}
	url := srv.URL()
	for _, a := range r.agents {
		a.url = url
	}
	return url, func() { cancel(); <-done; os.RemoveAll(dir) }, nil
}

// provision creates the agents and tokens in the store of remote servers.
func (r *run) provision(ctx context.Context, cfg *config.Config, servers []string) error {
	if cfg == nil {
		return errors.New("loadtest: --server needs the servers' config (--config) to provision agents in their store")
	}
	st, err := store.Open(ctx, cfg.Store, cfg.DataDir, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := r.provisionStore(ctx, st, servers); err != nil {
		return err
	}
	// The servers reread users every 2s.
	t := time.NewTimer(3 * time.Second)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *run) provisionStore(ctx context.Context, st *store.Store, servers []string) error {
	st.SetPasswordCost(4) // the agents log in with tokens; their passwords are never used
	r.agents = make([]*agent, r.cfg.Agents)
	for i := range r.agents {
		a := &agent{user: fmt.Sprintf("bench%05d", i), ext: strconv.Itoa(10000 + i)}
		if len(servers) > 0 {
			a.url = servers[i%len(servers)]
		}
		if _, err := st.AddUser(ctx, store.User{Name: a.user, Extensions: []string{a.ext}}, "bench-"+a.user); err != nil && !errors.Is(err, store.ErrExists) {
			return fmt.Errorf("loadtest: adding agent %s: %w", a.user, err)
		}
		tok, _, err := st.CreateToken(ctx, a.user, "agent", "bench")
		if err != nil {
			return fmt.Errorf("loadtest: token for %s: %w", a.user, err)
		}
		a.token = tok
		r.agents[i] = a
		if i%1000 == 999 {
			r.progressf("adding agents: %d/%d", i+1, r.cfg.Agents)
		}
	}
	tok, _, err := st.CreateToken(ctx, "", "pbx", "bench")
	if err != nil {
		return fmt.Errorf("loadtest: pbx token: %w", err)
	}
	r.pbxToken = tok
	return nil
}

func (r *run) progressf(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "\r\033[K"+format, args...)
	}
}

// connectAgents opens every agent's stream (32 at a time) and starts its reader.
func (r *run) connectAgents(ctx context.Context, wg *sync.WaitGroup) error {
	sem := make(chan struct{}, 32)
	var failed atomic.Int64
	var firstErr atomic.Value
	var connected atomic.Int64
	var cw sync.WaitGroup
	for _, a := range r.agents {
		sem <- struct{}{}
		cw.Go(func() {
			defer func() { <-sem }()
			ws, err := r.dial(ctx, a)
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			if n := connected.Add(1); n%500 == 0 {
				r.progressf("connecting agents: %d/%d", n, len(r.agents))
			}
			wg.Go(func() { r.read(ctx, ws) })
		})
	}
	cw.Wait()
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("loadtest: %d of %d agents could not connect: %v", n, len(r.agents), firstErr.Load())
	}
	return nil
}

func (r *run) dial(ctx context.Context, a *agent) (*websocket.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(a.url, "http") + "/api/v1/stream"
	ws, _, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + a.token}}, HTTPClient: &http.Client{}})
	if err != nil {
		return nil, fmt.Errorf("loadtest: agent %s: %w", a.user, err)
	}
	ws.SetReadLimit(1 << 20)
	// The greeting.
	if _, _, err := ws.Read(dctx); err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("loadtest: agent %s greeting: %w", a.user, err)
	}
	return ws, nil
}

type streamMsg struct {
	Type   string `json:"type"`
	Resync bool   `json:"resync"`
	Call   struct {
		ID string `json:"id"`
	} `json:"call"`
}

func (r *run) read(ctx context.Context, ws *websocket.Conn) {
	defer ws.CloseNow()
	for {
		_, b, err := ws.Read(ctx)
		now := time.Now()
		if err != nil {
			if ctx.Err() == nil {
				r.gone.Add(1)
				r.fail(fmt.Errorf("agent stream closed: %w", err))
			}
			return
		}
		r.msgs.Add(1)
		if !bytes.HasPrefix(b, []byte(`{"type":"call.ringing"`)) {
			continue
		}
		var m streamMsg
		if json.Unmarshal(b, &m) != nil || m.Resync {
			continue
		}
		r.mu.Lock()
		r.pops[m.Call.ID]++
		first := r.pops[m.Call.ID] == 1
		r.mu.Unlock()
		if v, ok := r.sent.Load(m.Call.ID); ok && first {
			d := now.Sub(v.(time.Time))
			r.mu.Lock()
			r.lats = append(r.lats, d)
			r.mu.Unlock()
		}
	}
}

// call places call n: ringing for agent n mod agents, answered after Ring, ended after
// Talk.
func (r *run) call(ctx context.Context, n int, url string) {
	a := r.agents[n%len(r.agents)]
	caller := CallerOf((n * 7919) % r.cfg.DirectorySize)
	if n%r.cfg.UnknownEvery == r.cfg.UnknownEvery-1 {
		caller = UnknownCaller(n)
	}
	r.calls.Add(1)
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if r.ami != nil {
		ring, rest := r.scenario.Call(n, a.ext, caller, time.Now())
		id := fmt.Sprintf("%d.0", 2000000000+n) // the Linkedid of the renumbered capture
		r.sent.Store(id, time.Now())
		if r.ami.Play(ring) == 0 {
			r.fail(errors.New("no AMI client to play to"))
		}
		if wait(r.cfg.Ring) {
			r.ami.Play(rest)
		}
		return
	}
	id := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano()/1e9, n)
	post := func(ev string) bool {
		body := fmt.Sprintf(`{"event":%q,"call_id":%q,"direction":"inbound","from":%q,"from_name":"Load Test","to":"+4930111","extension":%q}`, ev, id, caller, a.ext)
		req, err := http.NewRequestWithContext(ctx, "POST", url+"/api/v1/events", strings.NewReader(body))
		if err != nil {
			r.fail(err)
			return false
		}
		req.Header.Set("Authorization", "Bearer "+r.pbxToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := r.client.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				r.fail(err)
			}
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			r.fail(fmt.Errorf("POST /api/v1/events %s: %s", ev, resp.Status))
			return false
		}
		return true
	}
	r.sent.Store(id, time.Now())
	if !post("ringing") || !wait(r.cfg.Ring) || !post("answered") || !wait(r.cfg.Talk) {
		return
	}
	post("ended")
}

// progress prints a progress line every second until the returned func is called.
func (r *run) progress(ctx context.Context, servers []string, start time.Time, res *Result) func() {
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		lastN := 0
		for {
			select {
			case <-pctx.Done():
				if r.cfg.Progress != nil {
					fmt.Fprint(r.cfg.Progress, "\r\033[K")
				}
				return
			case <-t.C:
			}
			rss := r.rss(pctx, servers, false)
			if pctx.Err() != nil {
				continue
			}
			r.mu.Lock()
			recent := slices.Clone(r.lats[lastN:])
			lastN = len(r.lats)
			pops := len(r.pops)
			r.mu.Unlock()
			res.RSSMax = max(res.RSSMax, rss)
			slices.Sort(recent)
			r.progressf("%s/%s agents=%d calls=%d pops=%d p99(1s)=%s errors=%d rss=%s",
				time.Since(start).Round(time.Second), r.cfg.Duration, len(r.agents), r.calls.Load(), pops,
				quantile(recent, .99).Round(10*time.Microsecond), r.errs.Load(), mib(rss))
		}
	}()
	return func() { cancel(); <-done }
}

// rss is the servers' resident memory (their process_resident_memory_bytes, summed), or
// this process's when the server runs in it (settle: after returning free memory to the
// system).
func (r *run) rss(ctx context.Context, servers []string, settle bool) int64 {
	if len(r.cfg.Servers) == 0 {
		if settle {
			debug.FreeOSMemory() // a full GC: only between phases, never while measuring latency
		}
		return selfRSS()
	}
	var sum int64
	for _, s := range servers {
		sum += int64(r.scrape(ctx, s)["process_resident_memory_bytes"])
	}
	return sum
}

func (r *run) metric(ctx context.Context, servers []string, name string) float64 {
	if len(r.cfg.Servers) == 0 {
		return r.scrape(ctx, servers[0])[name]
	}
	var sum float64
	for _, s := range servers {
		sum += r.scrape(ctx, s)[name]
	}
	return sum
}

func selfRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// scrape reads a server's /metrics into name{labels} → value.
func (r *run) scrape(ctx context.Context, base string) map[string]float64 {
	out := map[string]float64{}
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/metrics", nil)
	if err != nil {
		return out
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for l := range strings.SplitSeq(string(b), "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err == nil {
			out[l[:i]] = v
		}
	}
	return out
}

// serverQuantiles estimates p50 and p99 of ringside_pop_latency_seconds (summed over
// the servers) from its buckets: the upper bound of the bucket the quantile falls in.
func (r *run) serverQuantiles(ctx context.Context, servers []string) (time.Duration, time.Duration) {
	type bucket struct {
		le float64
		n  float64
	}
	sum := map[float64]float64{}
	for _, s := range servers {
		for k, v := range r.scrape(ctx, s) {
			if le, ok := strings.CutPrefix(k, `ringside_pop_latency_seconds_bucket{le="`); ok {
				f, err := strconv.ParseFloat(strings.TrimSuffix(le, `"}`), 64)
				if err == nil {
					sum[f] += v
				}
			}
		}
	}
	var bs []bucket
	for le, n := range sum {
		bs = append(bs, bucket{le, n})
	}
	slices.SortFunc(bs, func(a, b bucket) int { return cmpFloat(a.le, b.le) })
	if len(bs) == 0 || bs[len(bs)-1].n == 0 {
		return 0, 0
	}
	total := bs[len(bs)-1].n
	q := func(p float64) time.Duration {
		for _, b := range bs {
			if b.n >= p*total {
				if math.IsInf(b.le, 1) {
					return -1
				}
				return time.Duration(b.le * float64(time.Second))
			}
		}
		return -1
	}
	return q(.5), q(.99)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
