// Package sqlite is the reference SP's embedded store: store.Store on a
// single SQLite file (modernc.org/sqlite, pure Go).
//
// Writes are serialised in-process by a mutex and run as BEGIN IMMEDIATE
// transactions (so another process sharing the file waits on busy_timeout
// instead of failing mid-transaction); reads run concurrently under WAL.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/hmpconform/hmpconform/sp/jit"
	"github.com/hmpconform/hmpconform/sp/settings"
	"github.com/hmpconform/hmpconform/sp/store"
)

var _ store.Store = (*Store)(nil)

// Store is a store.Store backed by one SQLite database file.
type Store struct {
	db  *sql.DB
	wmu sync.Mutex // serialises write transactions within this process
}

// migrations are applied in order; version N is migrations[N-1]. Never edit
// an entry once released: append a new one.
var migrations = []string{
	`CREATE TABLE settings (
		id   INTEGER PRIMARY KEY CHECK (id = 1),
		json TEXT NOT NULL
	);
	CREATE TABLE groups (
		id       INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: an old link cannot name a new group
		name     TEXT NOT NULL,
		name_key TEXT NOT NULL UNIQUE,
		role     TEXT NOT NULL
	);
	CREATE TABLE users (
		id         INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: a deleted account's ID stays dead
		key        TEXT NOT NULL UNIQUE,
		identifier TEXT NOT NULL,
		first_name TEXT NOT NULL DEFAULT '',
		last_name  TEXT NOT NULL DEFAULT '',
		email      TEXT NOT NULL DEFAULT '',
		short_name TEXT NOT NULL DEFAULT '',
		created_at INTEGER NOT NULL,
		last_login INTEGER NOT NULL
	);
	CREATE TABLE memberships (
		user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
		PRIMARY KEY (user_id, group_id)
	) WITHOUT ROWID;
	CREATE INDEX memberships_group ON memberships(group_id);
	CREATE TABLE sessions (
		token_hash TEXT PRIMARY KEY,
		user_id    INTEGER REFERENCES users(id) ON DELETE CASCADE,
		admin      INTEGER NOT NULL DEFAULT 0,
		created_at INTEGER NOT NULL,
		expires_at INTEGER NOT NULL
	);
	CREATE INDEX sessions_user ON sessions(user_id);
	CREATE TABLE saml_requests (
		id         TEXT PRIMARY KEY,
		expires_at INTEGER NOT NULL
	);
	CREATE TABLE assertion_ids (
		id         TEXT PRIMARY KEY,
		expires_at INTEGER NOT NULL
	);
	CREATE INDEX assertion_ids_expires ON assertion_ids(expires_at);
	CREATE TABLE admin (
		id            INTEGER PRIMARY KEY CHECK (id = 1),
		password_hash BLOB NOT NULL
	);`,
	// 2: the SSO subject of a session, for Single Logout.
	`ALTER TABLE sessions ADD COLUMN sso_name_id TEXT NOT NULL DEFAULT '';
	ALTER TABLE sessions ADD COLUMN sso_name_id_format TEXT NOT NULL DEFAULT '';
	ALTER TABLE sessions ADD COLUMN sso_session_index TEXT NOT NULL DEFAULT '';
	CREATE INDEX sessions_sso_name_id ON sessions(sso_name_id) WHERE sso_name_id != '';`,
}

// Open opens (creating if needed) the database at path and brings its schema
// up to date.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("open store: empty path")
	}
	dsn := "file:" + path +
		"?_pragma=busy_timeout(5000)" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(NORMAL)" +
		"&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{db: db}
	if err := s.migrate(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) migrate(ctx context.Context) error {
	if err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			applied_at INTEGER NOT NULL
		)`)
		return err
	}); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for i, m := range migrations {
		version := i + 1
		err := s.write(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, applied_at) VALUES (?, ?)`, version, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate to version %d: %w", version, err)
		}
	}
	return nil
}

