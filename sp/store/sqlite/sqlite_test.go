package sqlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hmpconform/hmpconform/sp/jit"
	"github.com/hmpconform/hmpconform/sp/settings"
	"github.com/hmpconform/hmpconform/sp/store"
)

var (
	ctx = context.Background()
	t0  = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
)

func dbPath(t *testing.T) string { return filepath.Join(t.TempDir(), "sp.db") }

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustGroup(t *testing.T, s *Store, name, role string) store.Group {
	t.Helper()
	g, err := s.CreateGroup(ctx, name, role)
	if err != nil {
		t.Fatalf("CreateGroup(%q): %v", name, err)
	}
	return g
}

func outcome(key string, policy jit.GroupPolicy, groups ...store.Group) jit.Outcome {
	o := jit.Outcome{Identifier: key, Key: jit.Key(key), FirstName: "F-" + key, Policy: policy}
	for _, g := range groups {
		o.Groups = append(o.Groups, jit.Group{ID: g.ID, Name: g.Name})
	}
	return o
}

func mustLogin(t *testing.T, s *Store, o jit.Outcome, now time.Time) (store.User, bool) {
	t.Helper()
	u, created, err := s.ApplyLogin(ctx, o, now)
	if err != nil {
		t.Fatalf("ApplyLogin(%q): %v", o.Key, err)
	}
	return u, created
}

func names(gs []store.Group) string {
	var b bytes.Buffer
	for i, g := range gs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(g.Name)
	}
	return b.String()
}

func TestOpenEmptyPath(t *testing.T) {
	if _, err := Open(""); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	path := dbPath(t)
	for i := 0; i < 3; i++ {
		s, err := Open(path)
		if err != nil {
			t.Fatalf("open #%d: %v", i, err)
		}
		var n, max int
		if err := s.db.QueryRow(`SELECT count(*), coalesce(max(version), 0) FROM schema_migrations`).Scan(&n, &max); err != nil {
			t.Fatal(err)
		}
		if n != len(migrations) || max != len(migrations) {
			t.Fatalf("open #%d: %d migrations recorded, max %d; want %d", i, n, max, len(migrations))
		}
		if i == 0 {
			mustGroup(t, s, "Ops", store.RoleViewer)
		}
		s.Close()
	}
	s := open(t, path)
	gs, err := s.Groups(ctx)
	if err != nil || len(gs) != 1 {
		t.Fatalf("Groups = %v, %v", gs, err)
	}
}

func TestPragmas(t *testing.T) {
	s := open(t, dbPath(t))
	// Check on several pooled connections at once.
	conns := make([]interface{ Close() error }, 0, 3)
	for i := 0; i < 3; i++ {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var mode string
		var fk, busy, sync int
		if err := c.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" || fk != 1 || busy != 5000 || sync != 1 {
			t.Fatalf("conn %d: journal_mode=%s foreign_keys=%d busy_timeout=%d synchronous=%d", i, mode, fk, busy, sync)
		}
	}
	for _, c := range conns {
		c.Close()
	}
}

func TestSettings(t *testing.T) {
	s := open(t, dbPath(t))
	got, err := s.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(settings.Default()) {
		t.Fatalf("Settings = %+v, want defaults", got)
	}
	want := settings.Default()
	want.Mode = settings.ModeJIT
	want.GroupMembershipAttr = "memberOf"
	want.DefaultUserGroups = []string{"Viewers", "Ops"}
	if _, err := s.SaveSettings(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err = s.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Settings = %+v, want %+v", got, want)
	}
}

