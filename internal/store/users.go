package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ringside/ringside/internal/crm"
)

// A User is an agent (or admin) and the extensions whose calls they see.
type User struct {
	ID         int64    `json:"id"`
	Name       string   `json:"name"`
	Extensions []string `json:"extensions"`
	Email      string   `json:"email,omitempty"`
	Admin      bool     `json:"admin,omitempty"`
	// Disabled users cannot log in, and their tokens and sessions do not work
	// (DisableUser); their data stays.
	Disabled  bool      `json:"disabled,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// LastSeenAt is when the user last used Ringside (page, stream or API; to the
	// minute; zero: never).
	LastSeenAt time.Time `json:"last_seen_at,omitzero"`
}

// AddUser stores u (its ID and CreatedAt are set here) with a bcrypt hash of password.
// A taken name is ErrExists; several users may share an extension.
func (s *Store) AddUser(ctx context.Context, u User, password string) (User, error) {
	u.Name = strings.TrimSpace(u.Name)
	if u.Name == "" {
		return User{}, fmt.Errorf("store: add user: name is empty")
	}
	if err := CheckName("user name", u.Name); err != nil {
		return User{}, fmt.Errorf("store: add user: %w", err)
	}
	for _, e := range u.Extensions {
		if err := CheckName("extension", strings.TrimSpace(e)); err != nil {
			return User{}, fmt.Errorf("store: add user %s: %w", u.Name, err)
		}
	}
	if password == "" {
		return User{}, fmt.Errorf("store: add user %s: password is empty", u.Name)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return User{}, fmt.Errorf("store: add user %s: %w", u.Name, err)
	}
	u.Extensions = cleanExtensions(u.Extensions)
	u.CreatedAt = s.now().UTC().Truncate(time.Microsecond)
	err = s.inTx(ctx, func(t tx) error {
		err := t.queryRow(ctx, `INSERT INTO users (name, email, admin, password_hash, created_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (name) DO NOTHING RETURNING id`, u.Name, u.Email, u.Admin, hash, ts(u.CreatedAt)).Scan(&u.ID)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: add user %s: %w", u.Name, ErrExists)
		}
		if err != nil {
			return fmt.Errorf("store: add user %s: %w", u.Name, err)
		}
		return setExtensions(ctx, t, u.ID, u.Extensions)
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

func cleanExtensions(exts []string) []string {
	out := []string{}
	for _, e := range exts {
		e = strings.TrimSpace(e)
		if e != "" && !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}

func setExtensions(ctx context.Context, t tx, userID int64, exts []string) error {
	if _, err := t.exec(ctx, `DELETE FROM user_extensions WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("store: set extensions: %w", err)
	}
	for _, e := range exts {
		if _, err := t.exec(ctx, `INSERT INTO user_extensions (user_id, extension) VALUES (?, ?)`, userID, e); err != nil {
			return fmt.Errorf("store: set extensions: %w", err)
		}
	}
	return nil
}

// SetExtensions replaces the extensions of user name.
func (s *Store) SetExtensions(ctx context.Context, name string, exts []string) error {
	return s.inTx(ctx, func(t tx) error {
		id, err := userID(ctx, t, name)
		if err != nil {
			return err
		}
		for _, e := range exts {
			if err := CheckName("extension", strings.TrimSpace(e)); err != nil {
				return fmt.Errorf("store: set extensions of %s: %w", name, err)
			}
		}
		return setExtensions(ctx, t, id, cleanExtensions(exts))
	})
}

