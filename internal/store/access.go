package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kinds of AccessChange.
const (
	AccessLogout   = "logout"   // one session ended (Session names it)
	AccessPassword = "password" // the user's password changed: their sessions ended
	AccessRevoke   = "revoke"   // one token revoked (TokenID)
	AccessDisable  = "disable"  // the user was disabled: every session and token stops
	AccessEnable   = "enable"   // the user was enabled again
	AccessRemove   = "remove"   // the user was removed
)

// An AccessChange is a change that must end open connections: running servers poll
// AccessChanges (every node, whichever process made the change) and close the streams and
// companion connections that match.
type AccessChange struct {
	ID      int64     `json:"id"`
	Kind    string    `json:"kind"`
	User    string    `json:"user,omitempty"`
	TokenID int64     `json:"token_id,omitempty"`
	Session string    `json:"-"` // SessionID of the ended session (AccessLogout)
	At      time.Time `json:"at"`
}

// accessKeep is how long access changes are kept: servers poll every few hundred
// milliseconds, so a day is plenty for one that was down briefly.
const accessKeep = 24 * time.Hour

func (s *Store) logAccess(ctx context.Context, t tx, c AccessChange) error {
	now := s.now()
	if _, err := t.exec(ctx, `DELETE FROM access_changes WHERE at < ?`, ts(now.Add(-accessKeep))); err != nil {
		return fmt.Errorf("store: access change: %w", err)
	}
	if _, err := t.exec(ctx, `INSERT INTO access_changes (kind, user_name, token_id, session, at) VALUES (?, ?, ?, ?, ?)`,
		c.Kind, c.User, c.TokenID, c.Session, ts(now)); err != nil {
		return fmt.Errorf("store: access change: %w", err)
	}
	return nil
}

