package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ringside/ringside/internal/config"
	"github.com/ringside/ringside/internal/lookup"
	"github.com/ringside/ringside/internal/rules"
)

// Reloadable are the top-level keys a reload (SIGHUP) puts in force without a restart;
// a change to any other key is named in the log as needing a restart.
var Reloadable = []string{"log_level", "users", "rules", "lookup"}

// reloadState is the outcome of the last reload, for /readyz.
type reloadState struct {
	mu      sync.Mutex
	inForce *config.Config // the config whose reloadable parts are in force (nil: the start's)
	at      time.Time
	failed  error
	pending []string // changed keys that need a restart
}

// Reload reads the config again with load and, when it is sound (every check of
// `ringside config check`), puts its reloadable keys in force: the rules, the users of
// the config (new ones added, extensions set), log_level, and the lookup settings.
// Streams and phone-system connections stay up. With any mistake, nothing changes: the
// mistakes are logged, each on its own line, and /readyz shows that the previous config
// is in force (the server stays ready). Changes to other keys are logged as needing a
// restart.
func (s *Server) Reload(ctx context.Context, load func() (*config.Config, error)) error {
	err := s.reloadFrom(ctx, load)
	s.reload.mu.Lock()
	s.reload.at, s.reload.failed = time.Now(), err
	s.reload.mu.Unlock()
	if err != nil {
		s.log.Error("config reload failed: the previous config stays in force")
		for _, line := range strings.Split(err.Error(), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				s.log.Error("config reload: " + line)
			}
		}
	}
	return err
}

func (s *Server) reloadFrom(ctx context.Context, load func() (*config.Config, error)) error {
	cfg, err := load()
	if err != nil {
		return err
	}
	if err := Check(ctx, cfg); err != nil {
		return err
	}
	eng, err := rules.New(cfg, rules.Options{})
	if err != nil {
		return err
	}
	level, err := parseLevel(cfg.LogLevel)
	if err != nil {
		return cfg.Errorf("log_level", "%v", err)
	}
	if _, err := lookup.New(nopDir{}, cfg.Lookup, nil); err != nil {
		return cfg.Errorf("lookup", "%v", err)
	}

	s.reload.mu.Lock()
	before := s.reload.inForce
	s.reload.mu.Unlock()
	if before == nil {
		before = s.cfg
	}
	changed := config.Changed(before, cfg)

	if err := s.syncUsers(ctx, cfg.Users); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	if err := s.refreshUsers(ctx); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	s.engine().Replace(eng)
	if err := s.lookup.Reconfigure(cfg.Lookup); err != nil {
		return cfg.Errorf("lookup", "%v", err)
	}
	if s.opt.LogLevel != nil {
		s.opt.LogLevel.Set(level)
	}

	var restart []string
	for _, k := range changed {
		if !slices.Contains(Reloadable, k) {
			restart = append(restart, k)
		}
	}
	// The keys that need a restart keep their values from the start in the comparison,
	// so that they are named again on every reload until the server restarts.
	kept := *cfg
	kept.Listen, kept.DataDir, kept.BaseURL, kept.LogFormat = s.cfg.Listen, s.cfg.DataDir, s.cfg.BaseURL, s.cfg.LogFormat
	kept.Phone, kept.Store, kept.CRM, kept.Telephony = s.cfg.Phone, s.cfg.Store, s.cfg.CRM, s.cfg.Telephony
	kept.Calls, kept.Web, kept.Cluster, kept.Outbox, kept.Retention = s.cfg.Calls, s.cfg.Web, s.cfg.Cluster, s.cfg.Outbox, s.cfg.Retention
	s.reload.mu.Lock()
	s.reload.inForce = &kept
	s.reload.pending = restart
	s.reload.mu.Unlock()

	s.log.Info("config reloaded", "file", cfg.File, "changed", strings.Join(changed, ","), "in_force", strings.Join(Reloadable, ","))
	if len(restart) > 0 {
		s.log.Warn("config reload: these keys changed but need a restart to take effect", "keys", strings.Join(restart, ","))
	}
	return nil
}

// reloadReadiness is the config check of /readyz: "" (shown as ok) before any reload,
// "ok: reloaded at …" (naming keys that wait for a restart), or a warning that the last
// reload failed with its mistakes. Both leave the server ready: the config in force is
// sound.
func (s *Server) reloadReadiness() string {
	s.reload.mu.Lock()
	defer s.reload.mu.Unlock()
	switch {
	case s.reload.at.IsZero():
		return ""
	case s.reload.failed != nil:
		msg := strings.Join(strings.Fields(strings.ReplaceAll(s.reload.failed.Error(), "\n", "; ")), " ")
		return fmt.Sprintf("warning: the reload at %s failed, the previous config is in force: %s", s.reload.at.UTC().Format(time.RFC3339), msg)
	case len(s.reload.pending) > 0:
		return fmt.Sprintf("ok: reloaded at %s; changed, waiting for a restart: %s", s.reload.at.UTC().Format(time.RFC3339), strings.Join(s.reload.pending, ", "))
	}
	return "ok: reloaded at " + s.reload.at.UTC().Format(time.RFC3339)
}

// engine is the rules engine the pipeline evaluates.
func (s *Server) engine() *rules.Engine { return s.pipe.Rules() }

// parseLevel reads log_level (as serve's logger does).
func parseLevel(v string) (slog.Level, error) {
	switch strings.ToLower(v) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, errors.New("must be debug, info, warn or error")
}
