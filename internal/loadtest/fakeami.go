package loadtest

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"
)

// FakeAMI is an Asterisk manager for load and fault tests: it logs clients in (plain or
// MD5 with the secret it is given), answers Ping, answers CoreShowChannels with the
// channels alive in what it has replayed so far, and writes replayed call events to every
// logged-in client.
type FakeAMI struct {
	secret string
	ln     net.Listener

	mu      sync.Mutex
	clients map[*amiClient]struct{}
	chans   map[string]map[string]string // Uniqueid → the channel's latest headers
	logins  int
	wg      sync.WaitGroup
	loggedC chan struct{} // signalled on each login
	origs   []string      // Originates asked for: "Channel>Exten"
}

type amiClient struct {
	c  net.Conn
	mu sync.Mutex // serialises writes
}

func (c *amiClient) write(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.c.Write(b)
	return err
}

// NewFakeAMI listens on addr (e.g. 127.0.0.1:0). Close stops it.
func NewFakeAMI(addr, secret string) (*FakeAMI, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("loadtest: fake ami: %w", err)
	}
	f := &FakeAMI{secret: secret, ln: ln, clients: map[*amiClient]struct{}{}, chans: map[string]map[string]string{}, loggedC: make(chan struct{}, 64)}
	f.wg.Go(f.serve)
	return f, nil
}

// Addr is the address clients connect to.
func (f *FakeAMI) Addr() string { return f.ln.Addr().String() }

// Close stops listening and cuts every client off.
func (f *FakeAMI) Close() error {
	err := f.ln.Close()
	f.Drop()
	f.wg.Wait()
	return err
}

// Drop cuts every client off (they reconnect), as when Asterisk restarts its manager or
// the network breaks. The channels stay: a reconnecting client's CoreShowChannels lists
// them.
func (f *FakeAMI) Drop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.clients {
		c.c.Close()
	}
}

// Logins returns how many logins succeeded so far.
func (f *FakeAMI) Logins() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logins
}

// WaitLogin waits for the next successful login (counted from the last one waited for).
func (f *FakeAMI) WaitLogin(ctx context.Context) error {
	select {
	case <-f.loggedC:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Originates returns the click-to-dial calls asked for so far, as "Channel>Exten".
func (f *FakeAMI) Originates() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.origs...)
}

// Clients returns how many clients are logged in.
func (f *FakeAMI) Clients() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.clients)
}

func (f *FakeAMI) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.wg.Go(func() { f.handle(c) })
	}
}

func readMsg(r *bufio.Reader) (map[string]string, error) {
	m := map[string]string{}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if len(m) == 0 {
				continue
			}
			return m, nil
		}
		k, v, _ := strings.Cut(line, ":")
		m[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
}

func msg(lines ...string) []byte { return []byte(strings.Join(lines, "\r\n") + "\r\n\r\n") }

func (f *FakeAMI) handle(conn net.Conn) {
	defer conn.Close()
	cl := &amiClient{c: conn}
	if cl.write([]byte("Asterisk Call Manager/11.0.0\r\n")) != nil {
		return
	}
	r := bufio.NewReader(conn)
	const challenge = "417305693"
	logged := false
	defer func() {
		f.mu.Lock()
		delete(f.clients, cl)
		f.mu.Unlock()
	}()
	for {
		m, err := readMsg(r)
		if err != nil {
			return
		}
		id := m["actionid"]
		switch strings.ToLower(m["action"]) {
		case "challenge":
			_ = cl.write(msg("Response: Success", "ActionID: "+id, "Challenge: "+challenge))
		case "login":
			ok := m["secret"] == f.secret
			if strings.EqualFold(m["authtype"], "md5") {
				sum := md5.Sum([]byte(challenge + f.secret))
				ok = m["key"] == hex.EncodeToString(sum[:])
			}
			if !ok {
				_ = cl.write(msg("Response: Error", "ActionID: "+id, "Message: Authentication failed"))
				return
			}
			// Register before answering, so no event replayed after the answer is missed.
			f.mu.Lock()
			f.clients[cl] = struct{}{}
			f.logins++
			f.mu.Unlock()
			logged = true
			_ = cl.write(msg("Response: Success", "ActionID: "+id, "Message: Authentication accepted"))
			select {
			case f.loggedC <- struct{}{}:
			default:
			}
		case "ping":
			ts := float64(time.Now().UnixNano()) / 1e9
			_ = cl.write(msg("Response: Success", "ActionID: "+id, "Ping: Pong", fmt.Sprintf("Timestamp: %.6f", ts)))
		case "coreshowchannels":
			if !logged {
				_ = cl.write(msg("Response: Error", "ActionID: "+id, "Message: Permission denied"))
				continue
			}
			_ = cl.write(f.list(id))
		case "originate":
			// Accepted, and the phone answered at once (as Asterisk reports it).
			if !logged {
				_ = cl.write(msg("Response: Error", "ActionID: "+id, "Message: Permission denied"))
				continue
			}
			f.mu.Lock()
			f.origs = append(f.origs, m["channel"]+">"+m["exten"])
			f.mu.Unlock()
			_ = cl.write(msg("Response: Success", "ActionID: "+id, "Message: Originate successfully queued"))
			_ = cl.write(msg("Event: OriginateResponse", "ActionID: "+id, "Response: Success", "Channel: "+m["channel"], "Reason: 4"))
		case "logoff":
			_ = cl.write(msg("Response: Goodbye", "ActionID: "+id, "Message: Thanks for all the fish."))
			return
		default:
			_ = cl.write(msg("Response: Error", "ActionID: "+id, "Message: Invalid/unknown command"))
		}
	}
}

