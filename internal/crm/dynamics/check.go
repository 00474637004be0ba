package dynamics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ringside/ringside/internal/crm"
)

// A Finding is one result of Check, in words an administrator can act on.
type Finding struct {
	Check  string `json:"check"`  // what was checked, e.g. "read contact"
	OK     bool   `json:"ok"`     // nothing to fix
	Detail string `json:"detail"` // what is wrong and how to fix it (or what was found)
}

// Check signs in and checks what Findings checks, returning nil when all is well, else
// every problem found, in plain words (ringside crm check, config check --connect).
func (d *Directory) Check(ctx context.Context) error {
	var errs []error
	for _, f := range d.Findings(ctx) {
		if !f.OK {
			errs = append(errs, fmt.Errorf("dynamics: %s: %s", f.Check, f.Detail))
		}
	}
	return errors.Join(errs...)
}

// Findings signs in, checks the application user, and for each configured table that
// change tracking is on and one record can be read with the configured columns. It
// reports every check, passed or not, rather than stopping at the first problem.
func (d *Directory) Findings(ctx context.Context) []Finding {
	var fs []Finding
	if _, err := d.c.token(ctx, true); err != nil {
		return append(fs, Finding{Check: "sign in", Detail: err.Error()})
	}
	fs = append(fs, Finding{Check: "sign in", OK: true, Detail: "token issued by " + d.cfg.tokenURL})
	var who struct {
		UserID string `json:"UserId"`
	}
	if err := d.c.getJSON(ctx, "who am I", d.cfg.api+"WhoAmI", nil, &who); err != nil {
		detail := err.Error()
		var e *Error
		if errors.As(err, &e) && (e.Status == http.StatusForbidden || e.Status == http.StatusUnauthorized) || errors.Is(err, crm.ErrUnavailable) && strings.Contains(err.Error(), "401") {
			detail = fmt.Sprintf("the environment does not accept client_id %s: create an application user for it (Power Platform admin center > Environments > Settings > Users + permissions > Application users) and give it a security role; %v", d.cfg.ClientID, err)
		}
		return append(fs, Finding{Check: "application user", Detail: detail})
	}
	fs = append(fs, Finding{Check: "application user", OK: true, Detail: "systemuserid " + who.UserID})
	for _, t := range d.cfg.tables {
		fs = append(fs, d.checkTable(ctx, t)...)
	}
	return fs
}

func (d *Directory) checkTable(ctx context.Context, t table) []Finding {
	var fs []Finding
	var meta struct {
		ChangeTrackingEnabled bool `json:"ChangeTrackingEnabled"`
	}
	err := d.c.getJSON(ctx, "read "+string(t.entity)+" metadata", d.cfg.api+"EntityDefinitions(LogicalName='"+string(t.entity)+"')?$select=LogicalName,ChangeTrackingEnabled", nil, &meta)
	switch {
	case errors.Is(err, crm.ErrNotFound):
		hint := ""
		if t.entity == crm.Lead {
			hint = " (leads need Dynamics 365 Sales)"
		}
		return append(fs, Finding{Check: "table " + string(t.entity), Detail: fmt.Sprintf("the environment has no %s table%s: remove it from tables", t.entity, hint)})
	case err != nil:
		fs = append(fs, Finding{Check: "table " + string(t.entity), Detail: err.Error()})
	case !meta.ChangeTrackingEnabled:
		fs = append(fs, Finding{Check: "change tracking " + string(t.entity), Detail: fmt.Sprintf("change tracking is off for %s: turn on Power Apps > Tables > %s > Properties > Advanced options > Track changes", t.entity, t.entity)})
	default:
		fs = append(fs, Finding{Check: "change tracking " + string(t.entity), OK: true, Detail: "on"})
	}
	var pg page
	err = d.c.getJSON(ctx, "read "+t.set, d.cfg.api+t.set+"?$select="+t.selectList()+"&$top=1", nil, &pg)
	var e *Error
	switch {
	case errors.As(err, &e) && e.Status == http.StatusForbidden:
		fs = append(fs, Finding{Check: "read " + string(t.entity), Detail: fmt.Sprintf("the application user may not read %s: give its security role organisation-level Read on %s (%s)", t.set, t.entity, e.Message)})
	case errors.As(err, &e) && e.Status == http.StatusBadRequest:
		fs = append(fs, Finding{Check: "read " + string(t.entity), Detail: fmt.Sprintf("a configured column of %s does not exist: check tables.%s (%s)", t.entity, t.entity, e.Message)})
	case err != nil:
		fs = append(fs, Finding{Check: "read " + string(t.entity), Detail: err.Error()})
	default:
		fs = append(fs, Finding{Check: "read " + string(t.entity), OK: true, Detail: fmt.Sprintf("%d record(s) read", len(pg.Value))})
	}
	return fs
}