func userID(ctx context.Context, t tx, name string) (int64, error) {
	var id int64
	err := t.queryRow(ctx, `SELECT id FROM users WHERE name = ?`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("store: user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("store: user %q: %w", name, err)
	}
	return id, nil
}

const userColumns = `id, name, email, admin, disabled, created_at, last_seen_at`

func scanUser(sc interface{ Scan(...any) error }, u *User) error {
	var created, seen int64
	if err := sc.Scan(&u.ID, &u.Name, &u.Email, &u.Admin, &u.Disabled, &created, &seen); err != nil {
		return err
	}
	u.CreatedAt, u.LastSeenAt = fromTS(created), fromTS(seen)
	return nil
}

// extensionsOf fills in the extensions of the users given.
func (s *Store) extensionsOf(ctx context.Context, users []User) error {
	if len(users) == 0 {
		return nil
	}
	byID := map[int64]*User{}
	args := make([]any, len(users))
	for i := range users {
		users[i].Extensions = []string{}
		byID[users[i].ID] = &users[i]
		args[i] = users[i].ID
	}
	rows, err := s.query(ctx, `SELECT user_id, extension FROM user_extensions WHERE user_id IN (`+placeholders(len(args))+`) ORDER BY extension`, args...)
	if err != nil {
		return fmt.Errorf("store: extensions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var ext string
		if err := rows.Scan(&id, &ext); err != nil {
			return fmt.Errorf("store: extensions: %w", err)
		}
		if u := byID[id]; u != nil {
			u.Extensions = append(u.Extensions, ext)
		}
	}
	return rows.Err()
}

// GetUser returns the user called name, or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, name string) (User, error) {
	var u User
	err := scanUser(s.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, name), &u)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("store: user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: user %q: %w", name, err)
	}
	us := []User{u}
	if err := s.extensionsOf(ctx, us); err != nil {
		return User{}, err
	}
	return us[0], nil
}

// ListUsers returns every user, by name.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	return s.listUsers(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
}

// UsersByExtension returns the users who have extension ext.
func (s *Store) UsersByExtension(ctx context.Context, ext string) ([]User, error) {
	return s.listUsers(ctx, `SELECT `+userColumns+` FROM users WHERE id IN
		(SELECT user_id FROM user_extensions WHERE extension = ?) ORDER BY name`, ext)
}

func (s *Store) listUsers(ctx context.Context, query string, args ...any) ([]User, error) {
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	defer rows.Close()
	var us []User
	for rows.Next() {
		var u User
		if err := scanUser(rows, &u); err != nil {
			return nil, fmt.Errorf("store: list users: %w", err)
		}
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	rows.Close()
	if err := s.extensionsOf(ctx, us); err != nil {
		return nil, err
	}
	return us, nil
}

// ExtensionMap maps every extension to the names of the users who have it: one query
// for the agent hub to route pops.
func (s *Store) ExtensionMap(ctx context.Context) (map[string][]string, error) {
	rows, err := s.query(ctx, `SELECT e.extension, u.name FROM user_extensions e JOIN users u ON u.id = e.user_id ORDER BY e.extension, u.name`)
	if err != nil {
		return nil, fmt.Errorf("store: extension map: %w", err)
	}
	defer rows.Close()
	m := map[string][]string{}
	for rows.Next() {
		var ext, name string
		if err := rows.Scan(&ext, &name); err != nil {
			return nil, fmt.Errorf("store: extension map: %w", err)
		}
		m[ext] = append(m[ext], name)
	}
	return m, rows.Err()
}

// dummy returns a bcrypt hash to compare against for unknown users, so that a login for
// a name that does not exist costs as much as one that does.
func (s *Store) dummy() []byte {
	s.dummyOnce.Do(func() {
		s.dummyHash, _ = bcrypt.GenerateFromPassword([]byte("ringside-no-such-user"), s.cost)
	})
	return s.dummyHash
}

// CheckPassword returns the user when password is theirs, else ErrBadCredentials
// (for unknown users too, after the same bcrypt work).
func (s *Store) CheckPassword(ctx context.Context, name, password string) (User, error) {
	var hash []byte
	var disabled bool
	err := s.queryRow(ctx, `SELECT password_hash, disabled FROM users WHERE name = ?`, name).Scan(&hash, &disabled)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("store: check password: %w", err)
	}
	if errors.Is(err, sql.ErrNoRows) {
		_ = bcrypt.CompareHashAndPassword(s.dummy(), []byte(password))
		return User{}, ErrBadCredentials
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || disabled {
		return User{}, ErrBadCredentials
	}
	return s.GetUser(ctx, name)
}

// SetPassword replaces the password of user name.
func (s *Store) SetPassword(ctx context.Context, name, password string) error {
	if password == "" {
		return fmt.Errorf("store: set password for %s: password is empty", name)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return fmt.Errorf("store: set password for %s: %w", name, err)
	}
	// A new password ends the user's browser sessions (their open streams close within a
	// second: AccessChanges); API tokens stay.
	return s.inTx(ctx, func(t tx) error {
		id, err := userID(ctx, t, name)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, id); err != nil {
			return fmt.Errorf("store: set password for %s: %w", name, err)
		}
		if _, err := t.exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, id); err != nil {
			return fmt.Errorf("store: set password for %s: %w", name, err)
		}
		return s.logAccess(ctx, t, AccessChange{Kind: AccessPassword, User: name})
	})
}

