package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/agent"
	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/loadtest"
	"github.com/ringside/ringside/internal/lookup"
	"github.com/ringside/ringside/internal/phone"
	"github.com/ringside/ringside/internal/pipeline"
	"github.com/ringside/ringside/internal/store"
	"github.com/ringside/ringside/internal/telephony/ami"
	"github.com/ringside/ringside/internal/testenv"

	"github.com/ringside/ringside/internal/call"
)

// hangingCRM never answers a lookup (until the request's context ends).
type hangingCRM struct{}

func (hangingCRM) Lookup(ctx context.Context, _ phone.Number) ([]crm.Match, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (hangingCRM) Get(context.Context, crm.Ref) (crm.Record, error) {
	return crm.Record{}, crm.ErrNotFound
}

// quickCRM answers every lookup at once (nobody found): the baseline of the same run.
type quickCRM struct{ hangingCRM }

func (quickCRM) Lookup(context.Context, phone.Number) ([]crm.Match, error) { return nil, nil }

// BenchmarkHangingCRM (issue 13): 200 new callers a second for 10 s against a CRM that
// never answers, with the default pop_timeout (300 ms), on a real SQLite journal. At the
// same time an Asterisk manager stream (a real capture, replayed by the fake AMI at 20
// calls a second) is read by the real AMI connector into the same pipeline. Reported:
// the callers' pop latency (Emit → the stream message: pop_timeout plus what the pipeline
// adds), how many popped within pop_timeout + 50 ms, and the AMI calls' pop latency
// minus pop_timeout: the lag of reading the AMI stream while the CRM hangs. The same load
// against a CRM that answers at once runs beside it (crm=quick; its lag is the pop
// latency itself): what the machine's scheduling costs, without the CRM.
//
//	go test -run '^$' -bench HangingCRM -benchtime=1x ./internal/pipeline/
func BenchmarkHangingCRM(b *testing.B) {
	b.Run("crm=hanging", func(b *testing.B) { benchCRM(b, hangingCRM{}, 300*time.Millisecond) })
	b.Run("crm=quick", func(b *testing.B) { benchCRM(b, quickCRM{}, 0) })
}

// benchCRM runs the load against dir; wait is when pops are due (pop_timeout for a CRM
// that hangs, 0 for one that answers).
func benchCRM(b *testing.B, dir crm.Directory, wait time.Duration) {
	sc, err := loadtest.LoadScenario(testenv.Capture(b, "asterisk-ami"), "inbound_answered")
	if err != nil {
		b.Fatal(err)
	}
	const (
		rate       = 200 // new callers a second
		seconds    = 10
		amiRate    = 20
		popTimeout = 300 * time.Millisecond
	)
	for i := 0; i < b.N; i++ {
		st, err := store.Open(b.Context(), store.Config{}, b.TempDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		parser, _ := phone.NewParser(phone.Config{DefaultRegion: "DE", MinSuffixDigits: 8})
		lk, err := lookup.New(dir, lookup.Config{PopTimeout: popTimeout, Timeout: 30 * time.Second}, nil)
		if err != nil {
			b.Fatal(err)
		}
		var mu sync.Mutex
		popped := map[string]time.Time{} // pbx id → when its pop was sent
		hub := agent.NewHub(nil, agent.Options{})
		hub.SetExtensions(map[string][]string{"200": {"alice"}, "201": {"bob"}})
		hub.SetForward(func(_ string, msg []byte, _ time.Time) {
			at := time.Now()
			var m struct {
				Type string `json:"type"`
				Call struct {
					PbxID string `json:"pbx_id"`
				} `json:"call"`
			}
			json.Unmarshal(msg, &m)
			if m.Type == string(call.EvRinging) {
				mu.Lock()
				if _, ok := popped[m.Call.PbxID]; !ok {
					popped[m.Call.PbxID] = at
				}
				mu.Unlock()
			}
		})
		p := pipeline.New(pipeline.Options{Log: slog.New(slog.DiscardHandler), Lookup: lk, Parser: parser, Hub: hub, Journal: st})
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { p.Run(ctx) })

		fake, err := loadtest.NewFakeAMI("127.0.0.1:0", "bench")
		if err != nil {
			b.Fatal(err)
		}
		src, err := ami.New("ami", ami.Config{Address: fake.Addr(), Username: "bench", Secret: "bench", Auth: "plain"}, nil)
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() { src.Run(ctx, p.Emit) })
		if err := fake.WaitLogin(b.Context()); err != nil {
			b.Fatal(err)
		}

		sent := map[string]time.Time{}
		var amiSent sync.Map
		b.ResetTimer()
		start := time.Now()
		var amiWG sync.WaitGroup
		amiWG.Go(func() {
			for n := range amiRate * seconds {
				at := start.Add(time.Duration(n) * time.Second / amiRate)
				time.Sleep(time.Until(at))
				ring, _ := sc.Call(n, "201", fmt.Sprintf("+4940%08d", n), time.Now())
				amiSent.Store(fmt.Sprintf("%d.0", 2000000000+n), time.Now())
				fake.Play(ring)
			}
		})
		var maxEmit time.Duration
		for n := range rate * seconds {
			at := start.Add(time.Duration(n) * time.Second / rate)
			time.Sleep(time.Until(at))
			id := fmt.Sprintf("h%d", n)
			t0 := time.Now()
			p.Emit(call.Signal{Source: "pbx", CallID: id, Kind: call.SigRinging, Extension: "200",
				Remote: call.Party{Number: fmt.Sprintf("+4930%08d", n)}})
			maxEmit = max(maxEmit, time.Since(t0))
			sent[id] = t0
		}
		amiWG.Wait()
		// Every pop is due pop_timeout after its call; wait generously for the last ones.
		deadline := time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			n := len(popped)
			mu.Unlock()
			if n >= rate*seconds+amiRate*seconds || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		b.StopTimer()
		mu.Lock()
		var lat, amiLat []time.Duration
		within := 0
		for id, t0 := range sent {
			if t1, ok := popped[id]; ok {
				lat = append(lat, t1.Sub(t0))
				if t1.Sub(t0) <= wait+50*time.Millisecond {
					within++
				}
			}
		}
		amiSent.Range(func(k, v any) bool {
			if t1, ok := popped[k.(string)]; ok {
				amiLat = append(amiLat, t1.Sub(v.(time.Time)))
			}
			return true
		})
		mu.Unlock()
		cancel()
		fake.Close()
		wg.Wait()
		st.Close()
		if len(lat) != rate*seconds || len(amiLat) != amiRate*seconds {
			b.Fatalf("popped %d of %d callers and %d of %d AMI calls", len(lat), rate*seconds, len(amiLat), amiRate*seconds)
		}
		slices.Sort(lat)
		slices.Sort(amiLat)
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		b.ReportMetric(ms(lat[len(lat)/2]), "pop-p50-ms")
		b.ReportMetric(ms(lat[len(lat)*99/100]), "pop-p99-ms")
		b.ReportMetric(ms(lat[len(lat)-1]), "pop-max-ms")
		b.ReportMetric(100*float64(within)/float64(len(lat)), "%within-due+50ms")
		b.ReportMetric(ms(amiLat[len(amiLat)*99/100]-wait), "ami-lag-p99-ms")
		b.ReportMetric(ms(amiLat[len(amiLat)-1]-wait), "ami-lag-max-ms")
		b.ReportMetric(ms(maxEmit), "emit-max-ms")
	}
}
