package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/ringside/ringside/internal/config"
	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/crm/builtin"
	"github.com/ringside/ringside/internal/crm/dynamics"
	"github.com/ringside/ringside/internal/phone"
	"github.com/ringside/ringside/internal/store"
	"github.com/ringside/ringside/internal/telephony"
	"github.com/ringside/ringside/internal/telephony/ami"
	"github.com/ringside/ringside/internal/telephony/baresip"
	"github.com/ringside/ringside/internal/telephony/esl"
	"github.com/ringside/ringside/internal/telephony/sipwatch"
	"github.com/ringside/ringside/internal/telephony/tapi"
	"github.com/ringside/ringside/internal/telephony/webhook"
)

// decodeNew decodes a section strictly into a connector's Config and builds it with mk.
// It keeps the wiring of each kind to one line.
func decodeNew[C any, T any](sec config.Section, mk func(C) (T, error)) (T, error) {
	var cfg C
	if err := sec.Decode(&cfg); err != nil {
		var zero T
		return zero, err
	}
	v, err := mk(cfg)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%s: %w", sec.Where(), err)
	}
	return v, nil
}

// buildSource makes the telephony source of one section. Deleting a connector means
// deleting its folder and its line here.
func (s *Server) buildSource(ctx context.Context, sec config.Section, log *slog.Logger) (telephony.Source, error) {
	serves, err := telephony.ParseExtensions(sec.Extensions)
	if err != nil {
		return nil, fmt.Errorf("%s: telephony: %w", sec.Where(), err)
	}
	switch sec.Kind {
	case "webhook":
		return decodeNew(sec, func(c webhook.Config) (telephony.Source, error) {
			return webhook.New(sec.Name, c, s.resolveUser, log)
		})
	case "ami":
		return decodeNew(sec, func(c ami.Config) (telephony.Source, error) { return ami.New(sec.Name, c, log) })
	case "esl":
		return decodeNew(sec, func(c esl.Config) (telephony.Source, error) { return esl.New(sec.Name, c, log) })
	case "baresip":
		return decodeNew(sec, func(c baresip.Config) (telephony.Source, error) { return baresip.New(sec.Name, c, log) })
	case "tapi":
		return decodeNew(sec, func(c tapi.Config) (telephony.Source, error) { return tapi.New(sec.Name, c, log) })
	case "sipwatch":
		return decodeNew(sec, func(c sipwatch.Config) (telephony.Source, error) {
			// sipwatch subscribes to each extension it serves: the ones the section names,
			// and the users' extensions its patterns match (all without a list).
			c.Extensions = serves.Named()
			for _, e := range s.configExtensions(ctx) {
				if !serves.All() && serves.Serves(e) && !slices.Contains(c.Extensions, e) {
					c.Extensions = append(c.Extensions, e)
				}
			}
			if serves.All() {
				c.Extensions = s.configExtensions(ctx)
			}
			return sipwatch.New(sec.Name, c, log)
		})
	}
	return nil, fmt.Errorf("%s: telephony: unknown kind %q (webhook, ami, esl, sipwatch, baresip, tapi)", sec.Where(), sec.Kind)
}

// buildDirectory makes the CRM directory of the crm section.
func (s *Server) buildDirectory(sec config.Section, st *store.Store, parser *phone.Parser, log *slog.Logger) (crm.Directory, error) {
	if len(sec.Extensions) > 0 {
		return nil, fmt.Errorf("%s: crm: extensions: only a telephony source serves extensions", sec.Where())
	}
	switch sec.Kind {
	case "builtin":
		return decodeNew(sec, func(c builtin.Config) (crm.Directory, error) {
			return builtin.New(st, parser, c, log)
		})
	case "dynamics":
		return decodeNew(sec, func(c dynamics.Config) (crm.Directory, error) {
			if st == nil { // config check: validate without a store
				return dynamics.New(c, parser, nil, log)
			}
			return dynamics.New(c, parser, st, log)
		})
	}
	return nil, fmt.Errorf("%s: crm: unknown kind %q (builtin, dynamics)", sec.Where(), sec.Kind)
}

// OpenedDirectory is the configured CRM directory opened on its own, for commands such as
// lookup and import.
type OpenedDirectory struct {
	Directory crm.Directory
	Parser    *phone.Parser
	Store     *store.Store
}

// Close releases the store.
func (d *OpenedDirectory) Close() error { return d.Store.Close() }

// OpenDirectory opens the store and the configured directory, loaded and ready for
// lookups.
func OpenDirectory(ctx context.Context, cfg *config.Config, log *slog.Logger) (*OpenedDirectory, error) {
	parser, err := phone.NewParser(cfg.Phone)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.Store, cfg.DataDir, log.With("component", "store"))
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log}
	dir, err := s.buildDirectory(cfg.CRM, st, parser, log.With("component", "crm"))
	if err != nil {
		st.Close()
		return nil, err
	}
	if l, ok := dir.(interface{ Load(context.Context) error }); ok {
		if err := l.Load(ctx); err != nil {
			st.Close()
			return nil, fmt.Errorf("crm: loading the directory: %w", err)
		}
	}
	return &OpenedDirectory{Directory: dir, Parser: parser, Store: st}, nil
}

// Connect tries every phone system and the CRM that can be tried (config check --connect).
func Connect(ctx context.Context, cfg *config.Config) error {
	s := &Server{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	var errs []error
	for _, sec := range cfg.Telephony {
		src, err := s.buildSource(ctx, sec, s.log)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if c, ok := src.(interface{ Check(context.Context) error }); ok {
			cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			if err := c.Check(cctx); err != nil {
				errs = append(errs, fmt.Errorf("%s (%s): %w", sec.Name, sec.Where(), err))
			}
			cancel()
		}
	}
	if cfg.CRM.Kind != "builtin" {
		d, err := OpenDirectory(ctx, cfg, s.log)
		if err != nil {
			errs = append(errs, err)
		} else {
			if c, ok := d.Directory.(interface{ Check(context.Context) error }); ok {
				if err := c.Check(ctx); err != nil {
					errs = append(errs, fmt.Errorf("crm: %w", err))
				}
			}
			d.Close()
		}
	}
	return errors.Join(errs...)
}

// configExtensions lists the extensions of the users the config declares (sipwatch
// watches them when its section names none). Users added with the CLI are in the store;
// when there are no config users, the store's are used.
func (s *Server) configExtensions(ctx context.Context) []string {
	var out []string
	seen := map[string]bool{}
	add := func(e string) {
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	for _, u := range s.cfg.Users {
		for _, e := range u.Extensions {
			add(e)
		}
	}
	if len(out) == 0 && s.st != nil {
		if us, err := s.st.ListUsers(ctx); err == nil {
			for _, u := range us {
				for _, e := range u.Extensions {
					add(e)
				}
			}
		}
	}
	return out
}

// sourceReadiness is a source's state for /readyz in the words every source uses: "up",
// "connecting", "down: why", "failed: why", or "standby" on a node of a cluster that
// waits for the source's lease while another node runs it. Sources without a state
// (none today) are "up".
func (s *Server) sourceReadiness(ns namedSource) string {
	if s.standby(ns.name) {
		return stateStandby
	}
	if st, ok := ns.src.(telephony.Stater); ok {
		return telephony.Describe(st.State())
	}
	return telephony.StateUp
}
