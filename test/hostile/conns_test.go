package hostile

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/testenv"
)

// TestHalfOpenFlood: 2,000 half-sent POST /login requests from one address (127.0.0.2)
// must not starve another client (127.0.0.1): its /healthz and phone-system events
// answer within a second, and the flood's connections beyond the per-address cap are
// closed. The server runs as a process with 1,024 open files, as on a small VM; before
// the caps, the flood used every file and the server stopped accepting.
func TestHalfOpenFlood(t *testing.T) {
	const flood = 2000
	raiseFileLimit(t, 3*flood)
	n := startBinary(t, "", map[string]string{"alice": "200"}, 1024)
	addr := strings.TrimPrefix(n.url, "http://")

	conns := make([]net.Conn, 0, flood)
	var mu sync.Mutex
	var refused atomic.Int64
	var wg sync.WaitGroup
	work := make(chan int)
	for range 50 {
		wg.Go(func() {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 2 * time.Second}
			for range work {
				c, err := d.DialContext(t.Context(), "tcp", addr)
				if err != nil {
					refused.Add(1)
					continue
				}
				// Headers complete, body never: a login that never finishes.
				fmt.Fprintf(c, "POST /login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nuser=alice&password=", addr)
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		})
	}
	for i := range flood {
		work <- i
	}
	close(work)
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	t.Logf("flood: %d connections open, %d refused at connect", len(conns), refused.Load())

	// Another client, from another address, for three seconds: every answer within a second.
	good := from("127.0.0.1")
	good.Timeout = time.Second
	deadline := time.Now().Add(3 * time.Second)
	worst := time.Duration(0)
	for i := 0; time.Now().Before(deadline); i++ {
		t0 := time.Now()
		resp, err := good.Get(n.url + "/healthz")
		if err != nil {
			t.Fatalf("/healthz during the flood (probe %d): %v", i, err)
		}
		resp.Body.Close()
		req, _ := http.NewRequestWithContext(t.Context(), "POST", n.url+"/api/v1/events",
			strings.NewReader(fmt.Sprintf(`{"event":"ringing","call_id":"flood-%d","from":"+4930123456","extension":"200"}`, i)))
		req.Header.Set("Authorization", "Bearer "+n.tokens[""])
		req.Header.Set("Content-Type", "application/json")
		resp, err = good.Do(req)
		if err != nil {
			t.Fatalf("POST /api/v1/events during the flood (probe %d): %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST /api/v1/events during the flood: %s", resp.Status)
		}
		worst = max(worst, time.Since(t0))
	}
	t.Logf("slowest /healthz + event pair during the flood: %s", worst)

	// The flood's connections past the per-address cap were closed by the server.
	var closed atomic.Int64
	var rw sync.WaitGroup
	for _, c := range conns {
		rw.Go(func() {
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			var b [1]byte
			if _, err := c.Read(b[:]); err != nil && !isTimeout(err) {
				closed.Add(1)
			}
		})
	}
	rw.Wait()
	t.Logf("flood connections closed by the server: %d of %d", closed.Load(), len(conns))
	if open := int64(len(conns)) - closed.Load(); open > 512 {
		t.Errorf("%d flood connections from one address are still open; the per-address cap is 512", open)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestSlowBodyCut: a request body that never finishes is cut after the read timeout, and
// an unauthenticated POST /api/v1/events gets its 401 before the body arrives.
func TestSlowBodyCut(t *testing.T) {
	n := start(t, "web:\n  read_timeout: 2s\n  idle_timeout: 2s\n", map[string]string{"alice": "200"})
	addr := strings.TrimPrefix(n.url, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /api/v1/events HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", addr)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	k, _ := c.Read(buf)
	if !strings.HasPrefix(string(buf[:k]), "HTTP/1.1 401") {
		t.Fatalf("unauthenticated slow body: got %q, want a 401 at once", buf[:k])
	}

	// An authenticated one that never finishes is cut at the read timeout.
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	fmt.Fprintf(c2, "POST /api/v1/events HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", addr, n.tokens[""])
	t0 := time.Now()
	c2.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		if _, err := c2.Read(buf); err != nil {
			if isTimeout(err) {
				t.Fatalf("a body that never finishes was held for 15s (read_timeout 2s)")
			}
			break
		}
	}
	t.Logf("slow body cut after %s", time.Since(t0).Round(time.Millisecond))

	// An idle keep-alive connection is closed too.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	testenv.Eventually(t, 20*time.Second, "the server to close an idle connection", func() (bool, error) {
		c3, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return false, err
		}
		defer c3.Close()
		fmt.Fprintf(c3, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		c3.SetReadDeadline(time.Now().Add(15 * time.Second))
		total := 0
		for {
			k, err := c3.Read(buf)
			total += k
			if err != nil {
				return total > 0 && !isTimeout(err), err
			}
		}
	})
}