// list is the reply to CoreShowChannels: the live channels, oldest first.
func (f *FakeAMI) list(id string) []byte {
	f.mu.Lock()
	uids := make([]string, 0, len(f.chans))
	for u := range f.chans {
		uids = append(uids, u)
	}
	sort.Strings(uids)
	var b strings.Builder
	b.Write(msg("Response: Success", "ActionID: "+id, "EventList: start", "Message: Channels will follow"))
	for _, u := range uids {
		h := f.chans[u]
		b.Write(msg("Event: CoreShowChannel", "ActionID: "+id, "Channel: "+h["Channel"], "ChannelState: "+h["ChannelState"],
			"ChannelStateDesc: "+h["ChannelStateDesc"], "CallerIDNum: "+h["CallerIDNum"], "CallerIDName: "+h["CallerIDName"],
			"ConnectedLineNum: "+h["ConnectedLineNum"], "ConnectedLineName: "+h["ConnectedLineName"], "Language: en", "AccountCode: ",
			"Context: "+h["Context"], "Exten: "+h["Exten"], "Priority: 1", "Uniqueid: "+u, "Linkedid: "+h["Linkedid"],
			"Application: Dial", "ApplicationData: ", "Duration: 00:00:01", "BridgeId: "))
	}
	n := len(uids)
	f.mu.Unlock()
	b.Write(msg("Event: CoreShowChannelsComplete", "ActionID: "+id, "EventList: Complete", fmt.Sprintf("ListItems: %d", n)))
	return []byte(b.String())
}

var chanHeaders = []string{"Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName", "ConnectedLineNum", "ConnectedLineName", "Context", "Exten", "Linkedid"}

// Play writes raw AMI events (messages separated by blank lines, CRLF) to every client
// and follows the channels they create and hang up. It returns when every client has
// been written to, and how many clients there were.
func (f *FakeAMI) Play(events []byte) int {
	f.track(events)
	f.mu.Lock()
	cls := make([]*amiClient, 0, len(f.clients))
	for c := range f.clients {
		cls = append(cls, c)
	}
	f.mu.Unlock()
	n := 0
	for _, c := range cls {
		if c.write(events) == nil {
			n++
		}
	}
	return n
}

func (f *FakeAMI) track(events []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range strings.Split(string(events), "\r\n\r\n") {
		h := map[string]string{}
		for _, l := range strings.Split(m, "\r\n") {
			if k, v, ok := strings.Cut(l, ": "); ok {
				if _, seen := h[k]; !seen {
					h[k] = v
				}
			} else if k, ok := strings.CutSuffix(l, ":"); ok {
				h[k] = ""
			}
		}
		uid := h["Uniqueid"]
		if uid == "" || h["Channel"] == "" {
			continue
		}
		if h["Event"] == "Hangup" {
			delete(f.chans, uid)
			continue
		}
		ch := f.chans[uid]
		if ch == nil {
			if h["Event"] != "Newchannel" {
				continue
			}
			ch = map[string]string{}
			f.chans[uid] = ch
		}
		for _, k := range chanHeaders {
			if v, ok := h[k]; ok {
				ch[k] = v
			}
		}
	}
}

// Channels returns how many channels are alive.
func (f *FakeAMI) Channels() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.chans)
}