// SetUserSetting stores one setting of the agent desktop for user.
func (s *Store) SetUserSetting(ctx context.Context, user, key, value string) error {
	return s.inTx(ctx, func(t tx) error {
		id, err := userID(ctx, t, user)
		if err != nil {
			return err
		}
		_, err = t.exec(ctx, `INSERT INTO user_settings (user_id, key, value) VALUES (?, ?, ?)
			ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value`, id, key, value)
		if err != nil {
			return fmt.Errorf("store: set user setting: %w", err)
		}
		return nil
	})
}

// UserSettings returns every setting of user (empty for a user without settings).
func (s *Store) UserSettings(ctx context.Context, user string) (map[string]string, error) {
	rows, err := s.query(ctx, `SELECT key, value FROM user_settings WHERE user_id = (SELECT id FROM users WHERE name = ?)`, user)
	if err != nil {
		return nil, fmt.Errorf("store: user settings: %w", err)
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("store: user settings: %w", err)
		}
		m[k] = v
	}
	return m, rows.Err()
}

// RememberPick records that user chose ref for calls from number (a multi-match).
func (s *Store) RememberPick(ctx context.Context, user, number string, ref crm.Ref) error {
	return s.inTx(ctx, func(t tx) error {
		id, err := userID(ctx, t, user)
		if err != nil {
			return err
		}
		_, err = t.exec(ctx, `INSERT INTO picks (user_id, number, entity, record_id, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (user_id, number) DO UPDATE SET entity = excluded.entity, record_id = excluded.record_id, updated_at = excluded.updated_at`,
			id, number, string(ref.Entity), ref.ID, ts(s.now()))
		if err != nil {
			return fmt.Errorf("store: remember pick: %w", err)
		}
		return nil
	})
}

// Pick returns the record user chose for number, or ErrNotFound.
func (s *Store) Pick(ctx context.Context, user, number string) (crm.Ref, error) {
	var ref crm.Ref
	var entity string
	err := s.queryRow(ctx, `SELECT entity, record_id FROM picks WHERE user_id = (SELECT id FROM users WHERE name = ?) AND number = ?`, user, number).Scan(&entity, &ref.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return crm.Ref{}, fmt.Errorf("store: pick: %w", ErrNotFound)
	}
	if err != nil {
		return crm.Ref{}, fmt.Errorf("store: pick: %w", err)
	}
	ref.Entity = crm.Entity(entity)
	return ref, nil
}

// Token scopes.
const (
	ScopeAgent = "agent" // an agent's API token (acts as that user)
	ScopePBX   = "pbx"   // a phone system posting events
)

