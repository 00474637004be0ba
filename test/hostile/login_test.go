package hostile

import (
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestParallelWrongLogins: 60 wrong passwords for one user at once are checked no more
// than the limit (the rest are refused before bcrypt), and the right password still gets
// in after a short delay, from another address.
func TestParallelWrongLogins(t *testing.T) {
	n := start(t, "", map[string]string{"alice": "200"})
	var checked, throttled, busy, other atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 60 {
		wg.Go(func() {
			<-start
			c := from("127.0.0.1")
			code, _ := do(t, c, "POST", n.url+"/login", "", "application/x-www-form-urlencoded",
				url.Values{"user": {"alice"}, "password": {"guess-" + strconv.Itoa(i)}}.Encode())
			switch code {
			case http.StatusUnauthorized:
				checked.Add(1)
			case http.StatusTooManyRequests:
				throttled.Add(1)
			case http.StatusServiceUnavailable: // refused before bcrypt: too many checks queued
				busy.Add(1)
			default:
				other.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	t.Logf("60 parallel wrong logins: %d checked, %d throttled, %d busy, %d other", checked.Load(), throttled.Load(), busy.Load(), other.Load())
	if checked.Load() > 5 {
		t.Errorf("%d wrong passwords were checked; the limit is 5 per user before delays", checked.Load())
	}
	if other.Load() > 0 {
		t.Errorf("%d answers were neither 401 nor 429", other.Load())
	}

	// The right password is delayed, not locked out: from another address it gets in
	// within the delay (a few seconds at this count).
	c := from("127.0.0.3")
	t0 := time.Now()
	for {
		code, body := do(t, c, "POST", n.url+"/login", "", "application/x-www-form-urlencoded",
			url.Values{"user": {"alice"}, "password": {password("alice")}}.Encode())
		if code == http.StatusSeeOther {
			break
		}
		if code != http.StatusTooManyRequests {
			t.Fatalf("right password: %d %s", code, body)
		}
		if time.Since(t0) > 15*time.Second {
			t.Fatalf("the right password was still refused after 15s: the user is locked out")
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("the right password got in after %s", time.Since(t0).Round(time.Millisecond))
}

// TestLoginFloodPerAddress: guesses for many user names from one address are throttled
// per address too.
func TestLoginFloodPerAddress(t *testing.T) {
	n := start(t, "", map[string]string{"alice": "200"})
	var checked atomic.Int64
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			code, _ := do(t, from("127.0.0.4"), "POST", n.url+"/login", "", "application/x-www-form-urlencoded",
				url.Values{"user": {"user" + strconv.Itoa(i)}, "password": {"guess"}}.Encode())
			if code == http.StatusUnauthorized {
				checked.Add(1)
			}
		})
	}
	wg.Wait()
	t.Logf("100 parallel guesses for different users from one address: %d checked", checked.Load())
	if checked.Load() > 20 {
		t.Errorf("%d guesses from one address were checked; the limit is 20 before delays", checked.Load())
	}
	// Another address is not affected.
	if code, body := do(t, from("127.0.0.5"), "POST", n.url+"/login", "", "application/x-www-form-urlencoded",
		url.Values{"user": {"alice"}, "password": {password("alice")}}.Encode()); code != http.StatusSeeOther {
		t.Fatalf("alice from another address: %d %s", code, body)
	}
}
