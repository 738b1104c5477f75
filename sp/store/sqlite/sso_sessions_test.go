package sqlite

import (
	"errors"
	"testing"
	"time"

	"github.com/hmpconform/hmpconform/sp/jit"
	"github.com/hmpconform/hmpconform/sp/store"
)

func TestSSOSubjectOfSessions(t *testing.T) {
	s := open(t, dbPath(t))
	u, _ := mustLogin(t, s, outcome("alice", jit.GroupsOnCreate), t0)
	exp := t0.Add(time.Hour)
	alice := func(idx string) store.SSOSubject {
		return store.SSOSubject{NameID: "alice@example.com", NameIDFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", SessionIndex: idx}
	}
	for _, ss := range []store.Session{
		{TokenHash: "s1", UserID: u.ID, CreatedAt: t0, ExpiresAt: exp, SSO: alice("idx-1")},
		{TokenHash: "s2", UserID: u.ID, CreatedAt: t0, ExpiresAt: exp, SSO: alice("idx-2")},
		{TokenHash: "s3", UserID: u.ID, CreatedAt: t0, ExpiresAt: exp, SSO: alice("idx-3")},
		{TokenHash: "admin", Admin: true, CreatedAt: t0, ExpiresAt: exp},
	} {
		if err := s.CreateSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Session(ctx, "s1", t0)
	if err != nil || got.SSO != alice("idx-1") {
		t.Fatalf("Session s1 = %+v, %v", got.SSO, err)
	}
	if a, err := s.Session(ctx, "admin", t0); err != nil || a.SSO != (store.SSOSubject{}) {
		t.Fatalf("admin session SSO = %+v, %v", a.SSO, err)
	}

	// A local session (no NameID) is never matched.
	if n, err := s.DeleteSSOSessions(ctx, "", nil); err != nil || n != 0 {
		t.Fatalf("DeleteSSOSessions(\"\") = %d, %v", n, err)
	}
	if n, err := s.DeleteSSOSessions(ctx, "alice@example.com", []string{"idx-2", "idx-9"}); err != nil || n != 1 {
		t.Fatalf("by session index = %d, %v; want 1", n, err)
	}
	if _, err := s.Session(ctx, "s2", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("s2 survived: %v", err)
	}
	if n, err := s.DeleteSSOSessions(ctx, "alice@example.com", nil); err != nil || n != 2 {
		t.Fatalf("every session of the NameID = %d, %v; want 2", n, err)
	}
	if _, err := s.Session(ctx, "admin", t0); err != nil {
		t.Errorf("admin session ended: %v", err)
	}
}
