package server

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ringside/ringside/internal/store"
)

// accessPoll is how often the server reads the store's access log: a logout, revoke,
// password change, disable or removal made anywhere (this node, another node on the same
// database, or the CLI) closes the matching connections within this time.
const accessPoll = 250 * time.Millisecond

// watchAccess applies the store's access changes until ctx ends.
func (s *Server) watchAccess(ctx context.Context) {
	last, err := s.st.LastAccessChange(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("reading the access log", "err", err)
	}
	t := time.NewTicker(accessPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changes, err := s.st.AccessChanges(ctx, last)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("reading the access log", "err", err)
			}
			continue
		}
		if len(changes) == 0 {
			continue
		}
		s.web.AccessChanged()
		users := false
		for _, c := range changes {
			s.applyAccess(c)
			last = c.ID
			users = users || c.Kind == store.AccessDisable || c.Kind == store.AccessEnable || c.Kind == store.AccessRemove
		}
		if users {
			if err := s.refreshUsers(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("reading users", "err", err)
			}
		}
	}
}

// applyAccess closes the connections an access change ends.
func (s *Server) applyAccess(c store.AccessChange) {
	n := 0
	switch c.Kind {
	case store.AccessLogout:
		n = s.hub.CloseCredential(c.User, "session:"+c.Session, "logged out")
	case store.AccessPassword:
		n = s.hub.CloseSessions(c.User, "your password changed: log in again")
	case store.AccessRevoke:
		n = s.hub.CloseCredential(c.User, "token:"+strconv.FormatInt(c.TokenID, 10), "token revoked")
	case store.AccessDisable:
		n = s.hub.CloseUser(c.User, "account disabled")
	case store.AccessRemove:
		n = s.hub.CloseUser(c.User, "account removed")
	}
	if n > 0 {
		s.log.Info("connections closed", "user", c.User, "reason", c.Kind, "connections", n)
	}
}

// defaultMaxConnections is web.max_connections where the open-files limit is unknown.
const defaultMaxConnections = 10000

// maxConnections is web.max_connections, by default 80% of the open-files limit: the
// rest is for the database, the phone-system connections and the log.
func (s *Server) maxConnections() int {
	if s.cfg.Web.MaxConnections > 0 {
		return s.cfg.Web.MaxConnections
	}
	if n := openFilesLimit(); n > 0 {
		return max(16, n*8/10)
	}
	return defaultMaxConnections
}

// secretFrom reads a secret from the environment variable env or the file file (one of
// them; "" when neither is set).
func secretFrom(env, file string) (string, error) {
	switch {
	case env != "":
		v := strings.TrimSpace(os.Getenv(env))
		if v == "" {
			return "", fmt.Errorf("the environment variable %s is empty", env)
		}
		return v, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("reading the secret: %w", err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("%s is empty", file)
		}
		return v, nil
	}
	return "", nil
}
