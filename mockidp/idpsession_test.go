package mockidp

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/crewjam/saml"
)

// withSession is a GET of u presenting the IdP session cookie id.
func (e *env) getWithSession(u, id string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, u, nil)
	if id != "" {
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: id})
	}
	return e.do(req)
}

// sessionLogin is an SP-initiated login presenting session id; it returns
// the assertion the SP accepted, or fails when the IdP drew its form.
func (e *env) sessionLogin(t *testing.T, id string) *saml.Assertion {
	t.Helper()
	u, reqID := e.redirectRequest("rs")
	rec := e.getWithSession(u, id)
	if strings.Contains(rec.Body.String(), `id="login"`) {
		t.Fatalf("the IdP drew its login form despite the session")
	}
	a, err := e.sp.ParseXMLResponse(samlResponse(t, rec), []string{reqID}, e.sp.AcsURL)
	if err != nil {
		t.Fatalf("the SP refused the response: %v", err)
	}
	return a
}

// drawsForm fails unless the IdP answers u (with session id) with its login form.
func (e *env) drawsForm(t *testing.T, u, id, why string) {
	t.Helper()
	rec := e.getWithSession(u, id)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `id="login"`) || strings.Contains(rec.Body.String(), `id="SAMLResponseForm"`) {
		t.Fatalf("%s: want the login form, got %d:\n%.400s", why, rec.Code, rec.Body)
	}
}

func TestIdPSessionAnswersWithoutTheForm(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	var s IdPSession
	wantJSON(t, e.api("POST", "/api/sessions", `{"user":"s1@example.com","firstName":"Sess","groups":["One","Sales, EMEA"],"groupAttribute":"memberOf"}`), 201, &s)
	if s.ID == "" || s.Cookie != SessionCookie || s.User != "s1@example.com" || s.LoginsLeft != 0 || !s.ExpiresAt.Equal(s.CreatedAt.Add(sessionTTL)) {
		t.Fatalf("session %+v", s)
	}
	for i := range 2 { // no login limit: it answers every login
		a := e.sessionLogin(t, s.ID)
		if a.Subject.NameID.Value != "s1@example.com" || !slices.Equal(attrValues(a, "memberOf"), []string{"One", "Sales, EMEA"}) ||
			!slices.Equal(attrValues(a, "firstName"), []string{"Sess"}) || attrValues(a, "groups") != nil {
			t.Errorf("login %d: NameID %q memberOf %q firstName %q groups %q", i, a.Subject.NameID.Value, attrValues(a, "memberOf"), attrValues(a, "firstName"), attrValues(a, "groups"))
		}
		if l := lastLog(t, e.idp); l.Options == nil || l.Options.Source != "session" || l.User != "s1@example.com" || l.RelayState != "rs" {
			t.Errorf("log %+v %+v", l, l.Options)
		}
	}
	var list []IdPSession
	wantJSON(t, e.api("GET", "/api/sessions", ""), 200, &list)
	if len(list) != 1 || list[0].ID != s.ID {
		t.Errorf("list %+v", list)
	}
	wantJSON(t, e.api("GET", "/api/sessions/"+s.ID, ""), 200, nil)

	// A cookie naming no session, and no cookie: the form.
	u, _ := e.redirectRequest("")
	e.drawsForm(t, u, "not-a-session", "unknown session ID")
	e.drawsForm(t, u, "", "no cookie")

	// Ended: the form again, and the API says it is gone.
	if rec := e.api("DELETE", "/api/sessions/"+s.ID, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", rec.Code, rec.Body)
	}
	e.drawsForm(t, u, s.ID, "ended session")
	wantAPIError(t, e.api("GET", "/api/sessions/"+s.ID, ""), 404, "no IdP session")
	wantAPIError(t, e.api("DELETE", "/api/sessions/"+s.ID, ""), 404, "no IdP session")
}

