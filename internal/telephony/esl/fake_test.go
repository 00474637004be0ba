package esl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ringside/ringside/internal/telephony/telephonytest"
	"github.com/ringside/ringside/internal/testenv"
)

// rawFrame is one ESL frame exactly as it was on the wire.
type rawFrame struct {
	contentType string
	raw         []byte
}

// splitFrames cuts a capture into its frames, bytes intact.
func splitFrames(t testing.TB, data []byte) []rawFrame {
	t.Helper()
	var out []rawFrame
	for len(data) > 0 {
		end := bytes.Index(data, []byte("\n\n"))
		if end < 0 {
			t.Fatalf("capture ends inside a header block")
		}
		hdr := string(data[:end])
		n, ct := 0, ""
		for _, line := range strings.Split(hdr, "\n") {
			k, v, _ := strings.Cut(line, ": ")
			switch k {
			case "Content-Length":
				fmt.Sscan(v, &n)
			case "Content-Type":
				ct = v
			}
		}
		size := end + 2 + n
		out = append(out, rawFrame{contentType: ct, raw: data[:size]})
		data = data[size:]
	}
	return out
}

// capture returns the event frames of a shared capture file.
func capture(t testing.TB, name string) []rawFrame {
	t.Helper()
	data, err := os.ReadFile(testenv.Capture(t, "freeswitch-esl", name))
	if err != nil {
		t.Fatal(err)
	}
	var evs []rawFrame
	for _, f := range splitFrames(t, data) {
		if strings.HasPrefix(f.contentType, "text/event-") {
			evs = append(evs, f)
		}
	}
	return evs
}

// controlReplies returns the api/response bodies of api_resync.control.esl, in order.
func controlReplies(t testing.TB) [][]byte {
	t.Helper()
	data, err := os.ReadFile(testenv.Capture(t, "freeswitch-esl", "api_resync.control.esl"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, f := range splitFrames(t, data) {
		if f.contentType == ctAPIResponse {
			out = append(out, f.raw[bytes.Index(f.raw, []byte("\n\n"))+2:])
		}
	}
	return out
}

// fakeFS is a FreeSWITCH event socket that speaks from the captures. Each accepted
// connection is handed to the test's script as a fakeConn, in order.
type fakeFS struct {
	ln    net.Listener
	conns chan *fakeConn
	wg    sync.WaitGroup
}

func newFakeFS(t *testing.T) *fakeFS {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeFS{ln: ln, conns: make(chan *fakeConn, 16)}
	fs.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(fs.conns)
				return
			}
			fs.conns <- &fakeConn{t: t, c: c, r: bufio.NewReader(c)}
		}
	})
	t.Cleanup(func() {
		ln.Close()
		fs.wg.Wait()
		for c := range fs.conns {
			c.c.Close()
		}
	})
	return fs
}

func (fs *fakeFS) addr() string { return fs.ln.Addr().String() }

// next waits for the next connection from the source.
func (fs *fakeFS) next(t *testing.T) *fakeConn {
	t.Helper()
	c, ok := <-fs.conns
	if !ok {
		t.Fatal("listener closed")
	}
	t.Cleanup(func() { c.c.Close() })
	return c
}

type fakeConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func (fc *fakeConn) write(b []byte) {
	if _, err := fc.c.Write(b); err != nil {
		fc.t.Errorf("fake FreeSWITCH write: %v", err)
	}
}

// command reads one command (up to its blank line).
func (fc *fakeConn) command() (string, error) {
	var b strings.Builder
	for {
		line, err := fc.r.ReadString('\n')
		if err != nil {
			return b.String(), err
		}
		if line == "\n" {
			return b.String(), nil
		}
		b.WriteString(line)
	}
}

func (fc *fakeConn) expect(prefix string) string {
	fc.t.Helper()
	cmd, err := fc.command()
	if err != nil {
		fc.t.Fatalf("fake FreeSWITCH: waiting for %q: %v", prefix, err)
	}
	if !strings.HasPrefix(cmd, prefix) {
		fc.t.Fatalf("fake FreeSWITCH: got command %q, want %q", cmd, prefix)
	}
	return cmd
}

func (fc *fakeConn) reply(text string) {
	fc.write([]byte("Content-Type: command/reply\nReply-Text: " + text + "\n\n"))
}

func (fc *fakeConn) api(body []byte) {
	fc.write(fmt.Appendf(nil, "Content-Type: api/response\nContent-Length: %d\n\n%s", len(body), body))
}

// login plays FreeSWITCH's side of auth and subscription.
func (fc *fakeConn) login(format string) {
	fc.t.Helper()
	fc.write([]byte("Content-Type: auth/request\n\n"))
	fc.expect("auth ClueCon\n")
	fc.reply("+OK accepted")
	cmd := fc.expect("event " + format + " ")
	if !strings.Contains(cmd, "CHANNEL_HANGUP_COMPLETE") || !strings.Contains(cmd, "BACKGROUND_JOB") {
		fc.t.Errorf("subscription %q lacks events", cmd)
	}
	fc.reply("+OK event listener enabled " + format)
}

var noRows = []byte(`{"row_count":0}`)

// resync answers the two resync queries.
func (fc *fakeConn) resync(channels, calls []byte) {
	fc.t.Helper()
	fc.expect("api show channels as json\n")
	fc.api(channels)
	fc.expect("api show calls as json\n")
	fc.api(calls)
}

func (fc *fakeConn) stream(frames []rawFrame) {
	for _, f := range frames {
		fc.write(f.raw)
	}
}

// waitClosed reads until the source closes the connection.
func (fc *fakeConn) waitClosed() error {
	_, err := io.Copy(io.Discard, fc.r)
	if err == nil || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func goldenSignals(t *testing.T, name string) []string {
	return telephonytest.GoldenLines(t, filepath.Join("testdata", name, "want.signals.jsonl"))
}
