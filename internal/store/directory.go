package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ringside/ringside/internal/crm"
)

// The tables of the built-in CRM directory (internal/crm/builtin).

// storedPhone keeps a raw number as bytes: JSON carries []byte as base64, so nothing
// typed into a CRM field is lost, valid UTF-8 or not.
type storedPhone struct {
	Field string `json:"f"`
	Raw   []byte `json:"r"`
}

func encodePhones(ps []crm.Phone) ([]byte, error) {
	sp := make([]storedPhone, len(ps))
	for i, p := range ps {
		sp[i] = storedPhone{Field: p.Field, Raw: []byte(p.Raw)}
	}
	return json.Marshal(sp)
}

func decodePhones(b []byte) ([]crm.Phone, error) {
	var sp []storedPhone
	if err := json.Unmarshal(b, &sp); err != nil {
		return nil, err
	}
	if len(sp) == 0 {
		return nil, nil
	}
	ps := make([]crm.Phone, len(sp))
	for i, p := range sp {
		ps[i] = crm.Phone{Field: p.Field, Raw: string(p.Raw)}
	}
	return ps, nil
}

const recordColumns = `id, entity, name, first_name, last_name, company, email, country, account_id, phones, seq`

func scanRecord(sc interface{ Scan(...any) error }) (crm.Record, int64, error) {
	var r crm.Record
	var entity string
	var name, first, last, company, email, phones []byte
	var seq int64
	if err := sc.Scan(&r.ID, &entity, &name, &first, &last, &company, &email, &r.Country, &r.AccountID, &phones, &seq); err != nil {
		return crm.Record{}, 0, err
	}
	r.Entity = crm.Entity(entity)
	r.Name, r.FirstName, r.LastName, r.Company, r.Email = string(name), string(first), string(last), string(company), string(email)
	ps, err := decodePhones(phones)
	if err != nil {
		return crm.Record{}, 0, fmt.Errorf("record %s phones: %w", r.ID, err)
	}
	r.Phones = ps
	return r, seq, nil
}

// recordBatch is how many records one INSERT carries (12 parameters each).
const recordBatch = 200

