package ami

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"runtime"
	"sort"
	"testing"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/testenv"
)

// allCaptures is every capture after its banner, concatenated: one long AMI stream.
func allCaptures(b testing.TB) []byte {
	b.Helper()
	files, _ := filepath.Glob(filepath.Join(testenv.Capture(b, "asterisk-ami"), "*.ami"))
	sort.Strings(files)
	stream := []byte("Asterisk Call Manager/11.0.0\r\n")
	for _, p := range files {
		data, err := readFile(p)
		if err != nil {
			b.Fatal(err)
		}
		_, rest, _ := bytes.Cut(data, []byte("\r\n"))
		stream = append(stream, rest...)
	}
	return stream
}

func benchStream(b *testing.B, correlate bool) {
	stream := allCaptures(b)
	s := testSettings(b, nil)
	r := bytes.NewReader(stream)
	d := NewDecoder(r, s.MaxLineBytes, s.MaxFrameBytes)
	signals := 0
	c := newCorrelator(s, "ami", func(call.Signal) { signals++ })
	events := 0
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	for b.Loop() {
		r.Reset(stream)
		d.Reset(r)
		for {
			m, err := d.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if m.Event() != nil {
				events++
			}
			if correlate {
				c.handle(m)
			}
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(events), "allocs/event")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
	if correlate && signals == 0 {
		b.Fatal("no signals")
	}
}

// BenchmarkDecode: frames only, all captures replayed in a loop.
func BenchmarkDecode(b *testing.B) { benchStream(b, false) }

// BenchmarkDecodeCorrelate: frames to signals, all captures replayed in a loop.
func BenchmarkDecodeCorrelate(b *testing.B) { benchStream(b, true) }
