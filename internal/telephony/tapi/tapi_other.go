//go:build !windows

package tapi

import (
	"context"

	"github.com/ringside/ringside/internal/call"
)

// session is the open TAPI session; outside Windows there is none.
type session struct{}

func (s *Source) session(ctx context.Context, emit func(call.Signal)) error { return ErrUnsupported }

func (*session) makeCall(ctx context.Context, number string) error { return ErrUnsupported }
func (*session) answer(ctx context.Context, callID string) error   { return ErrUnsupported }
func (*session) drop(ctx context.Context, callID string) error     { return ErrUnsupported }

// ListLines lists the TAPI line devices (`ringside agent --list-lines`).
func ListLines(ctx context.Context, appName string) ([]Line, error) { return nil, ErrUnsupported }
