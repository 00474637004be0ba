package server

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// limitListener caps the connections open at once, overall and per client address, so
// that a flood of half-open connections from one address can use neither every file the
// process may open nor every slot. A connection past a cap is closed at once (a reset):
// the client learns immediately instead of waiting in the kernel's backlog.
type limitListener struct {
	net.Listener
	max, perAddr int
	exempt       []netip.Prefix // trusted proxies: their clients are many

	mu     sync.Mutex
	total  int
	byAddr map[netip.Addr]int

	refused atomic.Int64
}

func newLimitListener(ln net.Listener, max, perAddr int, exempt []netip.Prefix) *limitListener {
	return &limitListener{Listener: ln, max: max, perAddr: perAddr, exempt: exempt, byAddr: map[netip.Addr]int{}}
}

// Accept returns the next connection within the caps.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := peerAddr(c)
		if l.take(addr) {
			return &limitConn{Conn: c, l: l, addr: addr}, nil
		}
		l.refused.Add(1)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
	}
}

func (l *limitListener) take(addr netip.Addr) bool {
	capped := l.perAddr > 0 && addr.IsValid()
	for _, p := range l.exempt {
		if p.Contains(addr) {
			capped = false
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if (l.max > 0 && l.total >= l.max) || (capped && l.byAddr[addr] >= l.perAddr) {
		return false
	}
	l.total++
	l.byAddr[addr]++
	return true
}

func (l *limitListener) release(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.byAddr[addr]--; l.byAddr[addr] <= 0 {
		delete(l.byAddr, addr)
	}
}

// open returns the connections open now.
func (l *limitListener) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

func peerAddr(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		a, _ := netip.AddrFromSlice(ta.IP)
		return a.Unmap()
	}
	return netip.Addr{}
}

// limitConn gives its slot back when closed (by net/http, or by a WebSocket after the
// upgrade).
type limitConn struct {
	net.Conn
	l    *limitListener
	addr netip.Addr
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.addr) })
	return err
}
