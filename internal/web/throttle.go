package web

import (
	"container/list"
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"time"
)

// A limitPolicy slows a key down: free attempts, then a delay that doubles with every
// further failure, from base up to max. Nobody is locked out: the right password gets in
// once the delay has passed.
type limitPolicy struct {
	free      int
	base, max time.Duration
}

func (p limitPolicy) delay(fails int) time.Duration {
	if fails < p.free {
		return 0
	}
	n := fails - p.free
	if n > 20 {
		return p.max
	}
	return min(p.base<<n, p.max)
}

// The login policies. A guess counts against the client address, the user name from that
// address, and the user name from anywhere; the last is generous so that guesses from
// elsewhere delay the real user by at most userPolicy.max.
var (
	addrPolicy     = limitPolicy{free: 20, base: time.Second, max: 5 * time.Minute}
	userAddrPolicy = limitPolicy{free: 5, base: time.Second, max: 5 * time.Minute}
	userPolicy     = limitPolicy{free: 50, base: time.Second, max: 30 * time.Second}
)

const (
	// limiterIdle is how long a key is kept after its last attempt (and its delay).
	limiterIdle = 15 * time.Minute
	// limiterMaxKeys bounds the memory a flood of distinct names or addresses can take:
	// past it the oldest keys go first, one by one.
	limiterMaxKeys = 100_000
)

type limitEntry struct {
	key    string
	policy limitPolicy
	fails  int
	last   time.Time
}

// loginLimiter counts login attempts before the password is checked (so parallel guesses
// cannot all slip through), refunds them on success, and bounds the bcrypt work running
// at once.
type loginLimiter struct {
	mu    sync.Mutex
	keys  map[string]*list.Element
	order *list.List // of *limitEntry, least recently attempted first
	sem   chan struct{}
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{keys: map[string]*list.Element{}, order: list.New(), sem: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))}
}

type limitKey struct {
	key    string
	policy limitPolicy
}

// admit counts an attempt against every key, or returns how long to wait when one of them
// is not ready (the attempt is then not counted). release(true) refunds the attempt.
func (l *loginLimiter) admit(now time.Time, keys ...limitKey) (release func(ok bool), wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune(now)
	for _, k := range keys {
		if el, ok := l.keys[k.key]; ok {
			e := el.Value.(*limitEntry)
			if at := e.last.Add(e.policy.delay(e.fails)); now.Before(at) {
				wait = max(wait, at.Sub(now))
			}
		}
	}
	if wait > 0 {
		return nil, wait
	}
	var got []*limitEntry
	for _, k := range keys {
		el, ok := l.keys[k.key]
		if !ok {
			el = l.order.PushBack(&limitEntry{key: k.key, policy: k.policy})
			l.keys[k.key] = el
		} else {
			l.order.MoveToBack(el)
		}
		e := el.Value.(*limitEntry)
		e.fails++
		e.last = now
		got = append(got, e)
	}
	return func(ok bool) {
		if !ok {
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, e := range got {
			if e.fails > 0 {
				e.fails--
			}
		}
	}, 0
}

// prune forgets keys idle past their delay and limiterIdle, oldest first, and the oldest
// ones beyond limiterMaxKeys.
func (l *loginLimiter) prune(now time.Time) {
	for el := l.order.Front(); el != nil; el = l.order.Front() {
		e := el.Value.(*limitEntry)
		if len(l.keys) <= limiterMaxKeys && now.Sub(e.last) < limiterIdle+e.policy.delay(e.fails) {
			return
		}
		l.order.Remove(el)
		delete(l.keys, e.key)
	}
}

var errBusy = errors.New("too many logins at once: try again in a moment")

// work runs f (a password check) when a bcrypt slot is free, waiting at most 10 seconds.
func (l *loginLimiter) work(ctx context.Context, f func()) error {
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case l.sem <- struct{}{}:
	case <-t.C:
		return errBusy
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-l.sem }()
	f()
	return nil
}

// clientAddr is the address of the client of r: the connection's peer, or, when that is a
// trusted proxy (web.trusted_proxies), the rightmost address of X-Forwarded-For that is
// not a trusted proxy.
func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer.String() // a garbled header: the proxy is the client we know
		}
		a = a.Unmap()
		if !isTrusted(a, trusted) {
			return a.String()
		}
	}
	return peer.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
