package mockidp

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Found by a break-it pass on IdP sessions; each test failed before its fix.

// A logins:1 session answers exactly one of many parallel logins (the use
// is checked and counted in one step).
func TestIdPSessionLastUseIsTakenOnce(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	for round := range 5 {
		s, err := e.idp.StartSession(SessionLogin{User: fmt.Sprintf("c%d@example.com", round), Logins: 1})
		if err != nil {
			t.Fatal(err)
		}
		const n = 32
		urls := make([]string, n)
		for i := range urls {
			urls[i], _ = e.redirectRequest("")
		}
		var answered atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if strings.Contains(e.getWithSession(urls[i], s.ID).Body.String(), `id="SAMLResponseForm"`) {
					answered.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		if got := answered.Load(); got != 1 {
			t.Errorf("round %d: a logins:1 session answered %d of %d parallel logins", round, got, n)
		}
	}
}

// A session's login is the session's values: a login queued for the same
// user is left for the form.
func TestIdPSessionTakesNoQueuedLogin(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	wantJSON(t, e.api("PUT", queuePath("q@example.com"), `{"groups":["FromQueue"],"firstName":"Queued"}`), 201, nil)
	s, err := e.idp.StartSession(SessionLogin{User: "q@example.com", NextLogin: NextLogin{Groups: []string{"FromSession"}, FirstName: new("Sess")}})
	if err != nil {
		t.Fatal(err)
	}
	a := e.sessionLogin(t, s.ID)
	if !slices.Equal(attrValues(a, "groups"), []string{"FromSession"}) || !slices.Equal(attrValues(a, "firstName"), []string{"Sess"}) {
		t.Errorf("session login sent groups %q firstName %q", attrValues(a, "groups"), attrValues(a, "firstName"))
	}
	if l := lastLog(t, e.idp); l.Options == nil || l.Options.Source != "session" {
		t.Errorf("logged source %+v", l.Options)
	}
	wantJSON(t, e.api("GET", queuePath("q@example.com"), ""), 200, nil) // still queued
}

// A persona session takes the persona as it is at each login, as a queued
// login and the form do; a deleted persona refuses the login with a reason.
func TestIdPSessionSeesThePersonaAsItIsNow(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	s, err := e.idp.StartSession(SessionLogin{NextLogin: NextLogin{Persona: "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	wantJSON(t, e.api("PUT", "/api/personas/alice", `{"id":"alice","nameID":"alice@example.com","firstName":"Changed","groups":["NewGroup"]}`), 200, nil)
	a := e.sessionLogin(t, s.ID)
	if !slices.Equal(attrValues(a, "firstName"), []string{"Changed"}) || !slices.Equal(attrValues(a, "groups"), []string{"NewGroup"}) {
		t.Errorf("after the persona changed: firstName %q groups %q", attrValues(a, "firstName"), attrValues(a, "groups"))
	}
	if rec := e.api("DELETE", "/api/personas/alice", ""); rec.Code != http.StatusNoContent {
		t.Fatalf("delete persona: %d", rec.Code)
	}
	u, _ := e.redirectRequest("")
	rec := e.getWithSession(u, s.ID)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "Unknown persona alice") {
		t.Errorf("after the persona was deleted: %d, want the form refusing it:\n%.300s", rec.Code, rec.Body)
	}
}

// The user is taken as the form takes a username: not trimmed.
func TestIdPSessionUserAsTyped(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	s, err := e.idp.StartSession(SessionLogin{User: " u@example.com "})
	if err != nil {
		t.Fatal(err)
	}
	if a := e.sessionLogin(t, s.ID); a.Subject.NameID.Value != " u@example.com " {
		t.Errorf("NameID %q", a.Subject.NameID.Value)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// A randomness that repeats cannot make a second session replace the first.
func TestIdPSessionIDsNeverCollide(t *testing.T) {
	key, cert, err := LoadOrCreateKeyPair(t.TempDir(), time.Now(), "idp.mock.test")
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(idpBase)
	s, err := New(Config{BaseURL: base, Key: key, Certificate: cert, Rand: zeroReader{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.StartSession(SessionLogin{User: "alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartSession(SessionLogin{User: "mallory@example.com"}); err == nil || !strings.Contains(err.Error(), "taken") {
		t.Errorf("second session with a repeated ID: %v", err)
	}
	if got, _ := s.sessions.get(a.ID, time.Now()); got.User != "alice@example.com" {
		t.Errorf("alice's session now signs in %q", got.User)
	}
}

// With two session cookies (another Path or Domain) the live one counts.
func TestIdPSessionAnyLiveCookie(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	s, err := e.idp.StartSession(SessionLogin{User: "ck@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, hdr := range []string{SessionCookie + "=bogus; " + SessionCookie + "=" + s.ID, SessionCookie + "=" + s.ID + "; " + SessionCookie + "=bogus"} {
		u, _ := e.redirectRequest("")
		req := httptest.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Cookie", hdr)
		if rec := e.do(req); !strings.Contains(rec.Body.String(), `id="SAMLResponseForm"`) {
			t.Errorf("Cookie: %s: not answered (%d)", hdr, rec.Code)
		}
	}
}

// Of several live sessions, the first that may answer this SP answers: a
// session scoped to another SP coming first in the Cookie header used to
// stop the login at the form (NoPassive for a passive request), while the
// order B, A signed the person in.
func TestIdPSessionSkipsAnotherSPsSession(t *testing.T) {
	e := newEnv(t, envOpts{trustAny: true}) // a scope must be a known SP
	elsewhere, err := e.idp.StartSession(SessionLogin{User: "else@example.com", SP: "https://elsewhere.test/metadata"})
	if err != nil {
		t.Fatal(err)
	}
	here, err := e.idp.StartSession(SessionLogin{User: "here@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, hdr := range []string{
		SessionCookie + "=" + elsewhere.ID + "; " + SessionCookie + "=" + here.ID,
		SessionCookie + "=" + here.ID + "; " + SessionCookie + "=" + elsewhere.ID,
	} {
		u, _ := e.redirectRequest("")
		req := httptest.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Cookie", hdr)
		if rec := e.do(req); !strings.Contains(rec.Body.String(), `id="SAMLResponseForm"`) {
			t.Errorf("Cookie: %s: not answered (%d)", hdr, rec.Code)
		}
		if l := lastLog(t, e.idp); l.NameID != "here@example.com" {
			t.Errorf("Cookie: %s: answered as %q, want the session for this SP", hdr, l.NameID)
		}
	}
}