func TestSaveSettingsEndsNonAdminSessionsOnly(t *testing.T) {
	s := open(t, dbPath(t))
	u1, _ := mustLogin(t, s, outcome("alice", jit.GroupsOnCreate), t0)
	u2, _ := mustLogin(t, s, outcome("bob", jit.GroupsOnCreate), t0)
	exp := t0.Add(time.Hour)
	for _, ss := range []store.Session{
		{TokenHash: "a1", UserID: u1.ID, CreatedAt: t0, ExpiresAt: exp},
		{TokenHash: "a2", UserID: u1.ID, CreatedAt: t0, ExpiresAt: exp},
		{TokenHash: "b1", UserID: u2.ID, CreatedAt: t0, ExpiresAt: exp},
		{TokenHash: "admin", Admin: true, CreatedAt: t0, ExpiresAt: exp},
	} {
		if err := s.CreateSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.SaveSettings(ctx, settings.Default())
	if err != nil || n != 3 {
		t.Fatalf("SaveSettings = %d, %v; want 3", n, err)
	}
	for _, h := range []string{"a1", "a2", "b1"} {
		if _, err := s.Session(ctx, h, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session %s: err = %v, want ErrNotFound", h, err)
		}
	}
	a, err := s.Session(ctx, "admin", t0)
	if err != nil || !a.Admin || a.UserID != 0 {
		t.Fatalf("admin session = %+v, %v", a, err)
	}
	if n, err := s.SaveSettings(ctx, settings.Default()); err != nil || n != 0 {
		t.Fatalf("second SaveSettings = %d, %v; want 0", n, err)
	}
}

func TestGroups(t *testing.T) {
	s := open(t, dbPath(t))
	if gs, err := s.Groups(ctx); err != nil || len(gs) != 0 {
		t.Fatalf("Groups = %v, %v", gs, err)
	}
	eng := mustGroup(t, s, "  Engineering ", store.RoleContentCreator)
	if eng.Name != "Engineering" || eng.Role != store.RoleContentCreator || eng.ID == 0 {
		t.Fatalf("CreateGroup = %+v", eng)
	}
	mustGroup(t, s, "beta", store.RoleViewer)
	ops := mustGroup(t, s, "Ops", store.RoleAdministrator)

	for _, tc := range []struct {
		name, role string
		want       error
	}{
		{"ENGINEERING", store.RoleViewer, store.ErrGroupExists},
		{" engineering ", store.RoleViewer, store.ErrGroupExists},
		{"", store.RoleViewer, nil},
		{"   ", store.RoleViewer, nil},
		{"New", "Superuser", nil},
		{"New", "", nil},
	} {
		_, err := s.CreateGroup(ctx, tc.name, tc.role)
		if err == nil {
			t.Errorf("CreateGroup(%q, %q) succeeded", tc.name, tc.role)
		} else if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("CreateGroup(%q, %q) = %v, want %v", tc.name, tc.role, err, tc.want)
		}
	}
	for _, r := range store.Roles() {
		mustGroup(t, s, "role "+r, r)
	}

	gs, err := s.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := "beta,Engineering,Ops,role Administrator,role Content Contributor,role Content Creator,role Set-Top Box,role Viewer"
	if names(gs) != want {
		t.Fatalf("Groups = %s, want %s", names(gs), want)
	}

	// Rename: case-only change of itself is fine; onto another is not.
	if err := s.RenameGroup(ctx, eng.ID, "ENGINEERING"); err != nil {
		t.Fatalf("RenameGroup case-only: %v", err)
	}
	if err := s.RenameGroup(ctx, eng.ID, "ops"); !errors.Is(err, store.ErrGroupExists) {
		t.Fatalf("RenameGroup onto Ops = %v, want ErrGroupExists", err)
	}
	if err := s.RenameGroup(ctx, 9999, "Nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RenameGroup missing = %v, want ErrNotFound", err)
	}
	if err := s.RenameGroup(ctx, eng.ID, " "); err == nil {
		t.Fatal("RenameGroup to blank succeeded")
	}
	if err := s.RenameGroup(ctx, eng.ID, " Dev "); err != nil {
		t.Fatal(err)
	}
	// The old name is free again.
	mustGroup(t, s, "engineering", store.RoleViewer)

	if err := s.SetGroupRole(ctx, ops.ID, store.RoleSetTopBox); err != nil {
		t.Fatal(err)
	}
	if err := s.SetGroupRole(ctx, ops.ID, "root"); err == nil {
		t.Fatal("SetGroupRole(bad role) succeeded")
	}
	if err := s.SetGroupRole(ctx, 9999, store.RoleViewer); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetGroupRole missing = %v", err)
	}
	gs, _ = s.Groups(ctx)
	found := map[string]string{}
	for _, g := range gs {
		found[g.Name] = g.Role
	}
	if found["Dev"] != store.RoleContentCreator || found["Ops"] != store.RoleSetTopBox || found["engineering"] != store.RoleViewer {
		t.Fatalf("groups after edits: %v", found)
	}

	if err := s.DeleteGroup(ctx, ops.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGroup(ctx, ops.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteGroup twice = %v, want ErrNotFound", err)
	}
}

