package dynamics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/store"
)

// State keys in the store scope.
const (
	stateFingerprint = "fingerprint"
	stateDeltaPrefix = "delta/" // + table logical name
)

// Run loads the persisted index, then brings it up to date every sync_interval until ctx
// ends. Sync failures are logged and retried at the next tick; Run returns nil when ctx
// is done.
func (d *Directory) Run(ctx context.Context) error {
	if err := d.Load(ctx); err != nil && ctx.Err() == nil {
		d.log.Warn("load phone index", "err", err)
	}
	t := time.NewTicker(d.cfg.SyncInterval)
	defer t.Stop()
	for {
		if err := d.Sync(ctx, false, nil); err != nil && ctx.Err() == nil {
			d.log.Warn("crm sync failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Load fills the in-memory index from the store (once). When every table's delta link
// was persisted, lookups are then answered locally without waiting for a sync.
func (d *Directory) Load(ctx context.Context) error {
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	return d.load(ctx)
}

func (d *Directory) load(ctx context.Context) error {
	if d.loaded {
		return nil
	}
	fp, err := d.state(ctx, stateFingerprint)
	if err != nil {
		return err
	}
	if fp != d.fp {
		// Nothing persisted yet, or for other tables/columns/region: start afresh.
		d.loaded = true
		return nil
	}
	n := 0
	err = d.st.LoadIndexRows(ctx, d.scope, func(r IndexRow) error {
		rw, err := decodeRow(r.Key, r.Data)
		if err != nil {
			return err
		}
		d.putEntries(rw, rw.loadedEntries())
		n++
		return nil
	})
	if err != nil {
		return fmt.Errorf("dynamics: load phone index: %w", err)
	}
	d.loaded = true
	ready := true
	for _, t := range d.cfg.tables {
		link, err := d.state(ctx, stateDeltaPrefix+string(t.entity))
		if err != nil {
			return err
		}
		ready = ready && link != ""
	}
	d.ready.Store(ready)
	d.log.Info("phone index loaded", "records", n, "complete", ready)
	return nil
}

func (d *Directory) state(ctx context.Context, key string) (string, error) {
	b, err := d.st.State(ctx, d.scope, key)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", nil
		}
		return "", fmt.Errorf("dynamics: read sync state %s: %w", key, err)
	}
	return string(b), nil
}

func (d *Directory) setState(ctx context.Context, key, v string) error {
	if err := d.st.SetState(ctx, d.scope, key, []byte(v)); err != nil {
		return fmt.Errorf("dynamics: save sync state %s: %w", key, err)
	}
	return nil
}

// Sync brings the local phone index up to date once: an initial paged sync for tables
// never synced (or all of them when full is set, which rebuilds the index), and the
// change-tracking delta for the others. progress, when not nil, is called after every
// page with the records read so far and the total when known (else 0).
func (d *Directory) Sync(ctx context.Context, full bool, progress func(done, total int)) (err error) {
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	d.setStatus(func(s *crm.SyncStatus) {
		*s = crm.SyncStatus{Running: true, Started: d.opts.now(), LastError: s.LastError, LastErrorAt: s.LastErrorAt}
	})
	defer func() {
		d.setStatus(func(s *crm.SyncStatus) {
			s.Running, s.Finished = false, d.opts.now()
			if err != nil {
				s.LastError, s.LastErrorAt = err.Error(), s.Finished
			}
		})
	}()
	report := func(done, total int) {
		d.setStatus(func(s *crm.SyncStatus) { s.Done, s.Total = done, total })
		if progress != nil {
			progress(done, total)
		}
	}
	if err := d.load(ctx); err != nil {
		return err
	}
	fp, err := d.state(ctx, stateFingerprint)
	if err != nil {
		return err
	}
	if fp != d.fp {
		if err := d.st.ClearIndex(ctx, d.scope); err != nil {
			return fmt.Errorf("dynamics: clear phone index: %w", err)
		}
		for _, t := range d.cfg.tables {
			if err := d.setState(ctx, stateDeltaPrefix+string(t.entity), ""); err != nil {
				return err
			}
		}
		if err := d.setState(ctx, stateFingerprint, d.fp); err != nil {
			return err
		}
		full = true
	}
	p := &progressCounter{fn: report}
	var errs []error
	for _, t := range d.cfg.tables {
		link := ""
		if !full {
			if link, err = d.state(ctx, stateDeltaPrefix+string(t.entity)); err != nil {
				return err
			}
		}
		if link != "" {
			err := d.delta(ctx, t, link)
			var e *Error
			if errors.As(err, &e) && e.Status != http.StatusForbidden {
				// Most likely an expired delta token: only a full sync recovers.
				d.log.Warn("delta sync refused, resyncing table", "table", t.entity, "err", err)
				link = ""
			} else if err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if link == "" {
			if err := d.initial(ctx, t, p); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) == 0 {
		d.ready.Store(true)
	}
	return errors.Join(errs...)
}

type progressCounter struct {
	fn    func(done, total int)
	done  int
	total int
}

func (p *progressCounter) add(n int) {
	p.done += n
	if p.fn != nil {
		p.fn(p.done, p.total)
	}
}

// page is one page of a collection or delta reply.
type page struct {
	Value     []map[string]any `json:"value"`
	NextLink  string           `json:"@odata.nextLink"`
	DeltaLink string           `json:"@odata.deltaLink"`
}

func (d *Directory) prefer() []string {
	return []string{"odata.track-changes", "odata.maxpagesize=" + strconv.Itoa(d.cfg.PageSize), annotations}
}

// initial reads every row of t with change tracking, replaces t's part of the index, and
// stores the delta link that ends the last page.
func (d *Directory) initial(ctx context.Context, t table, p *progressCounter) error {
	if total, err := d.count(ctx, t); err == nil {
		p.total += total
	}
	// Only what was indexed before this sync may be dropped at its end: a record created
	// meanwhile (Create) is newer than the snapshot and comes with the next delta.
	prefix := string(t.entity) + "/"
	var before []string
	d.recMu.RLock()
	for k := range d.recs {
		if strings.HasPrefix(k, prefix) {
			before = append(before, k)
		}
	}
	d.recMu.RUnlock()
	seen := map[string]bool{}
	u := d.cfg.api + t.set + "?$select=" + t.selectList()
	op := "sync " + t.set
	for {
		var pg page
		if err := d.c.getJSON(ctx, op, u, d.prefer(), &pg); err != nil {
			return err
		}
		var puts []IndexRow
		var dels []string
		rows := make([]*row, 0, len(pg.Value))
		for _, m := range pg.Value {
			if rw := rowFromJSON(t, m); rw != nil {
				rows = append(rows, rw)
			}
		}
		for i, es := range d.parseAll(rows) {
			rw := rows[i]
			if d.putEntries(rw, es) {
				seen[rw.key()] = true
				puts = append(puts, IndexRow{Key: rw.key(), Data: encodeRow(rw)})
			} else {
				dels = append(dels, rw.key())
			}
		}
		if err := d.persist(ctx, puts, dels); err != nil {
			return err
		}
		p.add(len(pg.Value))
		switch {
		case pg.NextLink != "":
			u = pg.NextLink
			continue
		case pg.DeltaLink == "":
			return fmt.Errorf("dynamics: %s: no delta link in the reply: enable change tracking on the %s table (Power Apps > Tables > %s > Properties > Advanced options > Track changes)", op, t.entity, t.entity)
		}
		// Drop what the CRM no longer has.
		var gone []string
		for _, k := range before {
			if !seen[k] && d.remove(k) {
				gone = append(gone, k)
			}
		}
		if err := d.persist(ctx, nil, gone); err != nil {
			return err
		}
		return d.setState(ctx, stateDeltaPrefix+string(t.entity), pg.DeltaLink)
	}
}

// count asks for t's record count (Dataverse caps $count at 5000; used for progress only).
func (d *Directory) count(ctx context.Context, t table) (int, error) {
	u := d.cfg.api + "RetrieveTotalRecordCount(EntityNames=" + encodeURIComponent(`["`+string(t.entity)+`"]`) + ")"
	var reply struct {
		Counts struct {
			Keys   []string `json:"Keys"`
			Values []int    `json:"Values"`
		} `json:"EntityRecordCountCollection"`
	}
	if err := d.c.getJSON(ctx, "count "+t.set, u, nil, &reply); err != nil {
		return 0, err
	}
	for i, k := range reply.Counts.Keys {
		if k == string(t.entity) && i < len(reply.Counts.Values) {
			return reply.Counts.Values[i], nil
		}
	}
	return 0, nil
}

// delta applies the changes since link (new and changed rows, then deletions) and stores
// the next delta link.
func (d *Directory) delta(ctx context.Context, t table, link string) error {
	op := "sync changes of " + t.set
	u := link
	for {
		var pg page
		if err := d.c.getJSON(ctx, op, u, d.prefer(), &pg); err != nil {
			return err
		}
		var puts []IndexRow
		var dels []string
		for _, m := range pg.Value {
			if isDeleted(m) {
				id, _ := m["id"].(string)
				key := string(t.entity) + "/" + strings.ToLower(id)
				if id != "" && d.remove(key) {
					dels = append(dels, key)
				}
				continue
			}
			rw := rowFromJSON(t, m)
			if rw == nil {
				continue
			}
			if d.put(rw) {
				puts = append(puts, IndexRow{Key: rw.key(), Data: encodeRow(rw)})
			} else {
				dels = append(dels, rw.key())
			}
		}
		if err := d.persist(ctx, puts, dels); err != nil {
			return err
		}
		switch {
		case pg.NextLink != "":
			u = pg.NextLink
		case pg.DeltaLink != "":
			if len(pg.Value) > 0 {
				d.log.Debug("crm changes applied", "table", t.entity, "rows", len(pg.Value))
			}
			return d.setState(ctx, stateDeltaPrefix+string(t.entity), pg.DeltaLink)
		default:
			return fmt.Errorf("dynamics: %s: no delta link in the reply", op)
		}
	}
}

func isDeleted(m map[string]any) bool {
	if c, _ := m["@odata.context"].(string); strings.HasSuffix(c, "$deletedEntity") {
		return true
	}
	r, _ := m["reason"].(string)
	return r == "deleted"
}

func (d *Directory) persist(ctx context.Context, puts []IndexRow, dels []string) error {
	if len(puts) > 0 {
		if err := d.st.PutIndexRows(ctx, d.scope, puts); err != nil {
			return fmt.Errorf("dynamics: save phone index: %w", err)
		}
	}
	if len(dels) > 0 {
		if err := d.st.DeleteIndexRows(ctx, d.scope, dels); err != nil {
			return fmt.Errorf("dynamics: save phone index: %w", err)
		}
	}
	return nil
}
