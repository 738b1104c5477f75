// Package store defines the reference SP's persistence as an interface the
// SP owns; sp/store/sqlite is the embedded default implementation.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/hmpconform/hmpconform/sp/jit"
	"github.com/hmpconform/hmpconform/sp/settings"
)

// Roles a group can carry, as HMP names them.
const (
	RoleAdministrator      = "Administrator"
	RoleContentCreator     = "Content Creator"
	RoleContentContributor = "Content Contributor"
	RoleViewer             = "Viewer"
	RoleSetTopBox          = "Set-Top Box"
)

// Roles lists the valid roles in display order.
func Roles() []string {
	return []string{RoleAdministrator, RoleContentCreator, RoleContentContributor, RoleViewer, RoleSetTopBox}
}

var (
	ErrNotFound    = errors.New("not found")
	ErrGroupExists = errors.New("a group with that name already exists")
	ErrReplayed    = errors.New("already used")
)

// Group is an SP group.
type Group struct {
	ID   int64
	Name string
	Role string
}

// User is a JIT-provisioned account.
type User struct {
	ID         int64
	Identifier string // as first asserted
	FirstName  string
	LastName   string
	Email      string
	ShortName  string
	CreatedAt  time.Time
	LastLogin  time.Time
	Groups     []Group // sorted by name
}

// Session is a signed-in browser. UserID 0 with Admin true is the local
// haiadmin.
type Session struct {
	TokenHash string // hex SHA-256 of the cookie value; the cookie itself is never stored
	UserID    int64
	Admin     bool
	CreatedAt time.Time
	ExpiresAt time.Time
	// SSO is who the IdP said the user is, for Single Logout; zero for a
	// local sign-in.
	SSO SSOSubject
}

// SSOSubject is the subject of the assertion a session was started from:
// what a LogoutRequest to the IdP must name.
type SSOSubject struct {
	NameID       string
	NameIDFormat string
	SessionIndex string
}

// Store is everything the SP persists. Every method is safe for concurrent
// use; multi-step writes are atomic.
type Store interface {
	// Settings returns the saved settings, or settings.Default() if none.
	Settings(ctx context.Context) (settings.Settings, error)
	// SaveSettings saves s and, in the same transaction, ends every session
	// that is not the local administrator's. It returns how many ended.
	SaveSettings(ctx context.Context, s settings.Settings) (endedSessions int, err error)

	CreateGroup(ctx context.Context, name, role string) (Group, error) // ErrGroupExists (case-insensitive)
	RenameGroup(ctx context.Context, id int64, name string) error      // ErrNotFound, ErrGroupExists
	SetGroupRole(ctx context.Context, id int64, role string) error
	DeleteGroup(ctx context.Context, id int64) error // also drops its memberships
	Groups(ctx context.Context) ([]Group, error)     // sorted by name, case-insensitive

	// ApplyLogin writes one login's outcome atomically: it creates the
	// account keyed by o.Key if absent (never two for one key, even under
	// concurrent calls), refreshes its attributes, and writes o.Groups per
	// o.Policy (ReplaceGroups: always; GroupsOnCreate: only when created).
	ApplyLogin(ctx context.Context, o jit.Outcome, now time.Time) (u User, created bool, err error)
	Users(ctx context.Context) ([]User, error) // with groups, sorted by identifier
	User(ctx context.Context, id int64) (User, error)
	UserByKey(ctx context.Context, key string) (User, error)
	DeleteUser(ctx context.Context, id int64) error // also its memberships and sessions
	SetUserGroups(ctx context.Context, userID int64, groupIDs []int64) error

	CreateSession(ctx context.Context, s Session) error
	// Session returns a live session (ErrNotFound if absent or expired at now).
	Session(ctx context.Context, tokenHash string, now time.Time) (Session, error)
	DeleteSession(ctx context.Context, tokenHash string) error
	DeleteUserSessions(ctx context.Context, userID int64) (int, error)
	// DeleteSSOSessions ends the sessions started from an assertion about
	// nameID and, when sessionIndexes is not empty, with one of those
	// SessionIndexes (an IdP-initiated LogoutRequest); it says how many.
	DeleteSSOSessions(ctx context.Context, nameID string, sessionIndexes []string) (int, error)
	CountUserSessions(ctx context.Context, userID int64, now time.Time) (int, error)

	// RememberRequest records an AuthnRequest ID the SP issued.
	RememberRequest(ctx context.Context, id string, expiresAt time.Time) error
	// RequestIssued reports whether id was issued and is still unused and
	// unexpired, without using it up.
	RequestIssued(ctx context.Context, id string, now time.Time) (bool, error)
	// ConsumeRequest removes an issued, unexpired request ID; ErrNotFound if
	// it was never issued, already used or expired.
	ConsumeRequest(ctx context.Context, id string, now time.Time) error
	// ConsumeAssertion records an assertion ID as used until expiresAt;
	// ErrReplayed if it is already recorded. Expired records may be purged.
	ConsumeAssertion(ctx context.Context, id string, expiresAt, now time.Time) error

	// AdminPasswordHash is the haiadmin bcrypt hash (ErrNotFound if unset).
	AdminPasswordHash(ctx context.Context) ([]byte, error)
	SetAdminPasswordHash(ctx context.Context, hash []byte) error

	Close() error
}
