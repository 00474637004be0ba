package dynamics

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/phone"
)

// quote returns s as an OData string literal: single quotes doubled, then URL-encoded
// (spaces as %20, + as %2B), ready to be placed in a query string.
func quote(s string) string {
	return "%27" + encodeURIComponent(strings.ReplaceAll(s, "'", "''")) + "%27"
}

// variants returns the spellings a person likely typed for n: E.164, international,
// national (with and without spaces), and the 00 international prefix.
func variants(n phone.Number) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if s != "" && len(s) <= 50 && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if n.E164 == "" {
		add(n.Digits)
		return out
	}
	add(n.E164)
	pn, err := phonenumbers.Parse(n.E164, "")
	if err != nil {
		return out
	}
	intl := phonenumbers.Format(pn, phonenumbers.INTERNATIONAL)
	natl := phonenumbers.Format(pn, phonenumbers.NATIONAL)
	add(intl)
	add(natl)
	add(digitsOnly(natl))
	add("00" + strings.TrimPrefix(n.E164, "+"))
	add("00" + strings.TrimPrefix(intl, "+"))
	return out
}

func digitsOnly(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// liveFilter is the $filter (already URL-encoded) matching any of vals in t's columns.
func liveFilter(t table, vals []string) string {
	var parts []string
	for _, c := range t.columns {
		for _, v := range vals {
			parts = append(parts, c+"%20eq%20"+quote(v))
		}
	}
	return strings.Join(parts, "%20or%20")
}

// lookupLive asks the CRM for the likely spellings of n in every configured table, in
// one $batch request, and keeps the rows whose numbers really match n.
func (d *Directory) lookupLive(ctx context.Context, n phone.Number) ([]crm.Match, error) {
	vals := variants(n)
	if len(vals) == 0 {
		return nil, nil
	}
	rels := make([]string, len(d.cfg.tables))
	for i, t := range d.cfg.tables {
		rels[i] = t.set + "?$select=" + t.selectList() + "&$filter=" + liveFilter(t, vals) + "&$top=20"
	}
	pages, err := d.batchGet(ctx, "look up number", rels)
	if err != nil {
		return nil, err
	}
	var out []crm.Match
	var errs []error
	for i, t := range d.cfg.tables {
		if errors.Is(pages[i].err, crm.ErrNotFound) {
			// The table does not exist here (leads without Dynamics 365 Sales); crm check says so.
			continue
		}
		if pages[i].err != nil {
			errs = append(errs, pages[i].err)
			continue
		}
		for _, m := range pages[i].value {
			rw := rowFromJSON(t, m)
			if rw == nil {
				continue
			}
			for _, p := range rw.Phones {
				s := d.parser.ParseStored(p[1], "")
				if how := phone.Match(n, s, d.parser.Config().MinSuffixDigits); how != phone.NoMatch {
					out = append(out, crm.Match{Record: d.record(rw), Number: p[1], Field: p[0], How: how})
					break
				}
			}
		}
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

type batchPage struct {
	value []map[string]any
	err   error
}

// batchGet sends the GET requests rels (relative to the API root) as one $batch request
// and returns their replies in order.
func (d *Directory) batchGet(ctx context.Context, op string, rels []string) ([]batchPage, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	boundary := "batch_" + mw.Boundary()
	if err := mw.SetBoundary(boundary); err != nil {
		return nil, fmt.Errorf("dynamics: %s: %w", op, err)
	}
	for _, rel := range rels {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", "application/http")
		h.Set("Content-Transfer-Encoding", "binary")
		pw, err := mw.CreatePart(h)
		if err != nil {
			return nil, fmt.Errorf("dynamics: %s: %w", op, err)
		}
		fmt.Fprintf(pw, "GET %s%s HTTP/1.1\r\nAccept: application/json\r\nPrefer: %s\r\n\r\n", d.cfg.api, rel, annotations)
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("dynamics: %s: %w", op, err)
	}
	resp, err := d.c.do(ctx, request{
		op: op, method: http.MethodPost, url: d.cfg.api + "$batch",
		raw: body.Bytes(), ctype: "multipart/mixed; boundary=" + boundary,
	})
	if err != nil {
		return nil, err
	}
	mt, params, err := mime.ParseMediaType(resp.header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		return nil, fmt.Errorf("dynamics: %s: batch reply is %q, not multipart", op, resp.header.Get("Content-Type"))
	}
	mr := multipart.NewReader(bytes.NewReader(resp.body), params["boundary"])
	out := make([]batchPage, 0, len(rels))
	for len(out) < len(rels) {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("dynamics: %s: read batch reply: %w", op, err)
		}
		hr, err := http.ReadResponse(bufio.NewReader(part), nil)
		if err != nil {
			return nil, fmt.Errorf("dynamics: %s: read batch reply: %w", op, err)
		}
		b, err := io.ReadAll(hr.Body)
		hr.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("dynamics: %s: read batch reply: %w", op, err)
		}
		var bp batchPage
		if hr.StatusCode/100 != 2 {
			bp.err = classify(op, &response{status: hr.StatusCode, header: hr.Header, body: b}, d.c.now)
		} else {
			var pg page
			if err := json.Unmarshal(b, &pg); err != nil {
				bp.err = fmt.Errorf("dynamics: %s: decode reply: %w", op, err)
			}
			bp.value = pg.Value
		}
		out = append(out, bp)
	}
	if len(out) != len(rels) {
		return nil, fmt.Errorf("dynamics: %s: batch reply has %d parts for %d requests", op, len(out), len(rels))
	}
	return out, nil
}