func TestApplyLoginCreateAndRefresh(t *testing.T) {
	s := open(t, dbPath(t))
	o := jit.Outcome{Identifier: "Alice@Example.com", Key: "alice@example.com", FirstName: "Alice", LastName: "Smith",
		Email: "alice@example.com", ShortName: "ali", Policy: jit.GroupsOnCreate}
	u, created := mustLogin(t, s, o, t0)
	if !created || u.ID == 0 || u.Identifier != "Alice@Example.com" || u.FirstName != "Alice" || u.LastName != "Smith" ||
		u.Email != "alice@example.com" || u.ShortName != "ali" || !u.CreatedAt.Equal(t0) || !u.LastLogin.Equal(t0) {
		t.Fatalf("first login: created=%v %+v", created, u)
	}
	if u.Groups == nil || len(u.Groups) != 0 {
		t.Fatalf("Groups = %#v, want empty", u.Groups)
	}

	t1 := t0.Add(time.Hour)
	o2 := jit.Outcome{Identifier: "ALICE@example.com", Key: "alice@example.com", FirstName: "Alicia", LastName: "",
		Email: "a@example.com", ShortName: "", Policy: jit.GroupsOnCreate}
	u2, created := mustLogin(t, s, o2, t1)
	if created || u2.ID != u.ID {
		t.Fatalf("second login created=%v id=%d, want same account %d", created, u2.ID, u.ID)
	}
	if u2.Identifier != "Alice@Example.com" {
		t.Errorf("Identifier = %q, want first spelling kept", u2.Identifier)
	}
	if u2.FirstName != "Alicia" || u2.LastName != "" || u2.Email != "a@example.com" || u2.ShortName != "" {
		t.Errorf("attributes not refreshed: %+v", u2)
	}
	if !u2.CreatedAt.Equal(t0) || !u2.LastLogin.Equal(t1) {
		t.Errorf("CreatedAt=%v LastLogin=%v", u2.CreatedAt, u2.LastLogin)
	}

	// UserByKey folds the key it is given.
	byKey, err := s.UserByKey(ctx, "  ALICE@EXAMPLE.COM ")
	if err != nil || byKey.ID != u.ID {
		t.Fatalf("UserByKey = %+v, %v", byKey, err)
	}
	if _, err := s.UserByKey(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UserByKey missing = %v", err)
	}
	if _, err := s.User(ctx, 9999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("User missing = %v", err)
	}

	// Bad outcomes are refused.
	if _, _, err := s.ApplyLogin(ctx, jit.Outcome{Key: " ", Policy: jit.ReplaceGroups}, t0); err == nil {
		t.Error("ApplyLogin with empty key succeeded")
	}
	if _, _, err := s.ApplyLogin(ctx, jit.Outcome{Key: "x", Identifier: "x"}, t0); err == nil {
		t.Error("ApplyLogin with no policy succeeded")
	}
}

func TestApplyLoginGroupPolicies(t *testing.T) {
	s := open(t, dbPath(t))
	eng := mustGroup(t, s, "Engineering", store.RoleContentCreator)
	ops := mustGroup(t, s, "Ops", store.RoleViewer)
	view := mustGroup(t, s, "Viewers", store.RoleViewer)

	t.Run("ReplaceGroups", func(t *testing.T) {
		u, _ := mustLogin(t, s, outcome("r", jit.ReplaceGroups, ops, eng), t0)
		if names(u.Groups) != "Engineering,Ops" {
			t.Fatalf("groups = %s", names(u.Groups))
		}
		u, _ = mustLogin(t, s, outcome("r", jit.ReplaceGroups, view), t0)
		if names(u.Groups) != "Viewers" {
			t.Fatalf("groups after replace = %s", names(u.Groups))
		}
		u, _ = mustLogin(t, s, outcome("r", jit.ReplaceGroups), t0)
		if len(u.Groups) != 0 {
			t.Fatalf("groups after empty replace = %s", names(u.Groups))
		}
		// A group deleted after the rules ran is skipped, not an error;
		// duplicates are harmless.
		gone := store.Group{ID: 424242, Name: "Gone"}
		u, _ = mustLogin(t, s, outcome("r", jit.ReplaceGroups, gone, ops, ops), t0)
		if names(u.Groups) != "Ops" {
			t.Fatalf("groups = %s", names(u.Groups))
		}
	})

	t.Run("GroupsOnCreate", func(t *testing.T) {
		u, created := mustLogin(t, s, outcome("c", jit.GroupsOnCreate, view), t0)
		if !created || names(u.Groups) != "Viewers" {
			t.Fatalf("created=%v groups=%s", created, names(u.Groups))
		}
		// Administrator edits; later logins leave groups alone.
		if err := s.SetUserGroups(ctx, u.ID, []int64{eng.ID, ops.ID}); err != nil {
			t.Fatal(err)
		}
		u, created = mustLogin(t, s, outcome("c", jit.GroupsOnCreate, view), t0.Add(time.Minute))
		if created || names(u.Groups) != "Engineering,Ops" {
			t.Fatalf("created=%v groups=%s", created, names(u.Groups))
		}
		u, _ = mustLogin(t, s, outcome("c", jit.GroupsOnCreate), t0.Add(2*time.Minute))
		if names(u.Groups) != "Engineering,Ops" {
			t.Fatalf("groups = %s", names(u.Groups))
		}
	})
}