// A Token is an API token as listed; its secret is shown once, at creation.
type Token struct {
	ID        int64     `json:"id"`
	User      string    `json:"user,omitempty"` // "" for a pbx token without user
	Scope     string    `json:"scope"`
	Name      string    `json:"name,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when the token stops working (zero: never).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// LastUsedAt is when the token last authenticated a request (to the minute; zero:
	// never).
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// newSecret returns prefix + 32 random bytes in base64url.
func newSecret(prefix string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// CreateToken makes a token for user (required for scope agent, optional for pbx) and
// returns its secret ("rs_…"), which is not stored: only its SHA-256 hash is.
func (s *Store) CreateToken(ctx context.Context, user, scope, name string) (string, Token, error) {
	return s.CreateTokenUntil(ctx, user, scope, name, time.Time{})
}

// CreateTokenUntil is CreateToken for a token that stops working at expires (zero:
// never; a time in the past is an error).
func (s *Store) CreateTokenUntil(ctx context.Context, user, scope, name string, expires time.Time) (string, Token, error) {
	if !expires.IsZero() && !expires.After(s.now()) {
		return "", Token{}, fmt.Errorf("store: create token: the expiry %s is in the past", expires.Format(time.RFC3339))
	}
	if scope != ScopeAgent && scope != ScopePBX {
		return "", Token{}, fmt.Errorf("store: create token: scope %q is not agent or pbx", scope)
	}
	if scope == ScopeAgent && user == "" {
		return "", Token{}, fmt.Errorf("store: create token: an agent token needs a user")
	}
	secret, err := newSecret("rs_")
	if err != nil {
		return "", Token{}, fmt.Errorf("store: create token: %w", err)
	}
	tok := Token{User: user, Scope: scope, Name: name, CreatedAt: s.now().UTC().Truncate(time.Microsecond), ExpiresAt: expires.UTC()}
	err = s.inTx(ctx, func(t tx) error {
		var uid sql.NullInt64
		if user != "" {
			id, err := userID(ctx, t, user)
			if err != nil {
				return err
			}
			uid = sql.NullInt64{Int64: id, Valid: true}
		}
		err := t.queryRow(ctx, `INSERT INTO tokens (user_id, scope, name, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			uid, scope, name, hashSecret(secret), ts(tok.CreatedAt), ts(tok.ExpiresAt)).Scan(&tok.ID)
		if err != nil {
			return fmt.Errorf("store: create token: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", Token{}, err
	}
	return secret, tok, nil
}

const tokenSelect = `SELECT t.id, COALESCE(u.name, ''), t.scope, t.name, t.created_at, t.expires_at, COALESCE(u.disabled, FALSE), t.last_used_at FROM tokens t LEFT JOIN users u ON u.id = t.user_id`

func scanToken(sc interface{ Scan(...any) error }) (Token, bool, error) {
	var tok Token
	var created, expires, used int64
	var disabled bool
	err := sc.Scan(&tok.ID, &tok.User, &tok.Scope, &tok.Name, &created, &expires, &disabled, &used)
	tok.CreatedAt, tok.ExpiresAt, tok.LastUsedAt = fromTS(created), fromTS(expires), fromTS(used)
	return tok, disabled, err
}

// CheckToken returns the token whose secret this is, or ErrNotFound.
func (s *Store) CheckToken(ctx context.Context, secret string) (Token, error) {
	if !strings.HasPrefix(secret, "rs_") {
		return Token{}, fmt.Errorf("store: token: %w", ErrNotFound)
	}
	tok, disabled, err := scanToken(s.queryRow(ctx, tokenSelect+` WHERE t.hash = ?`, hashSecret(secret)))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("store: token: %w", ErrNotFound)
	}
	if err != nil {
		return Token{}, fmt.Errorf("store: token: %w", err)
	}
	if disabled {
		return Token{}, fmt.Errorf("store: token %d: its user is disabled: %w", tok.ID, ErrNotFound)
	}
	if !tok.ExpiresAt.IsZero() && !tok.ExpiresAt.After(s.now()) {
		return Token{}, fmt.Errorf("store: token %d expired: %w", tok.ID, ErrNotFound)
	}
	return tok, nil
}

// ListTokens returns every token (without secrets), oldest first.
func (s *Store) ListTokens(ctx context.Context) ([]Token, error) {
	rows, err := s.query(ctx, tokenSelect+` ORDER BY t.id`)
	if err != nil {
		return nil, fmt.Errorf("store: list tokens: %w", err)
	}
	defer rows.Close()
	var toks []Token
	for rows.Next() {
		tok, _, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list tokens: %w", err)
		}
		toks = append(toks, tok)
	}
	return toks, rows.Err()
}

