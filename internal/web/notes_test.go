package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

type noteView struct {
	Author string    `json:"author"`
	At     time.Time `json:"at"`
	Text   string    `json:"text"`
}

type callView struct {
	Call struct {
		Legs []struct {
			Extension  string    `json:"extension"`
			AnsweredAt time.Time `json:"answered_at"`
		} `json:"legs"`
		EndedAt time.Time `json:"ended_at"`
	} `json:"call"`
	Notes []noteView `json:"notes"`
}

// Notes are entries with authors: a ring group member whose phone only rang may not
// write, the agents who talked each have their own entry, a transfer target sees the
// earlier entries, line breaks are kept, and the CRM activity carries every entry.
func TestNotesAreEntriesWithAuthors(t *testing.T) {
	ts := start(t)
	t0 := time.Now().Add(-10 * time.Minute)
	id := "notes-authors-1"
	ts.event(t, map[string]any{"event": "ringing", "call_id": id, "from": "+49 30 9876543", "extension": "200", "time": at(t0, 0)})
	ts.event(t, map[string]any{"event": "ringing", "call_id": id, "from": "+49 30 9876543", "extension": "201", "time": at(t0, 0)})
	ts.event(t, map[string]any{"event": "answered", "call_id": id, "extension": "200", "time": at(t0, 3*time.Second)})
	ts.event(t, map[string]any{"event": "transferred", "call_id": id, "extension": "200", "transfer_to": "202", "time": at(t0, 60*time.Second)})
	ts.event(t, map[string]any{"event": "answered", "call_id": id, "extension": "202", "time": at(t0, 65*time.Second)})
	ts.event(t, map[string]any{"event": "ended", "call_id": id, "time": at(t0, 120*time.Second)})
	id = cid(id) // the API knows the call by Ringside's id
	var cv callView
	eventually(t, "the journal to hold the transfer", func() bool {
		cv = callView{}
		if ts.get(t, "alice", "/api/v1/calls/"+id, &cv) != http.StatusOK {
			return false
		}
		answered := 0
		for _, l := range cv.Call.Legs {
			if !l.AnsweredAt.IsZero() {
				answered++
			}
		}
		return answered == 2 && !cv.Call.EndedAt.IsZero()
	})

	save := func(user, notes string) (int, string) {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"call_id": id, "notes": notes})
		code, body := ts.postBody(t, user, "/api/v1/activities", string(b))
		return code, body
	}
	// Bob's phone only rang.
	if code, body := save("bob", "I was not there"); code != http.StatusForbidden || !strings.Contains(body, "talk") {
		t.Errorf("bob's notes: %d %s, want 403 with a reason", code, body)
	}
	if code, body := save("alice", "Line one\nLine two\r\n\tindented"); code != http.StatusAccepted {
		t.Fatalf("alice's notes: %d %s", code, body)
	}
	// Carol took the call by transfer: she sees alice's entry, and adds hers.
	cv = callView{}
	ts.get(t, "carol", "/api/v1/calls/"+id, &cv)
	if len(cv.Notes) != 1 || cv.Notes[0].Author != "alice" || cv.Notes[0].Text != "Line one\nLine two\n\tindented" || cv.Notes[0].At.IsZero() {
		t.Fatalf("carol sees notes %+v, want alice's entry with its line breaks", cv.Notes)
	}
	if code, body := save("carol", "Sent the quote.\nCall back Monday."); code != http.StatusAccepted {
		t.Fatalf("carol's notes: %d %s", code, body)
	}
	// Alice edits her own entry; it keeps its place.
	if code, body := save("alice", "Line one\nLine two, edited"); code != http.StatusAccepted {
		t.Fatalf("alice's edit: %d %s", code, body)
	}
	cv = callView{}
	ts.get(t, "alice", "/api/v1/calls/"+id, &cv)
	if len(cv.Notes) != 2 || cv.Notes[0].Author != "alice" || cv.Notes[0].Text != "Line one\nLine two, edited" ||
		cv.Notes[1].Author != "carol" || cv.Notes[1].Text != "Sent the quote.\nCall back Monday." {
		t.Fatalf("notes after the edit: %+v", cv.Notes)
	}
	// The CRM activity carries both entries with their authors, line breaks intact.
	eventually(t, "one activity with both entries", func() bool {
		as, err := ts.dir.Activities(t.Context(), id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(as) > 1 {
			t.Fatalf("%d activities for one call", len(as))
		}
		return len(as) == 1 && strings.Contains(as[0].Notes, "alice") && strings.Contains(as[0].Notes, "Line one\nLine two, edited") &&
			strings.Contains(as[0].Notes, "carol") && strings.Contains(as[0].Notes, "Sent the quote.\nCall back Monday.") &&
			strings.Index(as[0].Notes, "alice") < strings.Index(as[0].Notes, "carol")
	})
	// Admins may write.
	if code, body := save("gina", "Checked by the team lead."); code != http.StatusAccepted {
		t.Errorf("admin's notes: %d %s", code, body)
	}
	// Dana never saw the call: it does not exist for her.
	if code, _ := save("dana", "x"); code != http.StatusNotFound {
		t.Errorf("dana's notes: %d, want 404", code)
	}
}

// postBody calls the API as user (agent token) with a JSON body and returns the status
// and the answer.
func (ts *testServer) postBody(t *testing.T, user, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "POST", ts.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+ts.tokens[user])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Notes saved the moment a call is answered (an API client, a fast agent) are accepted:
// the answer the phone system reported (202) counts at once, although the journal writes
// in batches a few milliseconds later.
func TestNotesRightAfterAnswering(t *testing.T) {
	ts := start(t)
	for i := range 5 {
		pbx := fmt.Sprintf("notes-at-once-%d", i)
		ts.event(t, map[string]any{"event": "ringing", "call_id": pbx, "from": "+49 30 9876543", "extension": "200"})
		id := cid(pbx) // the pop's call id
		ts.event(t, map[string]any{"event": "answered", "call_id": pbx, "extension": "200"})
		b, _ := json.Marshal(map[string]any{"call_id": id, "notes": "straight away"})
		if code, body := ts.postBody(t, "alice", "/api/v1/activities", string(b)); code != http.StatusAccepted {
			t.Errorf("call %d: notes right after answering: %d %s", i, code, body)
		}
		ts.event(t, map[string]any{"event": "ended", "call_id": pbx})
	}
}