func TestUsersAndSetUserGroups(t *testing.T) {
	s := open(t, dbPath(t))
	a := mustGroup(t, s, "alpha", store.RoleViewer)
	b := mustGroup(t, s, "Beta", store.RoleViewer)
	if us, err := s.Users(ctx); err != nil || us == nil || len(us) != 0 {
		t.Fatalf("Users = %#v, %v", us, err)
	}
	mustLogin(t, s, outcome("Zed", jit.ReplaceGroups, b, a), t0)
	carol, _ := mustLogin(t, s, outcome("carol", jit.ReplaceGroups), t0)
	mustLogin(t, s, outcome("Bob", jit.ReplaceGroups, b), t0)

	us, err := s.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range us {
		got = append(got, u.Identifier+":"+names(u.Groups))
		if u.Groups == nil {
			t.Errorf("%s: nil Groups", u.Identifier)
		}
	}
	if fmt.Sprint(got) != "[Bob:Beta carol: Zed:alpha,Beta]" {
		t.Fatalf("Users = %v", got)
	}

	if err := s.SetUserGroups(ctx, carol.ID, []int64{b.ID, a.ID, b.ID}); err != nil {
		t.Fatal(err)
	}
	u, err := s.User(ctx, carol.ID)
	if err != nil || names(u.Groups) != "alpha,Beta" {
		t.Fatalf("User = %+v, %v", u, err)
	}
	// An unknown group fails and changes nothing.
	if err := s.SetUserGroups(ctx, carol.ID, []int64{a.ID, 9999}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetUserGroups unknown group = %v", err)
	}
	u, _ = s.User(ctx, carol.ID)
	if names(u.Groups) != "alpha,Beta" {
		t.Fatalf("groups after failed SetUserGroups = %s", names(u.Groups))
	}
	if err := s.SetUserGroups(ctx, 9999, []int64{a.ID}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetUserGroups unknown user = %v", err)
	}
	if err := s.SetUserGroups(ctx, carol.ID, nil); err != nil {
		t.Fatal(err)
	}
	u, _ = s.User(ctx, carol.ID)
	if len(u.Groups) != 0 {
		t.Fatalf("groups = %s", names(u.Groups))
	}
}

