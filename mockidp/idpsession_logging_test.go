package mockidp

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// captureLog sends e's server log to a buffer (the test's requests are
// served in its goroutine, so the buffer needs no lock).
func captureLog(e *env) *bytes.Buffer {
	var buf bytes.Buffer
	e.idp.logger = slog.New(slog.NewTextHandler(&buf, nil))
	return &buf
}

// wantLine fails unless the log has a line with msg holding every attr.
func wantLine(t *testing.T, log *bytes.Buffer, msg string, attrs ...string) {
	t.Helper()
	for _, line := range strings.Split(log.String(), "\n") {
		if !strings.Contains(line, `msg="`+msg+`"`) {
			continue
		}
		ok := true
		for _, a := range attrs {
			ok = ok && strings.Contains(line, a)
		}
		if ok {
			return
		}
	}
	t.Errorf("no log line %q with %q in:\n%s", msg, attrs, log)
}

// The server log ties a login to its session: the session's start, each
// login and its end (used up, by the API, by Single Logout) name it by
// sessionLogID, never by its ID, which is the cookie's secret value.
func TestSessionLoginsAndEndsAreLogged(t *testing.T) {
	e := newSLOEnv(t, true)
	log := captureLog(e)

	once, err := e.idp.StartSession(SessionLogin{User: "once@example.com", Logins: 1})
	if err != nil {
		t.Fatal(err)
	}
	e.sessionLogin(t, once.ID)
	id := "session=" + sessionLogID(once.ID)
	wantLine(t, log, "mockidp: IdP session started", id)
	wantLine(t, log, "mockidp: login", "source=session", id)
	wantLine(t, log, "mockidp: IdP session ended", id, `by="its last login"`)

	byAPI, err := e.idp.StartSession(SessionLogin{User: "api@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if rec := e.api("DELETE", "/api/sessions/"+byAPI.ID, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", rec.Code, rec.Body)
	}
	wantLine(t, log, "mockidp: IdP session ended", "session="+sessionLogID(byAPI.ID), `by="the API"`)

	bySLO, err := e.idp.StartSession(SessionLogin{User: "slo@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	logOutWithCookies(t, e, "slo@example.com", SessionCookie+"="+bySLO.ID)
	wantLine(t, log, "mockidp: IdP session ended", "session="+sessionLogID(bySLO.ID), `by="Single Logout"`)

	// A form login says so.
	e.signIn(t, url.Values{"username": {"formuser@example.com"}})
	wantLine(t, log, "mockidp: login", "nameID=formuser@example.com", "source=form")

	for _, s := range []IdPSession{once, byAPI, bySLO} {
		if strings.Contains(log.String(), s.ID) {
			t.Errorf("the server log holds the session ID (the cookie's secret) %q", s.ID)
		}
	}
}
