package esl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/ringside/ringside/internal/call"
	"slices"
	"time"
)

// chanRow is one row of "show channels as json".
type chanRow struct {
	UUID         string `json:"uuid"`
	Direction    string `json:"direction"`
	CreatedEpoch string `json:"created_epoch"`
	Name         string `json:"name"`
	CIDName      string `json:"cid_name"`
	CIDNum       string `json:"cid_num"`
	Dest         string `json:"dest"`
	InitialDest  string `json:"initial_dest"`
	Callstate    string `json:"callstate"`
	CallUUID     string `json:"call_uuid"`
}

// callRow is one row of "show calls as json": a bridged pair.
type callRow struct {
	UUID             string `json:"uuid"`
	BUUID            string `json:"b_uuid"`
	CallCreatedEpoch string `json:"call_created_epoch"`
}

type rows[T any] struct {
	RowCount int `json:"row_count"`
	Rows     []T `json:"rows"`
}

func parseRows[T any](b []byte, what string) ([]T, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		if len(b) > 80 {
			b = b[:80]
		}
		return nil, fmt.Errorf("show %s: FreeSWITCH says %q", what, b)
	}
	var r rows[T]
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("show %s: %w", what, err)
	}
	return r.Rows, nil
}

func epoch(s string) time.Time {
	n, ok := atoi([]byte(s))
	if !ok || n == 0 {
		return time.Time{}
	}
	return time.Unix(int64(n), 0).UTC()
}

// resyncFrom brings the correlator in line with what FreeSWITCH has now ("show channels"
// and "show calls" replies): legs that are gone ended while we were away, channels we did
// not know are calls in progress. Every signal it emits is marked Resync.
func (co *correlator) resyncFrom(channelsJSON, callsJSON []byte) error {
	chans, err := parseRows[chanRow](channelsJSON, "channels")
	if err != nil {
		return err
	}
	bridged, err := parseRows[callRow](callsJSON, "calls")
	if err != nil {
		return err
	}
	co.resync = true
	defer func() { co.resync = false }()

	present := map[string]*chanRow{}
	for i := range chans {
		if r := &chans[i]; r.UUID != "" && r.Callstate != "HANGUP" {
			present[r.UUID] = r
		}
	}
	answeredAt := map[string]time.Time{}
	partner := map[string]string{} // B leg → A leg of a bridged pair
	for _, r := range bridged {
		t := epoch(r.CallCreatedEpoch)
		answeredAt[r.UUID], answeredAt[r.BUUID] = t, t
		if r.BUUID != "" && r.BUUID != r.UUID {
			partner[r.BUUID] = r.UUID
		}
	}

	// First what is there now: channels we did not know are calls in progress, and
	// known phones may have answered meanwhile. A legs first, so B legs find their call.
	order := make([]*chanRow, 0, len(chans))
	for i := range chans {
		if r := &chans[i]; present[r.UUID] == r {
			order = append(order, r)
		}
	}
	parent := func(r *chanRow) string {
		if p := partner[r.UUID]; p != "" {
			return p
		}
		if r.CallUUID != r.UUID {
			return r.CallUUID
		}
		return ""
	}
	isA := func(r *chanRow) bool { return parent(r) == "" }
	slices.SortStableFunc(order, func(x, y *chanRow) int {
		switch {
		case isA(x) == isA(y):
			return 0
		case isA(x):
			return -1
		}
		return 1
	})
	var ev event
	for _, r := range order {
		talking := r.Callstate == "ACTIVE" || r.Callstate == "HELD" || r.Callstate == "UNHELD"
		l := co.legs[r.UUID]
		if l == nil {
			ev.reset(0)
			ev.f[fEventName] = []byte("CHANNEL_CREATE")
			ev.f[fUniqueID] = []byte(r.UUID)
			ev.f[fChannelCallUUID] = []byte(r.CallUUID)
			if p := parent(r); p != "" {
				ev.f[fOtherLeg] = []byte(p)
			}
			ev.f[fCallDirection] = []byte(r.Direction)
			ev.f[fChannelName] = []byte(r.Name)
			ev.f[fCallerNumber] = []byte(r.CIDNum)
			ev.f[fCallerName] = []byte(r.CIDName)
			dest := r.Dest
			if isA(r) && r.InitialDest != "" {
				dest = r.InitialDest // the DID, before any dialplan transfer
			}
			ev.f[fDestination] = []byte(dest)
			if l = co.create(&ev, epoch(r.CreatedEpoch), talking); l == nil {
				continue
			}
		}
		if talking && !l.answered {
			co.answer(l, answeredAt[r.UUID])
		}
	}
	// Then the legs that are gone: they ended while we were disconnected. (After the
	// answers, so that a ring group's other phones end as answered elsewhere.)
	ids := make([]string, 0, len(co.calls))
	for id := range co.calls {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		c := co.calls[id]
		if c == nil {
			continue
		}
		var gone []*leg
		for _, l := range c.legs {
			if !l.ended && present[l.uuid] == nil {
				gone = append(gone, l)
			}
		}
		// B legs first: the A leg's end closes the call.
		slices.SortStableFunc(gone, func(x, y *leg) int {
			switch {
			case x.a == y.a:
				return 0
			case y.a:
				return -1
			}
			return 1
		})
		for _, l := range gone {
			if l.a {
				c.aHangingUp = true
			}
			co.endLeg(l, "", time.Time{})
		}
	}
	// What FreeSWITCH has now: calls Ringside holds beyond these (restored after a
	// restart, taken over from another node) ended unseen.
	live := make([]string, 0, len(co.calls))
	for id := range co.calls {
		live = append(live, id)
	}
	slices.Sort(live)
	co.emit(call.Signal{Source: co.source, Kind: call.SigResynced, Live: live, Resync: true})
	return nil
}
