package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ringside/ringside/internal/cluster"
)

// clustering is what a node needs to work with others: the NATS bus that carries stream
// messages to every node, and the leases that keep each phone-system connection on one
// node at a time. Both are optional (nil).
type clustering struct {
	bus    *cluster.Bus
	leases cluster.Leaser
	closer func() error

	mu   sync.Mutex
	held map[string]bool // source name → this node holds its lease
}

// buildCluster sets up the bus and the leases the config asks for: the bus with
// cluster.nats_url; advisory-lock leases when the store is PostgreSQL (or cluster.lease:
// postgres), NATS key-value leases with cluster.lease: nats (or auto without PostgreSQL).
// On SQLite without a cluster nothing changes.
func (s *Server) buildCluster(node string) error {
	cfg := s.cfg.Cluster
	cl := &clustering{held: map[string]bool{}}
	s.clu = cl
	if cfg.Enabled() {
		bus, err := cluster.NewBus(cfg, node, s.log.With("component", "cluster"))
		if err != nil {
			return s.cfg.Errorf("cluster", "%v", err)
		}
		cl.bus = bus
		s.hub.SetForward(func(user string, msg []byte, since time.Time) {
			if err := bus.Publish(user, msg, since); err != nil {
				// Not connected yet: the local agents at least get it.
				s.hub.Deliver(user, msg, since)
			}
		})
	}
	postgres := strings.EqualFold(s.cfg.Store.Driver, "postgres")
	switch {
	case cfg.Lease == "postgres" || (postgres && cfg.Lease != "nats"):
		if !postgres {
			return s.cfg.Errorf("cluster.lease", "postgres leases need store.driver: postgres")
		}
		dsn := s.cfg.Store.DSN
		if s.cfg.Store.DSNEnv != "" {
			dsn = os.Getenv(s.cfg.Store.DSNEnv)
		}
		retry := time.Second
		if cfg.LeaseTTL > 0 && cfg.LeaseTTL < 5*time.Second {
			retry = cfg.LeaseTTL / 2
		}
		l, err := cluster.NewPGLeases(dsn, retry, s.log.With("component", "cluster"))
		if err != nil {
			return err
		}
		cl.leases, cl.closer = l, l.Close
	case cl.bus != nil:
		cl.leases = cluster.NewKVLeases(cl.bus, "", s.log.With("component", "cluster"))
	}
	return nil
}

// runCluster starts the bus (if any) under wg.
func (s *Server) runCluster(ctx context.Context, wg *sync.WaitGroup) {
	if s.clu == nil || s.clu.bus == nil {
		return
	}
	wg.Go(func() {
		if err := s.clu.bus.Run(ctx, func(user string, msg []byte, since time.Time) { s.hub.Deliver(user, msg, since) }); err != nil {
			s.log.Error("cluster bus stopped", "err", err)
		}
	})
}

// runSource runs a phone-system source: directly when there are no leases or the source
// is fed over HTTP (every node takes webhooks), else only while this node holds the
// source's lease. A new holder's source resynchronises when it connects (AMI:
// CoreShowChannels), so calls in progress carry on without popping again.
func (s *Server) runSource(ctx context.Context, ns namedSource) error {
	_, isHTTP := ns.src.(http.Handler)
	if s.clu == nil || s.clu.leases == nil || isHTTP {
		return ns.src.Run(ctx, s.emitter(ns))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var runErr error
	s.met.sourceState(ns.name, stateStandby)
	s.clu.leases.Hold(ctx, "telephony/"+ns.name, func(lctx context.Context) {
		s.setHeld(ns.name, true)
		defer s.setHeld(ns.name, false)
		lctx, stop := context.WithCancel(lctx)
		var wg sync.WaitGroup
		defer wg.Wait()
		defer stop()
		s.serveDial(lctx, &wg, ns) // other nodes' click-to-dial for this source
		// The calls the last holder journaled go on here under their Ringside ids; when
		// this node gives the source up, the next holder takes them.
		if n, err := s.pipe.Adopt(lctx, ns.name); err != nil {
			s.log.Warn("calls in progress not taken over; they start anew", "source", ns.name, "err", err)
		} else if n > 0 {
			s.log.Info("calls in progress taken over", "source", ns.name, "calls", n)
		}
		defer s.pipe.Release(ns.name)
		if err := ns.src.Run(lctx, s.emitter(ns)); err != nil {
			runErr = err
			cancel()
		}
		s.met.sourceState(ns.name, stateStandby)
	})
	return runErr
}

func (s *Server) setHeld(name string, v bool) {
	s.clu.mu.Lock()
	s.clu.held[name] = v
	s.clu.mu.Unlock()
}

// standby reports whether another node runs the source (this node waits for its lease).
func (s *Server) standby(name string) bool {
	if s.clu == nil || s.clu.leases == nil {
		return false
	}
	for _, ns := range s.sources {
		if ns.name == name {
			if _, isHTTP := ns.src.(http.Handler); isHTTP {
				return false
			}
		}
	}
	s.clu.mu.Lock()
	defer s.clu.mu.Unlock()
	return !s.clu.held[name]
}

// leased reports whether the named source runs under a lease (one node of the cluster
// at a time): it is not fed over HTTP, and the node has leases.
func (s *Server) leased(name string) bool {
	if s.clu == nil || s.clu.leases == nil {
		return false
	}
	for _, ns := range s.sources {
		if ns.name == name {
			_, isHTTP := ns.src.(http.Handler)
			return !isHTTP
		}
	}
	return false // not configured (any more): restored at start as before
}

// Holds reports whether this node holds the lease of the named phone-system source (true
// when there are no leases).
func (s *Server) Holds(name string) bool { return !s.standby(name) }

// clusterReadiness adds the bus's state to /readyz.
func (s *Server) clusterReadiness(out map[string]string) {
	if s.clu != nil && s.clu.bus != nil {
		out["cluster"] = s.clu.bus.State()
	}
}

func (s *Server) closeCluster() {
	if s.clu != nil && s.clu.closer != nil {
		if err := s.clu.closer(); err != nil {
			s.log.Warn("closing leases", "err", err)
		}
	}
}

var popPrefixes = [][]byte{[]byte(`{"type":"call.ringing"`), []byte(`{"type":"call.dialing"`)}

// isPop reports whether a stream message is a pop: a ringing or dialing message that is not
// a resynchronisation (Message encodes its type first, then resync).
func isPop(msg []byte) bool {
	for _, p := range popPrefixes {
		if bytes.HasPrefix(msg, p) {
			return !bytes.HasPrefix(msg[len(p):], []byte(`,"resync":true`))
		}
	}
	return false
}

func nodeName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), randomID())
}
