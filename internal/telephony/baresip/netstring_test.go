package baresip

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/call"
)

func TestNetstringReader(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		max     int
		want    []string
		wantErr error // nil: the stream ends with io.EOF after want
		anyErr  bool
	}{
		{name: "two", in: "3:abc,0:,", want: []string{"abc", ""}},
		{name: "json with spaces", in: `11:{"a": true},`, want: []string{`{"a": true}`}},
		{name: "empty stream", in: ""},
		{name: "cut in the length", in: "12", wantErr: io.ErrUnexpectedEOF},
		{name: "cut in the payload", in: "5:abc", wantErr: io.ErrUnexpectedEOF},
		{name: "cut before the comma", in: "3:abc", wantErr: io.ErrUnexpectedEOF},
		{name: "missing comma", in: "3:abcd", anyErr: true},
		{name: "letter in length", in: "1x:a,", anyErr: true},
		{name: "no length", in: ":a,", anyErr: true},
		{name: "leading zero", in: "03:abc,", anyErr: true},
		{name: "negative", in: "-1:,", anyErr: true},
		{name: "over the limit", in: "2000:", max: 1024, wantErr: ErrTooLarge},
		{name: "huge length", in: "99999999999999999999:", wantErr: ErrTooLarge},
		{name: "at the limit", in: "4:abcd,", max: 4, want: []string{"abcd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewNetstringReader(strings.NewReader(tt.in), tt.max)
			var got []string
			var err error
			for {
				var b []byte
				if b, err = r.Next(); err != nil {
					break
				}
				got = append(got, string(b))
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			switch {
			case tt.anyErr:
				if err == nil || errors.Is(err, io.EOF) {
					t.Errorf("err = %v, want a framing error", err)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
			default:
				if !errors.Is(err, io.EOF) {
					t.Errorf("err = %v, want io.EOF", err)
				}
			}
		})
	}
}

func TestAppendNetstring(t *testing.T) {
	b := AppendNetstring(nil, []byte(`{"command":"dial"}`))
	if string(b) != `18:{"command":"dial"},` {
		t.Errorf("got %q", b)
	}
}

// FuzzNetstring: the reader never panics, never returns more than the limit, and reads
// back what AppendNetstring wrote.
func FuzzNetstring(f *testing.F) {
	f.Add([]byte(`3:abc,`), []byte("x"))
	f.Add([]byte(`229:{"event":true},`), []byte(`{"event":true,"type":"CALL_INCOMING"}`))
	f.Add([]byte("99999999999:"), []byte(""))
	f.Fuzz(func(t *testing.T, stream, payload []byte) {
		r := NewNetstringReader(bytes.NewReader(stream), 1024)
		for i := 0; i < 1000; i++ {
			b, err := r.Next()
			if err != nil {
				break
			}
			if len(b) > 1024 {
				t.Fatalf("payload of %d bytes over the limit", len(b))
			}
			if m, err := ParseMessage(b); err == nil {
				// The correlator must take anything that parses.
				c := newCorrelator(Config{Incoming: "inbound", Now: time.Now}, "f", func(call.Signal) {})
				c.handle(m)
			}
		}
		if len(payload) > 1024 {
			return
		}
		r = NewNetstringReader(bytes.NewReader(AppendNetstring(nil, payload)), 1024)
		got, err := r.Next()
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("round trip: %q, %v", got, err)
		}
	})
}