// AccessChanges returns the access changes after id, oldest first (at most 1000). Start
// with LastAccessChange.
func (s *Store) AccessChanges(ctx context.Context, after int64) ([]AccessChange, error) {
	rows, err := s.query(ctx, `SELECT id, kind, user_name, token_id, session, at FROM access_changes WHERE id > ? ORDER BY id LIMIT 1000`, after)
	if err != nil {
		return nil, fmt.Errorf("store: access changes: %w", err)
	}
	defer rows.Close()
	var out []AccessChange
	for rows.Next() {
		var c AccessChange
		var at int64
		if err := rows.Scan(&c.ID, &c.Kind, &c.User, &c.TokenID, &c.Session, &at); err != nil {
			return nil, fmt.Errorf("store: access changes: %w", err)
		}
		c.At = fromTS(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// LastAccessChange returns the id of the newest access change (0 when there is none).
func (s *Store) LastAccessChange(ctx context.Context) (int64, error) {
	var id int64
	if err := s.queryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM access_changes`).Scan(&id); err != nil {
		return 0, fmt.Errorf("store: access changes: %w", err)
	}
	return id, nil
}

// DisableUser stops user name from logging in and ends their sessions; their tokens stop
// working (until EnableUser) and their open connections close within a second.
func (s *Store) DisableUser(ctx context.Context, name string) error {
	return s.inTx(ctx, func(t tx) error {
		id, err := userID(ctx, t, name)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, `UPDATE users SET disabled = ? WHERE id = ?`, true, id); err != nil {
			return fmt.Errorf("store: disable %s: %w", name, err)
		}
		if _, err := t.exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, id); err != nil {
			return fmt.Errorf("store: disable %s: %w", name, err)
		}
		return s.logAccess(ctx, t, AccessChange{Kind: AccessDisable, User: name})
	})
}

// EnableUser lets a disabled user log in again; their tokens work again.
func (s *Store) EnableUser(ctx context.Context, name string) error {
	return s.inTx(ctx, func(t tx) error {
		id, err := userID(ctx, t, name)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, `UPDATE users SET disabled = ? WHERE id = ?`, false, id); err != nil {
			return fmt.Errorf("store: enable %s: %w", name, err)
		}
		return s.logAccess(ctx, t, AccessChange{Kind: AccessEnable, User: name})
	})
}

// RemoveUser deletes user name with their extensions, settings, tokens and sessions
// (the call journal keeps their calls); their open connections close within a second.
func (s *Store) RemoveUser(ctx context.Context, name string) error {
	return s.inTx(ctx, func(t tx) error {
		id, err := userID(ctx, t, name)
		if err != nil {
			return err
		}
		for _, q := range []string{`DELETE FROM sessions WHERE user_id = ?`, `DELETE FROM tokens WHERE user_id = ?`, `DELETE FROM users WHERE id = ?`} {
			if _, err := t.exec(ctx, q, id); err != nil {
				return fmt.Errorf("store: remove %s: %w", name, err)
			}
		}
		return s.logAccess(ctx, t, AccessChange{Kind: AccessRemove, User: name})
	})
}

// SetAdmin makes user name an administrator or not.
func (s *Store) SetAdmin(ctx context.Context, name string, admin bool) error {
	res, err := s.exec(ctx, `UPDATE users SET admin = ? WHERE name = ?`, admin, name)
	if err != nil {
		return fmt.Errorf("store: set admin %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: user %q: %w", name, ErrNotFound)
	}
	return nil
}

// Seen records that user (when not "") and token tokenID (when not 0) were used at at.
// Callers write it at most once a minute each (the web layer remembers); a time earlier
// than the stored one is ignored.
func (s *Store) Seen(ctx context.Context, user string, tokenID int64, at time.Time) error {
	if user != "" {
		if _, err := s.exec(ctx, `UPDATE users SET last_seen_at = ? WHERE name = ? AND last_seen_at < ?`, ts(at), user, ts(at)); err != nil {
			return fmt.Errorf("store: seen %s: %w", user, err)
		}
	}
	if tokenID != 0 {
		if _, err := s.exec(ctx, `UPDATE tokens SET last_used_at = ? WHERE id = ? AND last_used_at < ?`, ts(at), tokenID, ts(at)); err != nil {
			return fmt.Errorf("store: token %d used: %w", tokenID, err)
		}
	}
	return nil
}

// SetEmail changes the email of user name (the address that maps them to their CRM
// user; "" for none).
func (s *Store) SetEmail(ctx context.Context, name, email string) error {
	res, err := s.exec(ctx, `UPDATE users SET email = ? WHERE name = ?`, email, name)
	if err != nil {
		return fmt.Errorf("store: set email of %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: user %q: %w", name, ErrNotFound)
	}
	return nil
}

// RevokeUserTokens revokes every token of user name and returns how many there were.
func (s *Store) RevokeUserTokens(ctx context.Context, name string) (int, error) {
	toks, err := s.ListTokens(ctx)
	if err != nil {
		return 0, err
	}
	if _, err := s.GetUser(ctx, name); err != nil {
		return 0, err
	}
	n := 0
	for _, t := range toks {
		if t.User != name {
			continue
		}
		if err := s.RevokeToken(ctx, t.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return n, err
		}
		n++
	}
	return n, nil
}

// ErrExtensionTaken says that an extension belongs to another user (see
// ExtensionTakenError).
var ErrExtensionTaken = errors.New("store: extension taken")

// An ExtensionTakenError names the user who has the extension already.
type ExtensionTakenError struct {
	Extension string
	User      string
}

func (e *ExtensionTakenError) Error() string {
	return fmt.Sprintf("extension %s belongs to %s already", e.Extension, e.User)
}

// Unwrap makes errors.Is(err, ErrExtensionTaken) true.
func (e *ExtensionTakenError) Unwrap() error { return ErrExtensionTaken }

// CheckExtensions returns an *ExtensionTakenError when one of exts belongs to a user
// other than name: a second user at an extension sees its calls, so sharing one must be
// asked for (ringside users add --shared).
func (s *Store) CheckExtensions(ctx context.Context, name string, exts []string) error {
	for _, e := range cleanExtensions(exts) {
		var other string
		err := s.queryRow(ctx, `SELECT u.name FROM user_extensions x JOIN users u ON u.id = x.user_id WHERE x.extension = ? AND u.name <> ? ORDER BY u.name LIMIT 1`, e, name).Scan(&other)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("store: check extensions: %w", err)
		}
		return &ExtensionTakenError{Extension: e, User: other}
	}
	return nil
}

// ErrInvalidName says a user name or extension has characters Ringside refuses.
var ErrInvalidName = errors.New("store: invalid name")

// CheckName refuses names (user names, extensions) with control or invisible formatting
// characters, invalid UTF-8, or more than 128 bytes: they end up in logs, headers and
// pages. what names the field in the error.
func CheckName(what, v string) error {
	if len(v) > 128 {
		return fmt.Errorf("%s is longer than 128 bytes: %w", what, ErrInvalidName)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s is not valid UTF-8: %w", what, ErrInvalidName)
	}
	if strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) {
		return fmt.Errorf("%s %q has control characters: %w", what, v, ErrInvalidName)
	}
	return nil
}