func TestCascadingDeletes(t *testing.T) {
	s := open(t, dbPath(t))
	g1 := mustGroup(t, s, "One", store.RoleViewer)
	g2 := mustGroup(t, s, "Two", store.RoleViewer)
	alice, _ := mustLogin(t, s, outcome("alice", jit.ReplaceGroups, g1, g2), t0)
	bob, _ := mustLogin(t, s, outcome("bob", jit.ReplaceGroups, g1), t0)
	exp := t0.Add(time.Hour)
	for _, ss := range []store.Session{
		{TokenHash: "a", UserID: alice.ID, CreatedAt: t0, ExpiresAt: exp},
		{TokenHash: "b", UserID: bob.ID, CreatedAt: t0, ExpiresAt: exp},
		{TokenHash: "adm", Admin: true, CreatedAt: t0, ExpiresAt: exp},
	} {
		if err := s.CreateSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}

	// Deleting a group drops its memberships.
	if err := s.DeleteGroup(ctx, g1.ID); err != nil {
		t.Fatal(err)
	}
	a, _ := s.User(ctx, alice.ID)
	b, _ := s.User(ctx, bob.ID)
	if names(a.Groups) != "Two" || len(b.Groups) != 0 {
		t.Fatalf("after group delete: alice=%s bob=%s", names(a.Groups), names(b.Groups))
	}

	// Deleting a user drops its memberships and sessions.
	if err := s.DeleteUser(ctx, alice.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, alice.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteUser twice = %v", err)
	}
	if _, err := s.Session(ctx, "a", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("alice's session = %v, want ErrNotFound", err)
	}
	var n int
	if err := s.db.QueryRow(`SELECT count(*) FROM memberships WHERE user_id = ?`, alice.ID).Scan(&n); err != nil || n != 0 {
		t.Fatalf("alice memberships = %d, %v", n, err)
	}
	for _, h := range []string{"b", "adm"} {
		if _, err := s.Session(ctx, h, t0); err != nil {
			t.Fatalf("session %s: %v", h, err)
		}
	}
	// The group survives its members.
	gs, _ := s.Groups(ctx)
	if names(gs) != "Two" {
		t.Fatalf("groups = %s", names(gs))
	}
	// Sessions for a missing user are refused by the foreign key.
	if err := s.CreateSession(ctx, store.Session{TokenHash: "x", UserID: alice.ID, CreatedAt: t0, ExpiresAt: exp}); err == nil {
		t.Fatal("CreateSession for deleted user succeeded")
	}
}

