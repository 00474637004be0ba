package dynamics

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ringside/ringside/internal/crm"
)

// maxSetsPerBatch is the most change sets one $batch carries (Dataverse allows 1,000
// operations; its guidance is to keep batches small, starting around 10, because a batch
// counts toward the execution-time limit as a whole).
const maxSetsPerBatch = 16

// committer sends change sets as they come, several in one $batch when they pile up:
// while maxBatchesInFlight $batch requests are under way, the change sets submitted
// meanwhile wait and then go together in the next one ("group commit"). Alone, a change
// set goes at once; under load (the outbox delivers many calls at the same time) one
// request carries many calls' writes. Each change set is still applied all or none, and one failing does not stop
// the others (Prefer: odata.continue-on-error).
type committer struct {
	mu       sync.Mutex
	queue    []*pendingSet
	inflight int // $batch requests under way
}

// maxBatchesInFlight is how many $batch requests go at once: more than one, so that a
// slow reply does not hold every write back, far fewer than Dataverse's 52 concurrent
// requests.
const maxBatchesInFlight = 4

type pendingSet struct {
	op   string
	reqs []request
	done chan error    // the change set's outcome
	lead chan struct{} // this submitter sends the next $batch
}

// queued says how many change sets wait (tests).
func (c *committer) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// changeset applies reqs all or none, in order, as one change set (a single request is
// sent as itself when nothing else waits). The error is the failing operation's,
// classified as do classifies replies.
func (d *Directory) changeset(ctx context.Context, op string, reqs ...request) error {
	p := &pendingSet{op: op, reqs: reqs, done: make(chan error, 1), lead: make(chan struct{}, 1)}
	if d.noGroupCommit {
		d.send(ctx, []*pendingSet{p})
		return <-p.done
	}
	b := &d.batches
	b.mu.Lock()
	b.queue = append(b.queue, p)
	if b.inflight < maxBatchesInFlight {
		b.inflight++
		p.lead <- struct{}{}
	}
	b.mu.Unlock()
	for {
		select {
		case err := <-p.done:
			b.release(p)
			return err
		case <-p.lead:
			b.mu.Lock()
			n := min(len(b.queue), maxSetsPerBatch)
			if n == 0 { // our own set went with another $batch: nothing to send
				b.handOn()
				b.mu.Unlock()
				continue
			}
			take := slices.Clone(b.queue[:n])
			b.queue = b.queue[n:]
			b.mu.Unlock()
			// The $batch carries others' writes: the submitter's cancellation must not
			// fail them (each request still has the configured timeout).
			d.send(context.WithoutCancel(ctx), take)
			b.mu.Lock()
			b.handOn()
			b.mu.Unlock()
		case <-ctx.Done():
			b.mu.Lock()
			if i := slices.Index(b.queue, p); i >= 0 {
				b.queue = slices.Delete(b.queue, i, i+1)
				select {
				case <-p.lead: // handed the lead as it gave up: pass it on
					b.handOn()
				default:
				}
				b.mu.Unlock()
				return ctx.Err()
			}
			b.mu.Unlock()
			// Already in a $batch under way: its outcome comes (bounded by the timeout).
			err := <-p.done
			b.release(p)
			return err
		}
	}
}

// release passes on a sending slot p was handed but will not use (p has its outcome;
// being out of the queue, it gets no more).
func (b *committer) release(p *pendingSet) {
	select {
	case <-p.lead:
		b.mu.Lock()
		b.handOn()
		b.mu.Unlock()
	default:
	}
}

// handOn gives a finished (or abandoned) sending slot to the first waiting change set,
// or frees it (b.mu held).
func (b *committer) handOn() {
	for _, w := range b.queue {
		select {
		case w.lead <- struct{}{}:
			return
		default: // already leading (its slot is taken): next
		}
	}
	b.inflight--
}