// PutRecords inserts or replaces directory records by ID, all in one transaction (a
// file import is all or nothing). Each gets a new change sequence number, so that
// every process polling RecordsSince sees it. It returns the last sequence number.
func (s *Store) PutRecords(ctx context.Context, recs []crm.Record) (int64, error) {
	for _, r := range recs {
		if r.ID == "" || !r.Entity.Valid() {
			return 0, fmt.Errorf("store: put records: record %q/%q needs an id and a valid entity", r.Entity, r.ID)
		}
	}
	// One statement may not update a row twice (PostgreSQL): the last copy of an ID wins.
	last := map[string]int{}
	for i, r := range recs {
		last[r.ID] = i
	}
	if len(last) < len(recs) {
		uniq := make([]crm.Record, 0, len(last))
		for i, r := range recs {
			if last[r.ID] == i {
				uniq = append(uniq, r)
			}
		}
		recs = uniq
	}
	if len(recs) == 0 {
		return s.RecordsSeq(ctx)
	}
	now := ts(s.now())
	var seqEnd int64
	err := s.inTx(ctx, func(t tx) error {
		// Taking the counter row first serialises writers, so sequence numbers become
		// visible in the order they were handed out.
		if err := t.queryRow(ctx, `UPDATE counters SET value = value + ? WHERE name = 'dir_records' RETURNING value`, len(recs)).Scan(&seqEnd); err != nil {
			return fmt.Errorf("change sequence: %w", err)
		}
		seq := seqEnd - int64(len(recs))
		for c := recs; len(c) > 0; {
			b := c[:min(len(c), recordBatch)]
			c = c[len(b):]
			var q strings.Builder
			q.WriteString(`INSERT INTO dir_records (id, entity, name, first_name, last_name, company, email, country, account_id, phones, seq, created_at, updated_at) VALUES `)
			args := make([]any, 0, 13*len(b))
			for i, r := range b {
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
				phones, err := encodePhones(r.Phones)
				if err != nil {
					return err
				}
				seq++
				args = append(args, r.ID, string(r.Entity), []byte(r.Name), []byte(r.FirstName), []byte(r.LastName),
					[]byte(r.Company), []byte(r.Email), r.Country, r.AccountID, phones, seq, now, now)
			}
			q.WriteString(` ON CONFLICT (id) DO UPDATE SET entity = excluded.entity, name = excluded.name, first_name = excluded.first_name,
				last_name = excluded.last_name, company = excluded.company, email = excluded.email, country = excluded.country,
				account_id = excluded.account_id, phones = excluded.phones, seq = excluded.seq, updated_at = excluded.updated_at`)
			if _, err := t.exec(ctx, q.String(), args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: put records: %w", err)
	}
	return seqEnd, nil
}

// RecordsSeq returns the directory's change sequence number: it grows with every
// record written, by any process.
func (s *Store) RecordsSeq(ctx context.Context) (int64, error) {
	var v int64
	if err := s.queryRow(ctx, `SELECT value FROM counters WHERE name = 'dir_records'`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: records seq: %w", err)
	}
	return v, nil
}

// recordPage is how many records one query of RecordsSince reads.
const recordPage = 5000

// RecordsSince calls fn, in sequence order, for every record written after sequence
// number after (0 = all records), with the record's sequence number. It reads in pages,
// and returns the last sequence number seen (after, when nothing changed).
func (s *Store) RecordsSince(ctx context.Context, after int64, fn func(r crm.Record, seq int64) error) (int64, error) {
	for {
		page, err := s.recordPage(ctx, after)
		if err != nil {
			return after, fmt.Errorf("store: records since %d: %w", after, err)
		}
		for _, p := range page {
			if err := fn(p.rec, p.seq); err != nil {
				return after, err
			}
			after = p.seq
		}
		if len(page) < recordPage {
			return after, nil
		}
	}
}

type seqRecord struct {
	rec crm.Record
	seq int64
}

func (s *Store) recordPage(ctx context.Context, after int64) ([]seqRecord, error) {
	rows, err := s.query(ctx, `SELECT `+recordColumns+` FROM dir_records WHERE seq > ? ORDER BY seq LIMIT ?`, after, recordPage)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var page []seqRecord
	for rows.Next() {
		r, seq, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		page = append(page, seqRecord{r, seq})
	}
	return page, rows.Err()
}

// GetRecord returns one directory record, or an error wrapping ErrNotFound.
func (s *Store) GetRecord(ctx context.Context, ref crm.Ref) (crm.Record, error) {
	r, _, err := scanRecord(s.queryRow(ctx, `SELECT `+recordColumns+` FROM dir_records WHERE id = ? AND entity = ?`, ref.ID, string(ref.Entity)))
	if errors.Is(err, sql.ErrNoRows) {
		return crm.Record{}, fmt.Errorf("store: record %s/%s: %w", ref.Entity, ref.ID, ErrNotFound)
	}
	if err != nil {
		return crm.Record{}, fmt.Errorf("store: record %s/%s: %w", ref.Entity, ref.ID, err)
	}
	return r, nil
}

// PutActivity inserts or updates the phone-call activity with key a.Key.
func (s *Store) PutActivity(ctx context.Context, a crm.Activity) error {
	if a.Key == "" {
		return fmt.Errorf("store: put activity: empty key")
	}
	data, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("store: put activity %s: %w", a.Key, err)
	}
	var regEntity, regID string
	if a.Regarding != nil {
		regEntity, regID = string(a.Regarding.Entity), a.Regarding.ID
	}
	now := ts(s.now())
	_, err = s.exec(ctx, `INSERT INTO dir_activities (key, call_id, regarding_entity, regarding_id, data, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET call_id = excluded.call_id, regarding_entity = excluded.regarding_entity,
			regarding_id = excluded.regarding_id, data = excluded.data, updated_at = excluded.updated_at`,
		a.Key, a.CallID, regEntity, regID, data, now, now)
	if err != nil {
		return fmt.Errorf("store: put activity %s: %w", a.Key, err)
	}
	return nil
}

// Activities returns the activities of call callID, or those regarding a record (when
// callID is ""), oldest first.
func (s *Store) Activities(ctx context.Context, callID string, regarding *crm.Ref) ([]crm.Activity, error) {
	q, args := `SELECT data, created_at FROM dir_activities WHERE call_id = ?`, []any{callID}
	if callID == "" {
		if regarding == nil {
			return nil, fmt.Errorf("store: activities: need a call id or a record")
		}
		q, args = `SELECT data, created_at FROM dir_activities WHERE regarding_entity = ? AND regarding_id = ?`, []any{string(regarding.Entity), regarding.ID}
	}
	rows, err := s.query(ctx, q+` ORDER BY created_at, key`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: activities: %w", err)
	}
	defer rows.Close()
	out := []crm.Activity{}
	for rows.Next() {
		var data []byte
		var created int64
		if err := rows.Scan(&data, &created); err != nil {
			return nil, fmt.Errorf("store: activities: %w", err)
		}
		var a crm.Activity
		if err := json.Unmarshal(data, &a); err != nil {
			return nil, fmt.Errorf("store: activities: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