func TestSessions(t *testing.T) {
	s := open(t, dbPath(t))
	u, _ := mustLogin(t, s, outcome("alice", jit.GroupsOnCreate), t0)
	exp := t0.Add(time.Hour)
	want := store.Session{TokenHash: "h1", UserID: u.ID, CreatedAt: t0, ExpiresAt: exp}
	if err := s.CreateSession(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, want); err == nil {
		t.Fatal("duplicate CreateSession succeeded")
	}
	if err := s.CreateSession(ctx, store.Session{UserID: u.ID, ExpiresAt: exp}); err == nil {
		t.Fatal("CreateSession with empty hash succeeded")
	}
	got, err := s.Session(ctx, "h1", t0)
	if err != nil || got.TokenHash != "h1" || got.UserID != u.ID || got.Admin || !got.CreatedAt.Equal(t0) || !got.ExpiresAt.Equal(exp) {
		t.Fatalf("Session = %+v, %v", got, err)
	}
	if _, err := s.Session(ctx, "h1", exp.Add(-time.Nanosecond)); err != nil {
		t.Fatalf("Session just before expiry: %v", err)
	}
	if _, err := s.Session(ctx, "h1", exp); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Session at expiry = %v, want ErrNotFound", err)
	}
	if _, err := s.Session(ctx, "nope", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Session missing = %v", err)
	}

	if err := s.CreateSession(ctx, store.Session{TokenHash: "h2", UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CountUserSessions(ctx, u.ID, t0); err != nil || n != 2 {
		t.Fatalf("CountUserSessions = %d, %v; want 2", n, err)
	}
	if n, err := s.CountUserSessions(ctx, u.ID, t0.Add(2*time.Minute)); err != nil || n != 1 {
		t.Fatalf("CountUserSessions later = %d, %v; want 1", n, err)
	}

	if err := s.DeleteSession(ctx, "h2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, "h2"); err != nil {
		t.Fatalf("DeleteSession of absent session: %v", err)
	}
	if err := s.CreateSession(ctx, store.Session{TokenHash: "h3", UserID: u.ID, CreatedAt: t0, ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, store.Session{TokenHash: "adm", Admin: true, CreatedAt: t0, ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteUserSessions(ctx, u.ID); err != nil || n != 2 {
		t.Fatalf("DeleteUserSessions = %d, %v; want 2", n, err)
	}
	if n, _ := s.CountUserSessions(ctx, u.ID, t0); n != 0 {
		t.Fatalf("sessions left: %d", n)
	}
	if _, err := s.Session(ctx, "adm", t0); err != nil {
		t.Fatalf("admin session: %v", err)
	}
}

func TestRequests(t *testing.T) {
	s := open(t, dbPath(t))
	exp := t0.Add(5 * time.Minute)
	if err := s.RememberRequest(ctx, "req1", exp); err != nil {
		t.Fatal(err)
	}
	if err := s.RememberRequest(ctx, "req2", exp); err != nil {
		t.Fatal(err)
	}
	if err := s.RememberRequest(ctx, "", exp); err == nil {
		t.Fatal("RememberRequest(\"\") succeeded")
	}
	if err := s.ConsumeRequest(ctx, "never", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ConsumeRequest never issued = %v", err)
	}
	if err := s.ConsumeRequest(ctx, "req1", t0); err != nil {
		t.Fatalf("ConsumeRequest: %v", err)
	}
	if err := s.ConsumeRequest(ctx, "req1", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ConsumeRequest reused = %v", err)
	}
	if err := s.ConsumeRequest(ctx, "req2", exp); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ConsumeRequest at expiry = %v", err)
	}
	var n int
	if err := s.db.QueryRow(`SELECT count(*) FROM saml_requests`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("requests left = %d, %v (expired ones should be purged)", n, err)
	}
}

func TestAssertionReplayCache(t *testing.T) {
	s := open(t, dbPath(t))
	exp := t0.Add(5 * time.Minute)
	if err := s.ConsumeAssertion(ctx, "as1", exp, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.ConsumeAssertion(ctx, "as1", exp, t0.Add(time.Minute)); !errors.Is(err, store.ErrReplayed) {
		t.Fatalf("replay = %v, want ErrReplayed", err)
	}
	if err := s.ConsumeAssertion(ctx, "", exp, t0); err == nil {
		t.Fatal("empty assertion ID accepted")
	}
	if err := s.ConsumeAssertion(ctx, "as2", exp, t0); err != nil {
		t.Fatal(err)
	}
	// After expiry the record may be purged, so the ID is accepted again
	// (the assertion itself would have been refused as expired by then).
	if err := s.ConsumeAssertion(ctx, "as1", exp.Add(time.Hour), exp); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	var n int
	if err := s.db.QueryRow(`SELECT count(*) FROM assertion_ids`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("assertion IDs kept = %d, %v; want 1", n, err)
	}

	// Concurrent consumers of one ID: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, replayed := 0, 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.ConsumeAssertion(ctx, "race", exp, t0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, store.ErrReplayed):
				replayed++
			default:
				t.Errorf("ConsumeAssertion: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || replayed != 19 {
		t.Fatalf("ok=%d replayed=%d", ok, replayed)
	}
}

func TestAdminPasswordHash(t *testing.T) {
	s := open(t, dbPath(t))
	if _, err := s.AdminPasswordHash(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unset = %v", err)
	}
	if err := s.SetAdminPasswordHash(ctx, nil); err == nil {
		t.Fatal("empty hash accepted")
	}
	for _, h := range []string{"$2a$10$first", "$2a$10$second"} {
		if err := s.SetAdminPasswordHash(ctx, []byte(h)); err != nil {
			t.Fatal(err)
		}
		got, err := s.AdminPasswordHash(ctx)
		if err != nil || string(got) != h {
			t.Fatalf("AdminPasswordHash = %q, %v; want %q", got, err, h)
		}
	}
}

func TestConcurrentFirstLogins(t *testing.T) {
	s := open(t, dbPath(t))
	g := mustGroup(t, s, "Viewers", store.RoleViewer)
	const n = 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	createdCount := 0
	ids := map[int64]bool{}
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			// Same account key, different asserted spellings.
			o := outcome("alice@example.com", jit.ReplaceGroups, g)
			if i%2 == 1 {
				o.Identifier = "ALICE@example.com"
			}
			u, created, err := s.ApplyLogin(ctx, o, t0.Add(time.Duration(i)*time.Millisecond))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("login %d: %v", i, err)
				return
			}
			ids[u.ID] = true
			if created {
				createdCount++
			}
		}(i)
	}
	// Concurrent readers alongside the writers.
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := s.Users(ctx); err != nil {
				t.Errorf("Users: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if createdCount != 1 || len(ids) != 1 {
		t.Fatalf("created %d times, %d distinct IDs; want 1, 1", createdCount, len(ids))
	}
	us, err := s.Users(ctx)
	if err != nil || len(us) != 1 || names(us[0].Groups) != "Viewers" {
		t.Fatalf("Users = %+v, %v", us, err)
	}
}

// Two Store values on one file (as two processes would be) must not create
// two accounts either.
func TestConcurrentFirstLoginsTwoHandles(t *testing.T) {
	path := dbPath(t)
	s1, s2 := open(t, path), open(t, path)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	created := make(chan bool, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := s1
			if i%2 == 1 {
				s = s2
			}
			_, c, err := s.ApplyLogin(ctx, outcome("bob", jit.GroupsOnCreate), t0)
			errs <- err
			created <- c
		}(i)
	}
	wg.Wait()
	close(errs)
	close(created)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for c := range created {
		if c {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("created %d times", n)
	}
}

func TestRestartKeepsEverything(t *testing.T) {
	path := dbPath(t)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st := settings.Default()
	st.Mode = settings.ModeJIT
	st.AudienceURI = "https://sp.example/"
	st.DefaultUserGroups = []string{"Viewers"}
	if _, err := s.SaveSettings(ctx, st); err != nil {
		t.Fatal(err)
	}
	g := mustGroup(t, s, "Viewers", store.RoleViewer)
	u, _ := mustLogin(t, s, outcome("alice", jit.ReplaceGroups, g), t0)
	exp := t0.Add(time.Hour)
	if err := s.CreateSession(ctx, store.Session{TokenHash: "h", UserID: u.ID, CreatedAt: t0, ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, store.Session{TokenHash: "adm", Admin: true, CreatedAt: t0, ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	if err := s.RememberRequest(ctx, "req", exp); err != nil {
		t.Fatal(err)
	}
	if err := s.ConsumeAssertion(ctx, "as", exp, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAdminPasswordHash(ctx, []byte("hash")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	gotSt, err := s.Settings(ctx)
	if err != nil || fmt.Sprint(gotSt) != fmt.Sprint(st) {
		t.Fatalf("Settings = %+v, %v", gotSt, err)
	}
	gs, err := s.Groups(ctx)
	if err != nil || len(gs) != 1 || gs[0] != g {
		t.Fatalf("Groups = %+v, %v", gs, err)
	}
	gotU, err := s.UserByKey(ctx, "alice")
	if err != nil || gotU.ID != u.ID || names(gotU.Groups) != "Viewers" || !gotU.CreatedAt.Equal(t0) {
		t.Fatalf("user = %+v, %v", gotU, err)
	}
	if ss, err := s.Session(ctx, "h", t0); err != nil || ss.UserID != u.ID {
		t.Fatalf("session = %+v, %v", ss, err)
	}
	if ss, err := s.Session(ctx, "adm", t0); err != nil || !ss.Admin {
		t.Fatalf("admin session = %+v, %v", ss, err)
	}
	if err := s.ConsumeAssertion(ctx, "as", exp, t0); !errors.Is(err, store.ErrReplayed) {
		t.Fatalf("replay after restart = %v, want ErrReplayed", err)
	}
	if err := s.ConsumeRequest(ctx, "req", t0); err != nil {
		t.Fatalf("request after restart: %v", err)
	}
	if h, err := s.AdminPasswordHash(ctx); err != nil || string(h) != "hash" {
		t.Fatalf("admin hash = %q, %v", h, err)
	}
	// A later login is not a creation.
	if _, created := mustLogin(t, s, outcome("ALICE", jit.ReplaceGroups), t0); created {
		t.Fatal("login after restart created a second account")
	}
}

func TestErrorsCarryContext(t *testing.T) {
	s := open(t, dbPath(t))
	mustGroup(t, s, "Ops", store.RoleViewer)
	_, err := s.CreateGroup(ctx, "ops", store.RoleViewer)
	if !errors.Is(err, store.ErrGroupExists) || err.Error() == store.ErrGroupExists.Error() {
		t.Fatalf("err = %v: want wrapped ErrGroupExists with context", err)
	}
}

func TestRequestIssuedPeeksWithoutConsuming(t *testing.T) {
	ctx := context.Background()
	st, err := Open(filepath.Join(t.TempDir(), "peek.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Unix(1_800_000_000, 0)
	if err := st.RememberRequest(ctx, "id-1", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if ok, err := st.RequestIssued(ctx, "id-1", now); err != nil || !ok {
			t.Fatalf("peek %d: ok=%v err=%v", i, ok, err)
		}
	}
	if ok, _ := st.RequestIssued(ctx, "id-1", now.Add(time.Minute)); ok {
		t.Fatal("an expired request ID is still issued")
	}
	if ok, _ := st.RequestIssued(ctx, "never", now); ok {
		t.Fatal("an unknown request ID is issued")
	}
	if err := st.ConsumeRequest(ctx, "id-1", now); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.RequestIssued(ctx, "id-1", now); ok {
		t.Fatal("a consumed request ID is still issued")
	}
}