// send sends sets — one request alone, one change set, or several change sets in one
// $batch — and tells each its outcome.
func (d *Directory) send(ctx context.Context, sets []*pendingSet) {
	if len(sets) == 1 && len(sets[0].reqs) == 1 {
		_, err := d.c.do(ctx, sets[0].reqs[0])
		sets[0].done <- err
		return
	}
	op := sets[0].op
	if len(sets) > 1 {
		op = fmt.Sprintf("%s (with %d other calls' writes)", op, len(sets)-1)
	}
	fail := func(err error) {
		for _, p := range sets {
			p.done <- err
		}
	}
	body, boundary, err := batchBody(sets)
	if err != nil {
		fail(fmt.Errorf("dynamics: %s: %w", op, err))
		return
	}
	r := request{op: op, method: http.MethodPost, url: d.cfg.api + "$batch", raw: body, ctype: "multipart/mixed; boundary=" + boundary}
	if len(sets) > 1 {
		r.prefer = []string{"odata.continue-on-error"}
	}
	resp, err := d.c.do(ctx, r)
	if err != nil {
		fail(err)
		return
	}
	outs, err := batchOutcomes(resp, len(sets))
	if err != nil {
		// The CRM answered 2xx but we cannot tell which change set did what: retrying
		// is safe (every write is an idempotent upsert of a known id).
		fail(fmt.Errorf("dynamics: %s: %w: %w", op, crm.ErrUnavailable, err))
		return
	}
	for i, p := range sets {
		if outs[i] != nil {
			p.done <- classify(p.op, outs[i], d.c.now)
		} else {
			p.done <- nil
		}
	}
}

// batchBody writes sets as a $batch body, one change set each.
func batchBody(sets []*pendingSet) ([]byte, string, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	batch := "batch_" + mw.Boundary()
	if err := mw.SetBoundary(batch); err != nil {
		return nil, "", err
	}
	for _, p := range sets {
		var cs bytes.Buffer
		cw := multipart.NewWriter(&cs)
		if err := cw.SetBoundary("changeset_" + cw.Boundary()); err != nil {
			return nil, "", err
		}
		for i, r := range p.reqs {
			b, err := json.Marshal(r.body)
			if err != nil {
				return nil, "", fmt.Errorf("%s: encode body: %w", r.op, err)
			}
			h := textproto.MIMEHeader{}
			h.Set("Content-Type", "application/http")
			h.Set("Content-Transfer-Encoding", "binary")
			h.Set("Content-ID", strconv.Itoa(i+1))
			pw, err := cw.CreatePart(h)
			if err != nil {
				return nil, "", err
			}
			fmt.Fprintf(pw, "%s %s HTTP/1.1\r\nContent-Type: application/json; charset=utf-8\r\n", r.method, r.url)
			for k, v := range r.header {
				fmt.Fprintf(pw, "%s: %s\r\n", k, v)
			}
			fmt.Fprintf(pw, "\r\n%s\r\n", b)
		}
		if err := cw.Close(); err != nil {
			return nil, "", err
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", "multipart/mixed; boundary="+cw.Boundary())
		pw, err := mw.CreatePart(h)
		if err != nil {
			return nil, "", err
		}
		_, _ = pw.Write(cs.Bytes())
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return body.Bytes(), batch, nil
}

// batchOutcomes reads a 2xx $batch reply to n change sets: for each, nil when it was
// applied, or its failing operation's reply. A change set answers with a multipart part
// (its operations' replies) when applied, with one application/http part (the error)
// when not.
func batchOutcomes(resp *response, n int) ([]*response, error) {
	mt, params, err := mime.ParseMediaType(resp.header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		return nil, fmt.Errorf("batch reply is %q, not multipart", resp.header.Get("Content-Type"))
	}
	mr := multipart.NewReader(bytes.NewReader(resp.body), params["boundary"])
	var outs []*response
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read batch reply: %w", err)
		}
		b, err := io.ReadAll(part)
		if err != nil {
			return nil, fmt.Errorf("read batch reply: %w", err)
		}
		h := http.Header{}
		h.Set("Content-Type", part.Header.Get("Content-Type"))
		one := &response{status: resp.status, header: h, body: b}
		if pmt, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); strings.HasPrefix(pmt, "multipart/") {
			outs = append(outs, batchFailure(one)) // nil: applied
			continue
		}
		hr, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
		if err != nil {
			return nil, fmt.Errorf("read batch reply: %w", err)
		}
		rb, err := io.ReadAll(hr.Body)
		hr.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read batch reply: %w", err)
		}
		if hr.StatusCode < 300 {
			return nil, fmt.Errorf("batch reply part %d is neither a change set nor an error (%d)", len(outs)+1, hr.StatusCode)
		}
		outs = append(outs, &response{status: hr.StatusCode, header: hr.Header, body: rb})
	}
	if len(outs) != n {
		return nil, fmt.Errorf("batch reply has %d parts for %d change sets", len(outs), n)
	}
	return outs, nil
}
