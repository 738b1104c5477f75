package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hmpconform/hmpconform/internal/stack"
)

// withSLO saves the harness SP's settings with the IdP's SLO URL (before
// any login: saving settings ends sessions).
func (h *harness) withSLO() {
	h.t.Helper()
	cfg := stack.JITSettings(h.idp, h.spEntityID())
	cfg.SLOURL = h.idp.SLOURL()
	if _, err := h.app.Store.SaveSettings(context.Background(), cfg); err != nil {
		h.t.Fatal(err)
	}
}

// signOutAtIdP signs the SSO session out at the SP, follows the redirect
// to the IdP and returns the IdP's redirect back to the SP's SLO endpoint
// and the pending-logout cookie.
func (h *harness) signOutAtIdP(session *http.Cookie) (string, *http.Cookie) {
	h.t.Helper()
	res := h.postForm("/logout", nil, session)
	loc := res.location()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, h.idp.SLOURL()+"?") {
		h.t.Fatalf("sign-out of an SSO session: %d Location %q, want the IdP's SLO\n%s", res.StatusCode, loc, brief(res.Body))
	}
	u, _ := url.Parse(loc)
	if u.Query().Get("SAMLRequest") == "" || u.Query().Get("Signature") == "" {
		h.t.Fatalf("the LogoutRequest is not signed: %s", loc)
	}
	pending := res.cookie("hmp_slo")
	if pending == nil || pending.Value == "" {
		h.t.Fatal("no pending-logout cookie")
	}
	if h.sessionLive(session) {
		h.t.Fatal("the SP session outlived the sign-out")
	}
	idp := h.get(loc, nil)
	back := idp.location()
	if idp.StatusCode != http.StatusFound || !strings.HasPrefix(back, h.spTS.URL+"/saml/slo?SAMLResponse=") {
		h.t.Fatalf("IdP answer: %d Location %q\n%s", idp.StatusCode, back, brief(idp.Body))
	}
	return back, pending
}

func TestSLOSignOutAtIdP(t *testing.T) {
	h := newHarness(t)
	h.withSLO()
	session := h.mustLoginSSO(identity{NameID: "slo-user", Groups: []string{"Engineering"}})
	back, pending := h.signOutAtIdP(session)

	// The IdP saw the SP's LogoutRequest, naming the user and the session.
	var logged bool
	for _, l := range h.idp.Log() {
		if l.Kind == "logout" && l.NameID == "slo-user" && strings.Contains(l.LogoutRequestXML, "SessionIndex") {
			logged = true
		}
	}
	if !logged {
		t.Fatalf("the IdP log has no logout entry for slo-user with a SessionIndex: %+v", h.idp.Log())
	}

	res := h.get(back, pending)
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, `id="signed-out-idp"`) {
		t.Fatalf("SLO endpoint: %d\nlog: %s\n%s", res.StatusCode, h.log.last(), brief(res.Body))
	}
	if c := res.cookie("hmp_slo"); c == nil || c.MaxAge >= 0 {
		t.Error("the pending-logout cookie was not cleared")
	}
	// The answer is used up.
	if again := h.get(back, pending); again.StatusCode != http.StatusForbidden {
		t.Errorf("replayed LogoutResponse: %d, want 403", again.StatusCode)
	}
}

func TestSLOEndpointRefusals(t *testing.T) {
	h := newHarness(t)
	h.withSLO()
	back, pending := h.signOutAtIdP(h.mustLoginSSO(identity{NameID: "slo-refusals"}))
	u, _ := url.Parse(back)
	q := u.Query()
	sig := q.Get("Signature")
	q.Set("Signature", strings.ToUpper(sig[:8])+sig[8:]+"")
	if q.Get("Signature") == sig {
		q.Set("Signature", "AAAA"+sig[4:])
	}
	tampered := *u
	tampered.RawQuery = q.Encode()
	other := &http.Cookie{Name: "hmp_slo", Value: "id-not-issued"}

	for _, tc := range []struct {
		name   string
		do     func() result
		status int
		text   string
	}{
		{"no pending sign-out", func() result { return h.get(back, nil) }, http.StatusForbidden, "no sign-out is in progress"},
		{"another request ID", func() result { return h.get(back, other) }, http.StatusForbidden, "does not answer a sign-out"},
		{"bad signature", func() result { return h.get(tampered.String(), pending) }, http.StatusForbidden, "not signed by the trusted identity provider"},
		{"nothing", func() result { return h.get("/saml/slo", nil) }, http.StatusBadRequest, "expects a LogoutRequest or LogoutResponse"},
		{"a malformed LogoutRequest", func() result { return h.get("/saml/slo?SAMLRequest=abc", nil) }, http.StatusBadRequest, "logout request was refused"},
		{"POST", func() result { return h.postForm("/saml/slo", url.Values{"SAMLResponse": {"x"}}, nil) }, http.StatusMethodNotAllowed, "HTTP-Redirect"},
		{"oversized", func() result {
			return h.get("/saml/slo?SAMLResponse="+strings.Repeat("A", 70<<10), pending)
		}, http.StatusBadRequest, "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.do()
			if res.StatusCode != tc.status || !strings.Contains(res.Body, tc.text) {
				t.Fatalf("%d, want %d saying %q\nlog: %s\n%s", res.StatusCode, tc.status, tc.text, h.log.last(), brief(res.Body))
			}
		})
	}
	// None of the refusals used the pending request up.
	if res := h.get(back, pending); res.StatusCode != http.StatusOK {
		t.Fatalf("genuine answer after the refusals: %d\n%s", res.StatusCode, brief(res.Body))
	}
}

func TestSignOutStaysLocal(t *testing.T) {
	t.Run("no SLO URL", func(t *testing.T) {
		h := newHarness(t).with(t)
		session := h.mustLoginSSO(identity{NameID: "local-only"})
		res := h.postForm("/logout", nil, session)
		if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, `id="signed-out"`) || strings.Contains(res.Body, `signed-out-idp`) {
			t.Fatalf("%d Location %q", res.StatusCode, res.location())
		}
		if h.sessionLive(session) {
			t.Fatal("session outlived the sign-out")
		}
	})
	t.Run("haiadmin with an SLO URL", func(t *testing.T) {
		h := newHarness(t).with(t)
		h.withSLO()
		admin := h.mustLoginAdmin()
		res := h.postForm("/logout", nil, admin)
		if res.StatusCode != http.StatusOK || res.location() != "" || !strings.Contains(res.Body, `id="signed-out"`) {
			t.Fatalf("%d Location %q", res.StatusCode, res.location())
		}
		if h.sessionLive(admin) {
			t.Fatal("session outlived the sign-out")
		}
	})
}

func TestSPMetadataAnnouncesSLO(t *testing.T) {
	h := newHarness(t)
	res := h.get("/saml/metadata", nil)
	want := `<SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="` + h.spTS.URL + `/saml/slo"`
	if !strings.Contains(res.Body, want) {
		t.Fatalf("metadata lacks %s:\n%s", want, res.Body)
	}
}
