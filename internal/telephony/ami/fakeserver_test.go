package ami

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/testenv"
)

// fixture returns a capture's bytes.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(testenv.Capture(t, "asterisk-ami", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// events returns what a capture holds between the login's reply and the Logoff's reply:
// what the fake server replays after a login.
func events(t testing.TB, name string) []byte {
	t.Helper()
	b := fixture(t, name)
	i := bytes.Index(b, []byte("\r\n\r\n"))
	j := bytes.Index(b, []byte("Response: Goodbye\r\n"))
	if i < 0 || j < i {
		t.Fatalf("%s: no login reply or no Goodbye", name)
	}
	return b[i+4 : j]
}

// conn is what a fake-server script sees of one client connection.
type fakeConn struct {
	net.Conn
	n       int // 1 for the first connection
	actions chan *action
}

// action is one request the client sent.
type action struct {
	name, id string
	headers  map[string]string
}

// fakeServer is an Asterisk manager that logs clients in (plain or MD5), answers Ping and,
// per connection, runs a script.
type fakeServer struct {
	t      testing.TB
	ln     net.Listener
	secret string
	// list answers CoreShowChannels on connection n with the list's items (AMI text
	// without ActionID; the server adds it).
	list func(n int) []string
	// script runs after the login; it owns the connection.
	script func(c *fakeConn)
	// loginReply, when set, is written instead of the normal reply to Login.
	loginReply []byte
	// silent servers answer nothing after the login (a hung Asterisk).
	silent bool
	// denyList refuses CoreShowChannels (a user without write=reporting).
	denyList bool

	mu    sync.Mutex
	conns int
	wg    sync.WaitGroup
}

func newFakeServer(t testing.TB, script func(c *fakeConn)) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startFakeServer(t, ln, script)
}

// newTLSFakeServer is newFakeServer behind TLS with a fresh self-signed certificate for
// 127.0.0.1; it returns the pool that trusts it.
func newTLSFakeServer(t testing.TB, script func(c *fakeConn)) (*fakeServer, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "asterisk"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	return startFakeServer(t, ln, script), pool
}

func startFakeServer(t testing.TB, ln net.Listener, script func(c *fakeConn)) *fakeServer {
	fs := &fakeServer{t: t, ln: ln, secret: "secret", script: script}
	fs.wg.Go(fs.serve)
	t.Cleanup(func() {
		ln.Close()
		fs.wg.Wait()
	})
	return fs
}

func (fs *fakeServer) addr() string { return fs.ln.Addr().String() }

func (fs *fakeServer) connections() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.conns
}

func (fs *fakeServer) serve() {
	for {
		c, err := fs.ln.Accept()
		if err != nil {
			return
		}
		fs.mu.Lock()
		fs.conns++
		n := fs.conns
		fs.mu.Unlock()
		fs.wg.Go(func() { fs.handle(c, n) })
	}
}

func writeMsg(c net.Conn, lines ...string) {
	_, _ = c.Write([]byte(strings.Join(lines, "\r\n") + "\r\n\r\n"))
}

func (fs *fakeServer) handle(c net.Conn, n int) {
	defer c.Close()
	_, _ = c.Write([]byte("Asterisk Call Manager/11.0.0\r\n"))
	dec := NewDecoder(c, 64<<10, 1<<20)
	const challenge = "417305693"
	// Log in.
	for {
		m, err := dec.Next()
		if err != nil {
			return
		}
		id := m.Get("ActionID")
		switch m.Get("Action") {
		case "Challenge":
			writeMsg(c, "Response: Success", "ActionID: "+id, "Challenge: "+challenge)
			continue
		case "Login":
		default:
			writeMsg(c, "Response: Error", "ActionID: "+id, "Message: Permission denied")
			continue
		}
		if fs.loginReply != nil {
			_, _ = c.Write(bytes.ReplaceAll(fs.loginReply, []byte("ActionID: login-bad-1"), []byte("ActionID: "+id)))
			return
		}
		ok := m.Get("Secret") == fs.secret
		if m.Get("AuthType") == "MD5" {
			sum := md5.Sum([]byte(challenge + fs.secret))
			ok = m.Get("Key") == hex.EncodeToString(sum[:])
		}
		if !ok {
			writeMsg(c, "Response: Error", "ActionID: "+id, "Message: Authentication failed")
			return
		}
		writeMsg(c, "Response: Success", "ActionID: "+id, "Message: Authentication accepted")
		break
	}
	fc := &fakeConn{Conn: c, n: n, actions: make(chan *action, 16)}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(fc.actions)
		for {
			m, err := dec.Next()
			if err != nil {
				return
			}
			a := &action{name: m.Get("Action"), id: m.Get("ActionID"), headers: map[string]string{}}
			for i := 0; i < m.Len(); i++ {
				k, v := m.Header(i)
				a.headers[string(k)] = string(v)
			}
			name := a.name
			if fs.silent {
				name = ""
			}
			switch name {
			case "Ping":
				writeMsg(c, "Response: Success", "ActionID: "+a.id, "Ping: Pong", "Timestamp: 1795628382.500000")
			case "CoreShowChannels":
				if fs.denyList {
					writeMsg(c, "Response: Error", "ActionID: "+a.id, "Message: Permission denied")
					continue
				}
				var items []string
				if fs.list != nil {
					items = fs.list(n)
				}
				writeMsg(c, "Response: Success", "ActionID: "+a.id, "EventList: start", "Message: Channels will follow")
				for _, it := range items {
					it = strings.TrimRight(it, "\r\n")
					it = strings.Replace(it, "Event: CoreShowChannel\r\n", "Event: CoreShowChannel\r\nActionID: "+a.id+"\r\n", 1)
					_, _ = c.Write([]byte(it + "\r\n\r\n"))
				}
				writeMsg(c, "Event: CoreShowChannelsComplete", "ActionID: "+a.id, "EventList: Complete", "ListItems: "+strconv.Itoa(len(items)))
			default:
				select {
				case fc.actions <- a:
				case <-done:
				}
			}
		}
	})
	if fs.script != nil {
		fs.script(fc)
	}
	close(done)
	c.Close()
	wg.Wait()
}

// listItems cuts the CoreShowChannel items out of a capture (their ActionID removed).
func listItems(t testing.TB, name string) []string {
	t.Helper()
	var out []string
	for _, m := range strings.Split(string(fixture(t, name)), "\r\n\r\n") {
		if strings.HasPrefix(m, "Event: CoreShowChannel\r\n") {
			var keep []string
			for _, l := range strings.Split(m, "\r\n") {
				if !strings.HasPrefix(l, "ActionID: ") {
					keep = append(keep, l)
				}
			}
			out = append(out, strings.Join(keep, "\r\n"))
		}
	}
	return out
}

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }
