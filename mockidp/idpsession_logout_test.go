package mockidp

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// A login takes the first live mockidp_session cookie of several
// (TestIdPSessionAnyLiveCookie), so Single Logout must end every one:
// with a stale cookie first, ending only the first left the browser
// signed in at the IdP after a successful logout.
func TestSingleLogoutEndsTheLiveSessionOfSeveralCookies(t *testing.T) {
	e := newSLOEnv(t, true)
	live, err := e.idp.StartSession(SessionLogin{User: "alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	logOutWithCookies(t, e, "alice@example.com", SessionCookie+"=stale-from-an-earlier-login; "+SessionCookie+"="+live.ID)
	if _, ok := e.idp.sessions.get(live.ID, e.now()); ok {
		t.Error("after Single Logout the live session of the second cookie still answers logins")
	}
}

// logOutWithCookies sends the SP's signed LogoutRequest for nameID to the
// IdP's /slo (Redirect binding) from a browser carrying cookieHeader, and
// fails unless the IdP answers with its redirect back to the SP.
func logOutWithCookies(t *testing.T, e *env, nameID, cookieHeader string) {
	t.Helper()
	req, err := e.sp.MakeLogoutRequest(e.idp.SLOURL(), nameID)
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.sp.RedirectLogoutRequestURL(req, "")
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, u.String(), nil)
	r.Header.Set("Cookie", cookieHeader)
	if rec := e.do(r); rec.Code != http.StatusFound {
		t.Fatalf("LogoutRequest: %d, want 302:\n%.300s", rec.Code, rec.Body)
	}
}