// write runs fn in a write transaction, committing if it returns nil.
func (s *Store) write(ctx context.Context, fn func(*sql.Tx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// read runs fn in a read-only (deferred, concurrent) transaction so that
// multi-query reads see one snapshot.
func (s *Store) read(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// ---- settings ----

// Settings returns the saved settings, or settings.Default() if none.
func (s *Store) Settings(ctx context.Context) (settings.Settings, error) {
	var raw string
	err := s.db.QueryRowContext(ctx, `SELECT json FROM settings WHERE id = 1`).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return settings.Default(), nil
	}
	if err != nil {
		return settings.Settings{}, fmt.Errorf("settings: %w", err)
	}
	var st settings.Settings
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return settings.Settings{}, fmt.Errorf("settings: decode: %w", err)
	}
	return st, nil
}

// SaveSettings saves st and ends every non-admin session, atomically.
func (s *Store) SaveSettings(ctx context.Context, st settings.Settings) (int, error) {
	raw, err := json.Marshal(st)
	if err != nil {
		return 0, fmt.Errorf("save settings: encode: %w", err)
	}
	var ended int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings(id, json) VALUES (1, ?)
			ON CONFLICT(id) DO UPDATE SET json = excluded.json`, string(raw)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE admin = 0`)
		if err != nil {
			return err
		}
		ended, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("save settings: %w", err)
	}
	return int(ended), nil
}

// ---- groups ----

func groupName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", errors.New("group name is empty")
	}
	return name, nil
}

func checkRole(role string) error {
	if !slices.Contains(store.Roles(), role) {
		return fmt.Errorf("unknown role %q", role)
	}
	return nil
}

// CreateGroup creates a group; store.ErrGroupExists if the name is taken in
// any case.
func (s *Store) CreateGroup(ctx context.Context, name, role string) (store.Group, error) {
	name, err := groupName(name)
	if err != nil {
		return store.Group{}, fmt.Errorf("create group: %w", err)
	}
	if err := checkRole(role); err != nil {
		return store.Group{}, fmt.Errorf("create group %q: %w", name, err)
	}
	g := store.Group{Name: name, Role: role}
	err = s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO groups(name, name_key, role) VALUES (?, ?, ?)
			ON CONFLICT(name_key) DO NOTHING RETURNING id`, name, nameKey(name), role).Scan(&g.ID)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrGroupExists
		}
		return err
	})
	if err != nil {
		return store.Group{}, fmt.Errorf("create group %q: %w", name, err)
	}
	return g, nil
}

func nameKey(name string) string { return strings.ToLower(name) }

// RenameGroup renames a group; store.ErrNotFound, store.ErrGroupExists.
func (s *Store) RenameGroup(ctx context.Context, id int64, name string) error {
	name, err := groupName(name)
	if err != nil {
		return fmt.Errorf("rename group %d: %w", id, err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		var other int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM groups WHERE name_key = ? AND id <> ?`, nameKey(name), id).Scan(&other)
		switch {
		case err == nil:
			return store.ErrGroupExists
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE groups SET name = ?, name_key = ? WHERE id = ?`, name, nameKey(name), id)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
	if err != nil {
		return fmt.Errorf("rename group %d to %q: %w", id, name, err)
	}
	return nil
}

// SetGroupRole changes a group's role; store.ErrNotFound.
func (s *Store) SetGroupRole(ctx context.Context, id int64, role string) error {
	if err := checkRole(role); err != nil {
		return fmt.Errorf("set group %d role: %w", id, err)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE groups SET role = ? WHERE id = ?`, role, id)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
	if err != nil {
		return fmt.Errorf("set group %d role: %w", id, err)
	}
	return nil
}

// DeleteGroup deletes a group and its memberships; store.ErrNotFound.
func (s *Store) DeleteGroup(ctx context.Context, id int64) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM groups WHERE id = ?`, id)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
	if err != nil {
		return fmt.Errorf("delete group %d: %w", id, err)
	}
	return nil
}

// Groups lists every group sorted by name, case-insensitively.
func (s *Store) Groups(ctx context.Context) ([]store.Group, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, role FROM groups ORDER BY name_key, id`)
	if err != nil {
		return nil, fmt.Errorf("groups: %w", err)
	}
	defer rows.Close()
	gs := []store.Group{}
	for rows.Next() {
		var g store.Group
		if err := rows.Scan(&g.ID, &g.Name, &g.Role); err != nil {
			return nil, fmt.Errorf("groups: %w", err)
		}
		gs = append(gs, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("groups: %w", err)
	}
	return gs, nil
}

func oneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// ---- users ----

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

const userColumns = `id, identifier, first_name, last_name, email, short_name, created_at, last_login`

func scanUser(sc interface{ Scan(...any) error }) (store.User, error) {
	var u store.User
	var created, last int64
	if err := sc.Scan(&u.ID, &u.Identifier, &u.FirstName, &u.LastName, &u.Email, &u.ShortName, &created, &last); err != nil {
		return store.User{}, err
	}
	u.CreatedAt, u.LastLogin = fromNanos(created), fromNanos(last)
	return u, nil
}

// loadUser reads one user with groups; where is a condition on users.
func loadUser(ctx context.Context, q querier, where string, arg any) (store.User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, store.ErrNotFound
	}
	if err != nil {
		return store.User{}, err
	}
	byUser, err := memberships(ctx, q, &u.ID)
	if err != nil {
		return store.User{}, err
	}
	u.Groups = byUser[u.ID]
	if u.Groups == nil {
		u.Groups = []store.Group{}
	}
	return u, nil
}

// memberships returns groups by user ID, each list sorted by name; all users
// when userID is nil.
func memberships(ctx context.Context, q querier, userID *int64) (map[int64][]store.Group, error) {
	query := `SELECT m.user_id, g.id, g.name, g.role FROM memberships m JOIN groups g ON g.id = m.group_id`
	var args []any
	if userID != nil {
		query += ` WHERE m.user_id = ?`
		args = append(args, *userID)
	}
	query += ` ORDER BY g.name_key, g.id`
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64][]store.Group{}
	for rows.Next() {
		var uid int64
		var g store.Group
		if err := rows.Scan(&uid, &g.ID, &g.Name, &g.Role); err != nil {
			return nil, err
		}
		out[uid] = append(out[uid], g)
	}
	return out, rows.Err()
}

// ApplyLogin writes one login's outcome atomically.
func (s *Store) ApplyLogin(ctx context.Context, o jit.Outcome, now time.Time) (store.User, bool, error) {
	key := jit.Key(o.Key)
	if key == "" {
		return store.User{}, false, errors.New("apply login: empty account key")
	}
	if o.Policy != jit.ReplaceGroups && o.Policy != jit.GroupsOnCreate {
		return store.User{}, false, fmt.Errorf("apply login %q: unknown group policy %d", key, o.Policy)
	}
	var u store.User
	var created bool
	err := s.write(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE key = ?`, key).Scan(&id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			created = true
			err = tx.QueryRowContext(ctx, `INSERT INTO users(key, identifier, first_name, last_name, email, short_name, created_at, last_login)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
				key, o.Identifier, o.FirstName, o.LastName, o.Email, o.ShortName, nanos(now), nanos(now)).Scan(&id)
			if err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			// The identifier keeps its first asserted spelling.
			if _, err := tx.ExecContext(ctx, `UPDATE users SET first_name = ?, last_name = ?, email = ?, short_name = ?, last_login = ?
				WHERE id = ?`, o.FirstName, o.LastName, o.Email, o.ShortName, nanos(now), id); err != nil {
				return err
			}
		}
		if o.Policy == jit.ReplaceGroups || created {
			ids := make([]int64, 0, len(o.Groups))
			for _, g := range o.Groups {
				ids = append(ids, g.ID)
			}
			// Groups deleted since the rules ran are skipped, not an error.
			if err := replaceMemberships(ctx, tx, id, ids, false); err != nil {
				return err
			}
		}
		u, err = loadUser(ctx, tx, `id = ?`, id)
		return err
	})
	if err != nil {
		return store.User{}, false, fmt.Errorf("apply login %q: %w", key, err)
	}
	return u, created, nil
}