func TestIdPSessionLimitsScopeAndForceAuthn(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	one, err := e.idp.StartSession(SessionLogin{User: "once@example.com", Logins: 1})
	if err != nil {
		t.Fatal(err)
	}
	if a := e.sessionLogin(t, one.ID); a.Subject.NameID.Value != "once@example.com" || attrValues(a, "groups") != nil {
		t.Errorf("NameID %q groups %q (a session without groups sends none)", a.Subject.NameID.Value, attrValues(a, "groups"))
	}
	u, _ := e.redirectRequest("")
	e.drawsForm(t, u, one.ID, "a one-login session used once")

	other, err := e.idp.StartSession(SessionLogin{User: "x@example.com", SP: testSPEntityID})
	if err != nil {
		t.Fatal(err)
	}
	e.sessionLogin(t, other.ID) // scoped to this SP: answers

	// ForceAuthn: the person must sign in, whatever the session.
	req, err := e.sp.MakeAuthenticationRequest(e.sp.GetSSOBindingLocation(saml.HTTPRedirectBinding), saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	req.ForceAuthn = new(true)
	fu, err := req.Redirect("", e.sp)
	if err != nil {
		t.Fatal(err)
	}
	e.drawsForm(t, fu.String(), other.ID, "ForceAuthn")

	// A session scoped to another SP does not answer this one (it must be
	// registered to be a scope, so trust any SP here).
	e2 := newEnv(t, envOpts{trustAny: true})
	elsewhere, err := e2.idp.StartSession(SessionLogin{User: "y@example.com", SP: "https://elsewhere.test/metadata"})
	if err != nil {
		t.Fatal(err)
	}
	u2, _ := e2.redirectRequest("")
	e2.drawsForm(t, u2, elsewhere.ID, "another SP's session")
}

func TestIdPSessionPersonaFaultAndIdPInitiated(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	s, err := e.idp.StartSession(SessionLogin{NextLogin: NextLogin{Persona: "alice", LastName: new("Override")}})
	if err != nil {
		t.Fatal(err)
	}
	a := e.sessionLogin(t, s.ID)
	if a.Subject.NameID.Value != "alice@example.com" || !slices.Equal(attrValues(a, "groups"), []string{"Engineering", "Sales, EMEA"}) ||
		!slices.Equal(attrValues(a, "lastName"), []string{"Override"}) || !slices.Equal(attrValues(a, "firstName"), []string{"Alice"}) {
		t.Errorf("persona session: NameID %q groups %q names %q %q", a.Subject.NameID.Value, attrValues(a, "groups"), attrValues(a, "firstName"), attrValues(a, "lastName"))
	}
	if l := lastLog(t, e.idp); l.Persona != "alice" {
		t.Errorf("log persona %q", l.Persona)
	}

	// IdP-initiated, with a fault: the faulted response at once.
	f, err := e.idp.StartSession(SessionLogin{User: "f@example.com", NextLogin: NextLogin{Fault: "sig-none"}})
	if err != nil {
		t.Fatal(err)
	}
	rec := e.getWithSession(idpBase+"/idp/initiate?"+url.Values{"sp": {testSPEntityID}}.Encode(), f.ID)
	raw := samlResponse(t, rec)
	if strings.Contains(string(raw), "SignatureValue") {
		t.Errorf("the sig-none fault was not applied")
	}
	if l := lastLog(t, e.idp); l.Fault != "sig-none" || l.User != "f@example.com" {
		t.Errorf("log fault %q user %q", l.Fault, l.User)
	}
}

// A scripted login may send a blank group value (the form cannot): an SP
// must treat it as no group. Personas still refuse one.
func TestScriptedLoginsSendBlankGroupValues(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	s, err := e.idp.StartSession(SessionLogin{User: "b@example.com", NextLogin: NextLogin{Groups: []string{"  "}}})
	if err != nil {
		t.Fatal(err)
	}
	if a := e.sessionLogin(t, s.ID); !slices.Equal(attrValues(a, "groups"), []string{"  "}) {
		t.Errorf("session: groups %q, want one blank value", attrValues(a, "groups"))
	}
	wantJSON(t, e.api("PUT", queuePath("q@example.com"), `{"groups":[""]}`), 201, nil)
	if a := e.signIn(t, url.Values{"persona": {""}, "username": {"q@example.com"}, "groups": {"Typed"}}); !slices.Equal(attrValues(a, "groups"), []string{""}) {
		t.Errorf("queued: groups %q, want one empty value", attrValues(a, "groups"))
	}
	wantAPIError(t, e.api("POST", "/api/personas", `{"id":"x","nameID":"x@e","groups":[" "]}`), 400, "blank")
}

func TestIdPSessionRefusesBadInput(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	for _, c := range []struct{ body, want string }{
		{`{}`, "name the user"},
		{`{"user":"  "}`, "name the user"},
		{`{"persona":"nobody"}`, "unknown persona"},
		{`{"user":"a@example.com","fault":"no-such-fault"}`, "unknown fault"},
		{`{"user":"a@example.com","logins":-1}`, "logins must be"},
		{`{"user":"a@example.com","sp":"https://unregistered.test"}`, "no service provider"},
		{`{"user":"a@example.com","signAlg":"md5"}`, "ign"},
		{`{"user":"a\u0007b"}`, "control"},
		{`{"user":"a@example.com","groups":"not a list"}`, "bad JSON"},
		{`not json`, "bad JSON"},
	} {
		wantAPIError(t, e.api("POST", "/api/sessions", c.body), 400, c.want)
	}
	var list []IdPSession
	wantJSON(t, e.api("GET", "/api/sessions", ""), 200, &list)
	if len(list) != 0 {
		t.Errorf("a refused session was kept: %+v", list)
	}
	// A cross-site browser POST is refused like every API write.
	wantAPIError(t, e.api("POST", "/api/sessions", `{"user":"a@example.com"}`, "Sec-Fetch-Site", "cross-site"), 403, "cross-origin")
}

// Single Logout ends the IdP session whose cookie the LogoutRequest came
// with, and no other; a refused LogoutRequest ends none.
func TestSingleLogoutEndsTheBrowsersIdPSession(t *testing.T) {
	e := newSLOEnv(t, true)
	mine, err := e.idp.StartSession(SessionLogin{User: "alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.idp.StartSession(SessionLogin{User: "bob@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	logout := func(nameID, cookie string, tamper bool) int {
		req, err := e.sp.MakeLogoutRequest(e.idp.SLOURL(), nameID)
		if err != nil {
			t.Fatal(err)
		}
		u, err := e.sp.RedirectLogoutRequestURL(req, "")
		if err != nil {
			t.Fatal(err)
		}
		s := u.String()
		if tamper {
			s = strings.Replace(s, "Signature=", "Signature=AAAA", 1)
		}
		return e.getWithSession(s, cookie).Code
	}
	if code := logout("alice@example.com", mine.ID, true); code != http.StatusBadRequest {
		t.Fatalf("tampered LogoutRequest: %d, want 400", code)
	}
	if _, ok := e.idp.sessions.get(mine.ID, e.now()); !ok {
		t.Fatal("a refused LogoutRequest ended the session")
	}
	if code := logout("alice@example.com", mine.ID, false); code != http.StatusFound {
		t.Fatalf("LogoutRequest: %d, want 302", code)
	}
	if _, ok := e.idp.sessions.get(mine.ID, e.now()); ok {
		t.Error("the session the logout came with is still live")
	}
	if _, ok := e.idp.sessions.get(other.ID, e.now()); !ok {
		t.Error("another browser's session was ended")
	}
}

// The sessions list comes in one order, oldest first (then by ID), on
// every call: it was a map's order, different each time.
func TestSessionListIsOrdered(t *testing.T) {
	e := newEnv(t, envOpts{})
	for i := range 8 {
		if _, err := e.idp.StartSession(SessionLogin{User: "u" + string(rune('a'+i)) + "@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	first := e.idp.sessions.list(e.now())
	for range 5 {
		again := e.idp.sessions.list(e.now())
		if !slices.EqualFunc(first, again, func(a, b IdPSession) bool { return a.ID == b.ID }) {
			t.Fatal("two calls listed the sessions in different orders")
		}
	}
	if !slices.IsSortedFunc(first, func(a, b IdPSession) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	}) {
		t.Fatal("the list is not oldest first, then by ID")
	}
}
