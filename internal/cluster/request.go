package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// Header names of a request's answer.
const (
	hdrError     = "Ringside-Error"      // the error's text, when the handler failed
	hdrErrorKind = "Ringside-Error-Kind" // a word the asker maps back to its own error
)

// ErrNoResponder says that no node serves a request's topic right now.
var ErrNoResponder = errors.New("cluster: no node answers")

// A RemoteError is a handler's error carried back to the node that asked.
type RemoteError struct {
	Kind string // the handler's word for it (see Serve)
	Msg  string
}

func (e *RemoteError) Error() string { return e.Msg }

// A Handler answers one request. A non-nil error goes back as a RemoteError whose Kind
// is kind(err).
type Handler func(ctx context.Context, data []byte) ([]byte, error)

func (b *Bus) requestSubject(topic string) string { return b.cfg.Subject + ".request." + topic }

// Serve answers the requests on topic with h until ctx ends (this node then stops
// taking them). One node at a time should serve a topic: the holder of a lease. kind
// names an error for the asker (RemoteError.Kind). Serve returns once it subscribed, or
// with an error when ctx ends before the bus connects.
func (b *Bus) Serve(ctx context.Context, topic string, h Handler, kind func(error) string) error {
	nc, err := b.conn(ctx)
	if err != nil {
		return err
	}
	sub, err := nc.Subscribe(b.requestSubject(topic), func(m *nats.Msg) {
		out, err := h(ctx, m.Data)
		reply := &nats.Msg{Subject: m.Reply, Data: out, Header: nats.Header{}}
		reply.Header.Set(hdrNode, b.node)
		if err != nil {
			reply.Data = nil
			reply.Header.Set(hdrError, err.Error())
			if kind != nil {
				reply.Header.Set(hdrErrorKind, kind(err))
			}
		}
		if err := m.RespondMsg(reply); err != nil {
			b.log.Warn("answering a request", "topic", topic, "err", err)
		}
	})
	if err != nil {
		return fmt.Errorf("cluster: serve %s: %w", topic, err)
	}
	context.AfterFunc(ctx, func() { _ = sub.Unsubscribe() })
	return nil
}

// Request asks the node serving topic and returns its answer: ErrNoResponder when no
// node serves it, a *RemoteError when the handler failed. ctx bounds the wait.
func (b *Bus) Request(ctx context.Context, topic string, data []byte) ([]byte, error) {
	nc := b.nc.Load()
	if nc == nil {
		return nil, ErrNotConnected
	}
	m := &nats.Msg{Subject: b.requestSubject(topic), Data: data, Header: nats.Header{}}
	m.Header.Set(hdrNode, b.node)
	r, err := nc.RequestMsgWithContext(ctx, m)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, ErrNoResponder
	case err != nil:
		return nil, fmt.Errorf("cluster: request %s: %w", topic, err)
	}
	if msg := r.Header.Get(hdrError); msg != "" {
		return nil, &RemoteError{Kind: r.Header.Get(hdrErrorKind), Msg: msg}
	}
	return r.Data, nil
}
