//go:build !windows

package esl

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony/reconnect"
	"github.com/ringside/ringside/internal/testenv"
)

// scenarioStream is every event frame of every call capture in one format, in recording
// order, as on the wire.
func scenarioStream(b testing.TB, format string) (stream []byte, bodies [][]byte) {
	b.Helper()
	files, _ := filepath.Glob(filepath.Join(testenv.Capture(b, "freeswitch-esl"), "*."+format+".esl"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range splitFrames(b, data) {
			if strings.HasPrefix(f.contentType, "text/event-") {
				stream = append(stream, f.raw...)
				bodies = append(bodies, f.raw[bytes.Index(f.raw, []byte("\n\n"))+2:])
			}
		}
	}
	return stream, bodies
}

func benchDecode(b *testing.B, format string, dec func([]byte, *event) error) {
	_, bodies := scenarioStream(b, format)
	size := 0
	for _, x := range bodies {
		size += len(x)
	}
	var ev event
	b.SetBytes(int64(size / len(bodies)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.Cleanup(func() { b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/event") })
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := dec(bodies[i%len(bodies)], &ev); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b)
}

// cpuTime is the CPU time the process used so far: on a shared machine it says more about
// the code than the wall clock does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportRates(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDecodePlain: one op is one event of the plain captures (event plain ALL).
func BenchmarkDecodePlain(b *testing.B) { benchDecode(b, "plain", decodePlain) }

// BenchmarkDecodeJSON: one op is one event of the JSON captures.
func BenchmarkDecodeJSON(b *testing.B) { benchDecode(b, "json", decodeJSON) }

// benchPipeline runs framing, decoding and correlation over the captures in a loop: one op
// is one event.
func benchPipeline(b *testing.B, format string) {
	stream, bodies := scenarioStream(b, format)
	re := regexp.MustCompile(defaultExtensionPattern)
	src := &Source{}
	ss := &session{jobs: map[string]chan string{}}
	var f frame
	var ev event
	signals := 0
	b.SetBytes(int64(len(stream) / len(bodies)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.Cleanup(func() { b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/event") })
	b.ResetTimer()
	for n := 0; n < b.N; {
		co := newCorrelator("esl", re, []string{"external"}, func(call.Signal) { signals++ })
		fr := newFrameReader(bytes.NewReader(stream), 1<<20)
		for n < b.N {
			if err := fr.readFrame(&f); err != nil {
				break
			}
			if err := src.event(ss, co, &f, &ev); err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	reportRates(b)
}

// BenchmarkCorrelatePlain: frames + decode + correlate, plain captures.
func BenchmarkCorrelatePlain(b *testing.B) { benchPipeline(b, "plain") }

// BenchmarkCorrelateJSON: frames + decode + correlate, JSON captures.
func BenchmarkCorrelateJSON(b *testing.B) { benchPipeline(b, "json") }

// TestLoopbackClient is the Go half of bench/esl-node: it runs a real Source against the
// replay server at RINGSIDE_ESL_BENCH_ADDR until the server hangs up, and prints events/s
// and CPU per event. Skipped unless that variable is set.
func TestLoopbackClient(t *testing.T) {
	addr := os.Getenv("RINGSIDE_ESL_BENCH_ADDR")
	if addr == "" {
		t.Skip("RINGSIDE_ESL_BENCH_ADDR not set (run bench/esl-node/run.sh)")
	}
	format := os.Getenv("RINGSIDE_ESL_BENCH_FORMAT")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var start, end time.Time
	var ru0, ru1 syscall.Rusage
	dials := 0
	cfg := Config{Address: addr, Format: format, DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
		dials++
		if dials > 1 { // the replay ended: measure up to here
			end = time.Now()
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			cancel()
			return nil, context.Canceled
		}
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		start = time.Now()
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}}
	src, err := New("bench", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	src.rc = reconnect.New(reconnect.Policy{Min: time.Microsecond}, reconnect.Options{})
	signals := 0
	if err := src.Run(ctx, func(call.Signal) { signals++ }); err != nil {
		t.Fatal(err)
	}
	st := src.Stats()
	events := st.Events + st.Skipped
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	wall := end.Sub(start)
	fmt.Printf("RESULT client=go format=%s events=%d signals=%d wall_s=%.3f events_per_s=%.0f cpu_us_per_event=%.2f\n",
		format, events, signals, wall.Seconds(), float64(events)/wall.Seconds(), float64(cpu.Microseconds())/float64(events))
}