// replaceMemberships sets a user's groups to groupIDs. Unknown group IDs
// are skipped, or fail with store.ErrNotFound when strict.
func replaceMemberships(ctx context.Context, tx *sql.Tx, userID int64, groupIDs []int64, strict bool) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM memberships WHERE user_id = ?`, userID); err != nil {
		return err
	}
	seen := map[int64]bool{}
	for _, gid := range groupIDs {
		if seen[gid] {
			continue
		}
		seen[gid] = true
		res, err := tx.ExecContext(ctx, `INSERT INTO memberships(user_id, group_id)
			SELECT ?, id FROM groups WHERE id = ?`, userID, gid)
		if err != nil {
			return err
		}
		if !strict {
			continue
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("group %d: %w", gid, store.ErrNotFound)
		}
	}
	return nil
}

// Users lists every user with groups, sorted by identifier (case-insensitive).
func (s *Store) Users(ctx context.Context) ([]store.User, error) {
	users := []store.User{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY key, id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			u, err := scanUser(rows)
			if err != nil {
				return err
			}
			users = append(users, u)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		byUser, err := memberships(ctx, tx, nil)
		if err != nil {
			return err
		}
		for i := range users {
			users[i].Groups = byUser[users[i].ID]
			if users[i].Groups == nil {
				users[i].Groups = []store.Group{}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	return users, nil
}

// User returns one user with groups; store.ErrNotFound.
func (s *Store) User(ctx context.Context, id int64) (store.User, error) {
	var u store.User
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		u, err = loadUser(ctx, tx, `id = ?`, id)
		return err
	})
	if err != nil {
		return store.User{}, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

// UserByKey returns the user with account key jit.Key(key); store.ErrNotFound.
func (s *Store) UserByKey(ctx context.Context, key string) (store.User, error) {
	var u store.User
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		u, err = loadUser(ctx, tx, `key = ?`, jit.Key(key))
		return err
	})
	if err != nil {
		return store.User{}, fmt.Errorf("user %q: %w", key, err)
	}
	return u, nil
}

// DeleteUser deletes a user, its memberships and sessions; store.ErrNotFound.
func (s *Store) DeleteUser(ctx context.Context, id int64) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
	if err != nil {
		return fmt.Errorf("delete user %d: %w", id, err)
	}
	return nil
}

// SetUserGroups replaces a user's groups; store.ErrNotFound if the user or
// any group does not exist (nothing is changed then).
func (s *Store) SetUserGroups(ctx context.Context, userID int64, groupIDs []int64) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ?`, userID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		return replaceMemberships(ctx, tx, userID, groupIDs, true)
	})
	if err != nil {
		return fmt.Errorf("set user %d groups: %w", userID, err)
	}
	return nil
}

// ---- sessions ----

// CreateSession records a session. UserID 0 is stored as no user (the local
// administrator).
func (s *Store) CreateSession(ctx context.Context, ss store.Session) error {
	if ss.TokenHash == "" {
		return errors.New("create session: empty token hash")
	}
	var uid any
	if ss.UserID != 0 {
		uid = ss.UserID
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions(token_hash, user_id, admin, created_at, expires_at,
			sso_name_id, sso_name_id_format, sso_session_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			ss.TokenHash, uid, ss.Admin, nanos(ss.CreatedAt), nanos(ss.ExpiresAt),
			ss.SSO.NameID, ss.SSO.NameIDFormat, ss.SSO.SessionIndex)
		return err
	})
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// Session returns a live session; store.ErrNotFound if absent or expired.
func (s *Store) Session(ctx context.Context, tokenHash string, now time.Time) (store.Session, error) {
	var ss store.Session
	var uid sql.NullInt64
	var created, expires int64
	err := s.db.QueryRowContext(ctx, `SELECT token_hash, user_id, admin, created_at, expires_at,
		sso_name_id, sso_name_id_format, sso_session_index FROM sessions
		WHERE token_hash = ? AND expires_at > ?`, tokenHash, nanos(now)).Scan(&ss.TokenHash, &uid, &ss.Admin, &created, &expires,
		&ss.SSO.NameID, &ss.SSO.NameIDFormat, &ss.SSO.SessionIndex)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Session{}, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("session: %w", err)
	}
	ss.UserID = uid.Int64
	ss.CreatedAt, ss.ExpiresAt = fromNanos(created), fromNanos(expires)
	return ss, nil
}

// DeleteSession ends a session; deleting an absent one is not an error.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions ends every session of a user and says how many.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete user %d sessions: %w", userID, err)
	}
	return int(n), nil
}

