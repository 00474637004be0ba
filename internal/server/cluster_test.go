package server

import (
	"encoding/json"
	"testing"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/pipeline"
)

// isPop relies on Message encoding its type first and resync second.
func TestIsPop(t *testing.T) {
	enc := func(m pipeline.Message) []byte {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		msg  []byte
		want bool
	}{
		{"ringing", enc(pipeline.Message{Type: call.EvRinging}), true},
		{"dialing", enc(pipeline.Message{Type: call.EvDialing}), true},
		{"resync ringing", enc(pipeline.Message{Type: call.EvRinging, Resync: true}), false},
		{"answered", enc(pipeline.Message{Type: call.EvAnswered}), false},
		{"updated", enc(pipeline.Message{Type: pipeline.MsgUpdated}), false},
		{"hello", []byte(`{"type":"hello"}`), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := isPop(tc.msg); got != tc.want {
				t.Fatalf("isPop(%s) = %v", tc.msg, got)
			}
		})
	}
}
