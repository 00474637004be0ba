package server

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/ringside/ringside/internal/cluster"
	"github.com/ringside/ringside/internal/store"
	"github.com/ringside/ringside/internal/telephony"
)

// dial places a click-to-dial call for u from the extension it asks for (the web layer
// puts it first): through the first phone system whose section serves that extension
// (extensions:, default all) and can dial, on this node or, when another node of the
// cluster holds the source's lease, on that node over the cluster bus; else through the
// user's desktop companion. When none can, the error wraps telephony.ErrDialUnsupported
// or telephony.ErrDialUnavailable and says why in the user's words.
func (s *Server) dial(ctx context.Context, u store.User, number string) error {
	ext := u.Extensions[0]
	var unavailable error
	for _, ns := range s.sources {
		if _, ok := ns.src.(telephony.Dialer); !ok || !ns.serves.Serves(ext) {
			continue
		}
		err := s.dialVia(ctx, ns, ext, number)
		if !errors.Is(err, telephony.ErrDialUnavailable) {
			return err
		}
		if unavailable == nil {
			unavailable = err // the first serving source's reason; try the next one
		}
	}
	if ok, err := s.comp.dial(ctx, u, number); ok {
		return err
	}
	if unavailable != nil {
		return unavailable
	}
	var kinds, dialers []string
	for _, ns := range s.sources {
		kinds = append(kinds, ns.kind)
		if _, ok := ns.src.(telephony.Dialer); ok {
			dialers = append(dialers, ns.name)
		}
	}
	if len(dialers) > 0 {
		return fmt.Errorf("%w: no phone system that places calls serves extension %s (%s serve other extensions); ask an administrator to add it to a source's extensions", telephony.ErrDialUnsupported, ext, strings.Join(dialers, ", "))
	}
	return fmt.Errorf("%w: the configured phone system (%s) only reports calls; click-to-dial needs a connector that can place calls (ami, esl) or the desktop companion", telephony.ErrDialUnsupported, strings.Join(kinds, ", "))
}

// dialVia dials through one source: here when this node runs it, else over the bus.
func (s *Server) dialVia(ctx context.Context, ns namedSource, ext, number string) error {
	if s.standby(ns.name) {
		return s.dialRemote(ctx, ns, ext, number)
	}
	return dialLocal(ctx, ns, ext, number)
}

// dialLocal dials through a source this node runs. A source that is not up is
// unavailable (its own error says the same in its words).
func dialLocal(ctx context.Context, ns namedSource, ext, number string) error {
	st, _ := ns.src.(telephony.Stater)
	if st != nil {
		if state, reason := st.State(); state != telephony.StateUp {
			return unavailable(ns.name, telephony.Describe(state, reason))
		}
	}
	err := ns.src.(telephony.Dialer).Dial(ctx, ext, number)
	if err != nil && st != nil {
		if state, reason := st.State(); state != telephony.StateUp {
			return unavailable(ns.name, telephony.Describe(state, reason))
		}
	}
	return err
}

func unavailable(source, why string) error {
	return fmt.Errorf("%w: the phone system %s that serves your extension is not connected (%s); try again in a moment", telephony.ErrDialUnavailable, source, why)
}

// dialRequest is a click-to-dial forwarded to the node that runs the source.
type dialRequest struct {
	Extension string `json:"extension"`
	Number    string `json:"number"`
}

// dialTopic is the cluster request topic of a source's click-to-dial (its name in hex:
// a name may hold characters a NATS subject may not).
func dialTopic(source string) string { return "dial." + hex.EncodeToString([]byte(source)) }

// Error kinds of a forwarded dial, for the node that asked.
const (
	dialKindUnavailable = "unavailable"
	dialKindUnsupported = "unsupported"
	dialKindRefused     = "refused"
)

func dialErrorKind(err error) string {
	switch {
	case errors.Is(err, telephony.ErrDialUnavailable):
		return dialKindUnavailable
	case errors.Is(err, telephony.ErrDialUnsupported):
		return dialKindUnsupported
	}
	return dialKindRefused
}

// dialRemote forwards a click-to-dial to the node holding the source's lease.
func (s *Server) dialRemote(ctx context.Context, ns namedSource, ext, number string) error {
	if s.clu == nil || s.clu.bus == nil {
		return unavailable(ns.name, "another node runs it, and without cluster.nats_url this node cannot reach it")
	}
	body, _ := json.Marshal(dialRequest{Extension: ext, Number: number})
	_, err := s.clu.bus.Request(ctx, dialTopic(ns.name), body)
	var re *cluster.RemoteError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, cluster.ErrNoResponder), errors.Is(err, cluster.ErrNotConnected):
		return unavailable(ns.name, "no node of the cluster is connected to it")
	case errors.As(err, &re):
		switch re.Kind {
		case dialKindUnavailable:
			return fmt.Errorf("%w: %s", telephony.ErrDialUnavailable, strings.TrimPrefix(re.Msg, telephony.ErrDialUnavailable.Error()+": "))
		case dialKindUnsupported:
			return fmt.Errorf("%w: %s", telephony.ErrDialUnsupported, strings.TrimPrefix(re.Msg, telephony.ErrDialUnsupported.Error()+": "))
		}
		return errors.New(re.Msg) // the phone system's answer (busy, offline, …)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("click-to-dial through %s: no answer in time: %w", ns.name, ctx.Err())
	}
	return unavailable(ns.name, err.Error())
}

// serveDial answers the click-to-dial requests other nodes forward for a source while
// this node holds its lease (until ctx, the lease's context, ends).
func (s *Server) serveDial(ctx context.Context, wg *sync.WaitGroup, ns namedSource) {
	if s.clu == nil || s.clu.bus == nil {
		return
	}
	if _, ok := ns.src.(telephony.Dialer); !ok {
		return
	}
	wg.Go(func() {
		err := s.clu.bus.Serve(ctx, dialTopic(ns.name), func(ctx context.Context, data []byte) ([]byte, error) {
			var r dialRequest
			if err := json.Unmarshal(data, &r); err != nil || r.Extension == "" || r.Number == "" {
				return nil, errors.New("click-to-dial: malformed request from another node")
			}
			return nil, dialLocal(ctx, ns, r.Extension, r.Number)
		}, dialErrorKind)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("cannot take click-to-dial from other nodes", "source", ns.name, "err", err)
		}
	})
}