// DeleteSSOSessions ends the sessions started from an assertion about
// nameID (and one of sessionIndexes, if any) and says how many.
func (s *Store) DeleteSSOSessions(ctx context.Context, nameID string, sessionIndexes []string) (int, error) {
	if nameID == "" {
		return 0, nil // local sessions have no SSO subject
	}
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		q := `DELETE FROM sessions WHERE sso_name_id = ?`
		args := []any{nameID}
		if len(sessionIndexes) > 0 {
			q += ` AND sso_session_index IN (?` + strings.Repeat(`, ?`, len(sessionIndexes)-1) + `)`
			for _, idx := range sessionIndexes {
				args = append(args, idx)
			}
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete sso sessions: %w", err)
	}
	return int(n), nil
}

// CountUserSessions counts a user's live sessions at now.
func (s *Store) CountUserSessions(ctx context.Context, userID int64, now time.Time) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE user_id = ? AND expires_at > ?`, userID, nanos(now)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count user %d sessions: %w", userID, err)
	}
	return n, nil
}

// ---- SAML request and assertion IDs ----

// RememberRequest records an AuthnRequest ID the SP issued.
func (s *Store) RememberRequest(ctx context.Context, id string, expiresAt time.Time) error {
	if id == "" {
		return errors.New("remember request: empty ID")
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO saml_requests(id, expires_at) VALUES (?, ?)
			ON CONFLICT(id) DO UPDATE SET expires_at = excluded.expires_at`, id, nanos(expiresAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("remember request %q: %w", id, err)
	}
	return nil
}

// ConsumeRequest removes an issued, unexpired request ID; store.ErrNotFound
// otherwise. Expired IDs are purged on the way.
func (s *Store) ConsumeRequest(ctx context.Context, id string, now time.Time) error {
	var consumed bool
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM saml_requests WHERE id = ? AND expires_at > ?`, id, nanos(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		consumed = n > 0
		_, err = tx.ExecContext(ctx, `DELETE FROM saml_requests WHERE expires_at <= ?`, nanos(now))
		return err
	})
	if err == nil && !consumed {
		err = store.ErrNotFound // after committing the purge
	}
	if err != nil {
		return fmt.Errorf("consume request %q: %w", id, err)
	}
	return nil
}

// RequestIssued reports whether an issued request ID is unused and unexpired.
func (s *Store) RequestIssued(ctx context.Context, id string, now time.Time) (bool, error) {
	var n int
	err := s.read(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM saml_requests WHERE id = ? AND expires_at > ?`, id, nanos(now)).Scan(&n)
	})
	if err != nil {
		return false, fmt.Errorf("request issued %q: %w", id, err)
	}
	return n > 0, nil
}

// ConsumeAssertion records an assertion ID until expiresAt;
// store.ErrReplayed if it is already recorded and unexpired.
func (s *Store) ConsumeAssertion(ctx context.Context, id string, expiresAt, now time.Time) error {
	if id == "" {
		return errors.New("consume assertion: empty ID")
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM assertion_ids WHERE expires_at <= ?`, nanos(now)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO assertion_ids(id, expires_at) VALUES (?, ?) ON CONFLICT(id) DO NOTHING`, id, nanos(expiresAt))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrReplayed
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("consume assertion %q: %w", id, err)
	}
	return nil
}

// ---- local administrator ----

// AdminPasswordHash returns the haiadmin password hash; store.ErrNotFound if
// unset.
func (s *Store) AdminPasswordHash(ctx context.Context) ([]byte, error) {
	var h []byte
	err := s.db.QueryRowContext(ctx, `SELECT password_hash FROM admin WHERE id = 1`).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("admin password hash: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("admin password hash: %w", err)
	}
	return h, nil
}

// SetAdminPasswordHash sets the haiadmin password hash.
func (s *Store) SetAdminPasswordHash(ctx context.Context, hash []byte) error {
	if len(hash) == 0 {
		return errors.New("set admin password hash: empty hash")
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO admin(id, password_hash) VALUES (1, ?)
			ON CONFLICT(id) DO UPDATE SET password_hash = excluded.password_hash`, hash)
		return err
	})
	if err != nil {
		return fmt.Errorf("set admin password hash: %w", err)
	}
	return nil
}