// RevokeToken deletes token id (ErrNotFound if there is none); its open streams close
// within a second on every node (AccessChanges).
func (s *Store) RevokeToken(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(t tx) error {
		var user string
		err := t.queryRow(ctx, `SELECT COALESCE(u.name, '') FROM tokens t LEFT JOIN users u ON u.id = t.user_id WHERE t.id = ?`, id).Scan(&user)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: revoke token %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("store: revoke token %d: %w", id, err)
		}
		if _, err := t.exec(ctx, `DELETE FROM tokens WHERE id = ?`, id); err != nil {
			return fmt.Errorf("store: revoke token %d: %w", id, err)
		}
		return s.logAccess(ctx, t, AccessChange{Kind: AccessRevoke, User: user, TokenID: id})
	})
}

// CreateSession starts a browser session for user lasting ttl and returns its secret
// (for the cookie) and its CSRF token. Only the secret's hash is stored. Expired
// sessions are deleted on the way.
func (s *Store) CreateSession(ctx context.Context, user string, ttl time.Duration) (secret, csrf string, err error) {
	if ttl <= 0 {
		return "", "", fmt.Errorf("store: create session: ttl must be positive")
	}
	if secret, err = newSecret("rss_"); err != nil {
		return "", "", fmt.Errorf("store: create session: %w", err)
	}
	if csrf, err = newSecret(""); err != nil {
		return "", "", fmt.Errorf("store: create session: %w", err)
	}
	now := s.now()
	err = s.inTx(ctx, func(t tx) error {
		id, err := userID(ctx, t, user)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, ts(now)); err != nil {
			return fmt.Errorf("store: create session: %w", err)
		}
		_, err = t.exec(ctx, `INSERT INTO sessions (hash, user_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			hashSecret(secret), id, csrf, ts(now), ts(now.Add(ttl)))
		if err != nil {
			return fmt.Errorf("store: create session: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	return secret, csrf, nil
}

// Session returns the user and CSRF token of a live session, or ErrNotFound (unknown,
// expired or its user disabled; an expired one is deleted).
func (s *Store) Session(ctx context.Context, secret string) (User, string, error) {
	se, err := s.SessionInfo(ctx, secret)
	return se.User, se.CSRF, err
}

// A Session is a live browser session.
type Session struct {
	ID        string // SessionID of the secret: names the session in AccessChanges
	User      User
	CSRF      string
	ExpiresAt time.Time
}

// SessionID returns the id of the session whose cookie secret this is (its hash: the
// secret itself is not stored).
func SessionID(secret string) string { return hashSecret(secret) }

// SessionInfo is Session with the session's id and expiry.
func (s *Store) SessionInfo(ctx context.Context, secret string) (Session, error) {
	var userName, csrf string
	var expires int64
	h := hashSecret(secret)
	err := s.queryRow(ctx, `SELECT u.name, s.csrf, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = ?`, h).
		Scan(&userName, &csrf, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, fmt.Errorf("store: session: %w", ErrNotFound)
	}
	if err != nil {
		return Session{}, fmt.Errorf("store: session: %w", err)
	}
	if expires <= ts(s.now()) {
		if _, err := s.exec(ctx, `DELETE FROM sessions WHERE hash = ?`, h); err != nil {
			return Session{}, fmt.Errorf("store: session: %w", err)
		}
		return Session{}, fmt.Errorf("store: session expired: %w", ErrNotFound)
	}
	u, err := s.GetUser(ctx, userName)
	if err != nil {
		return Session{}, err
	}
	if u.Disabled {
		return Session{}, fmt.Errorf("store: session of disabled user %s: %w", u.Name, ErrNotFound)
	}
	return Session{ID: h, User: u, CSRF: csrf, ExpiresAt: fromTS(expires)}, nil
}

// DeleteSession ends a session (logout); its open streams close within a second on every
// node (AccessChanges). Deleting an unknown session is not an error.
func (s *Store) DeleteSession(ctx context.Context, secret string) error {
	h := hashSecret(secret)
	return s.inTx(ctx, func(t tx) error {
		var user string
		err := t.queryRow(ctx, `SELECT u.name FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = ?`, h).Scan(&user)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("store: delete session: %w", err)
		}
		if _, err := t.exec(ctx, `DELETE FROM sessions WHERE hash = ?`, h); err != nil {
			return fmt.Errorf("store: delete session: %w", err)
		}
		return s.logAccess(ctx, t, AccessChange{Kind: AccessLogout, User: user, Session: h})
	})
}
