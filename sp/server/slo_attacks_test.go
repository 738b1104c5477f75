package server_test

// Attacks on the SP's Single Logout endpoint with messages an attacker or a
// misbehaving IdP could send: each is refused with a 4xx page, ends no
// session and does not use up the sign-out in progress.

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/hmpconform/hmpconform/internal/keypair"
)

// idpLogoutResponseURL is a LogoutResponse to requestID made and signed
// (query string signature) by signer, addressed to destination; the URL
// returned is the SP's SLO endpoint carrying it, whatever the destination.
func (h *harness) idpLogoutResponseURL(signer *saml.ServiceProvider, destination, requestID, relayState, status string) string {
	h.t.Helper()
	signer.IDPMetadata = &saml.EntityDescriptor{EntityID: h.spEntityID(), IDPSSODescriptors: []saml.IDPSSODescriptor{{
		SSODescriptor: saml.SSODescriptor{SingleLogoutServices: []saml.Endpoint{{Binding: saml.HTTPRedirectBinding, Location: destination}}},
	}}}
	u, err := signer.MakeRedirectLogoutResponseWithStatus(requestID, relayState, saml.Status{StatusCode: saml.StatusCode{Value: status}})
	if err != nil {
		h.t.Fatal(err)
	}
	return h.spTS.URL + "/saml/slo?" + u.RawQuery
}

func TestSLOLogoutResponseAttacks(t *testing.T) {
	h := newHarness(t)
	h.withSLO()
	back, pending := h.signOutAtIdP(h.mustLoginSSO(identity{NameID: "slo-attacked"}))
	pair, err := idpKeys()
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := keypair.New(nil, "rogue", h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	sloURL := h.spTS.URL + "/saml/slo"
	id := pending.Value
	unsigned := h.idpLogoutSigner(pair)
	unsigned.LogoutSignatureMethod = ""
	otherIssuer := h.idpLogoutSigner(pair)
	otherIssuer.EntityID = "https://other-idp.example/metadata"

	for _, tc := range []struct {
		name string
		url  string
		text string
	}{
		{"wrong InResponseTo", h.idpLogoutResponseURL(h.idpLogoutSigner(pair), sloURL, "id-someone-else", "", saml.StatusSuccess), "does not answer"},
		{"wrong Destination", h.idpLogoutResponseURL(h.idpLogoutSigner(pair), "https://elsewhere.example/saml/slo", id, "", saml.StatusSuccess), "refused"},
		{"wrong Issuer", h.idpLogoutResponseURL(otherIssuer, sloURL, id, "", saml.StatusSuccess), "refused"},
		{"status Responder", h.idpLogoutResponseURL(h.idpLogoutSigner(pair), sloURL, id, "", saml.StatusResponder), "refused"},
		{"status PartialLogout", h.idpLogoutResponseURL(h.idpLogoutSigner(pair), sloURL, id, "", saml.StatusPartialLogout), "refused"},
		{"rogue key", h.idpLogoutResponseURL(h.idpLogoutSigner(rogue), sloURL, id, "", saml.StatusSuccess), "not signed by the trusted identity provider"},
		{"unsigned", h.idpLogoutResponseURL(unsigned, sloURL, id, "", saml.StatusSuccess), "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := h.get(tc.url, pending)
			if res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, tc.text) || res.location() != "" {
				t.Fatalf("%d Location %q, want 403 saying %q\nlog: %s\n%s", res.StatusCode, res.location(), tc.text, h.log.last(), brief(res.Body))
			}
			if strings.Contains(res.Body, "signed-out-idp") {
				t.Fatal("a refused LogoutResponse shows the signed-out-at-IdP page")
			}
		})
	}

	// A forged or refused answer must not end the sign-out in progress:
	// the browser still holds the pending cookie (a cross-site navigation
	// to /saml/slo with junk must not make the genuine answer fail).
	junk := h.get("/saml/slo?SAMLResponse=abc", pending)
	if junk.StatusCode != http.StatusBadRequest {
		t.Fatalf("junk LogoutResponse: %d\n%s", junk.StatusCode, brief(junk.Body))
	}
	if c := junk.cookie("hmp_slo"); c != nil && c.MaxAge < 0 {
		t.Error("a junk LogoutResponse cleared the pending-logout cookie; the genuine answer would then be refused")
	}

	// The genuine answer still works.
	if res := h.get(back, pending); res.StatusCode != http.StatusOK || !strings.Contains(res.Body, `id="signed-out-idp"`) {
		t.Fatalf("genuine answer after the attacks: %d\nlog: %s\n%s", res.StatusCode, h.log.last(), brief(res.Body))
	}
}

// A valid LogoutResponse whose (signed) RelayState names another site ends
// on the SP's own page: /saml/slo is no open redirect.
func TestSLOLogoutResponseRelayStateIsNoRedirect(t *testing.T) {
	h := newHarness(t)
	h.withSLO()
	_, pending := h.signOutAtIdP(h.mustLoginSSO(identity{NameID: "slo-relay"}))
	pair, err := idpKeys()
	if err != nil {
		t.Fatal(err)
	}
	u := h.idpLogoutResponseURL(h.idpLogoutSigner(pair), h.spTS.URL+"/saml/slo", pending.Value, "https://evil.example/", saml.StatusSuccess)
	res := h.get(u, pending)
	if res.StatusCode != http.StatusOK || res.location() != "" || !strings.Contains(res.Body, `id="signed-out-idp"`) || strings.Contains(res.Body, "evil.example") {
		t.Fatalf("%d Location %q\nlog: %s\n%s", res.StatusCode, res.location(), h.log.last(), brief(res.Body))
	}
}

func TestSLOLogoutRequestAttacks(t *testing.T) {
	h := newHarness(t)
	h.withSLO()
	pair, err := idpKeys()
	if err != nil {
		t.Fatal(err)
	}
	user := h.mustLoginSSO(identity{NameID: "victim"})
	admin := h.mustLoginAdmin()

	// Signed by the IdP, but for haiadmin: the local admin session has no
	// SSO subject, so nothing ends.
	u, _ := h.idpLogoutURL(h.idpLogoutSigner(pair), "haiadmin")
	if res := h.get(u, nil); res.StatusCode != http.StatusFound {
		t.Fatalf("LogoutRequest for haiadmin: %d\n%s", res.StatusCode, brief(res.Body))
	}
	// The right user, but a SessionIndex that is not theirs.
	u, _ = h.idpLogoutURL(h.idpLogoutSigner(pair), "victim", "not-a-session-of-victim")
	if res := h.get(u, nil); res.StatusCode != http.StatusFound {
		t.Fatalf("LogoutRequest with a foreign SessionIndex: %d\n%s", res.StatusCode, brief(res.Body))
	}
	if !h.sessionLive(admin) || !h.sessionLive(user) {
		t.Fatal("a LogoutRequest for haiadmin or for another session ended a session")
	}

	// Refused: wrong Destination, wrong Issuer, expired.
	wrongDest := func() string {
		req, err := h.idpLogoutSigner(pair).MakeLogoutRequest("https://elsewhere.example/saml/slo", "victim")
		if err != nil {
			t.Fatal(err)
		}
		ru, err := h.idpLogoutSigner(pair).RedirectLogoutRequestURL(req, "")
		if err != nil {
			t.Fatal(err)
		}
		return h.spTS.URL + "/saml/slo?" + ru.RawQuery
	}()
	otherIssuer := h.idpLogoutSigner(pair)
	otherIssuer.EntityID = "https://other-idp.example/metadata"
	wrongIssuer, _ := h.idpLogoutURL(otherIssuer, "victim")
	stale, _ := h.idpLogoutURL(h.idpLogoutSigner(pair), "victim") // made now, sent later
	h.clock.Advance(2 * time.Hour)
	for name, u := range map[string]string{"wrong Destination": wrongDest, "wrong Issuer": wrongIssuer, "stale": stale} {
		res := h.get(u, nil)
		if res.StatusCode != http.StatusForbidden || res.location() != "" {
			t.Errorf("%s: %d Location %q, want 403\nlog: %s\n%s", name, res.StatusCode, res.location(), h.log.last(), brief(res.Body))
		}
	}
	h.clock.Advance(-2 * time.Hour)
	if !h.sessionLive(user) {
		t.Fatal("a refused LogoutRequest ended the session")
	}

	// RelayState is echoed to the IdP only: the SP redirects to the IdP's
	// SLO URL, never to a URL an attacker chose.
	req, err := h.idpLogoutSigner(pair).MakeLogoutRequest(h.spTS.URL+"/saml/slo", "victim")
	if err != nil {
		t.Fatal(err)
	}
	ru, err := h.idpLogoutSigner(pair).RedirectLogoutRequestURL(req, "https://evil.example/")
	if err != nil {
		t.Fatal(err)
	}
	res := h.get(h.spTS.URL+"/saml/slo?"+ru.RawQuery, nil)
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(res.location(), h.idp.SLOURL()+"?") {
		t.Fatalf("%d Location %q, want the IdP's SLO URL", res.StatusCode, res.location())
	}
	if h.sessionLive(user) || !h.sessionLive(admin) {
		t.Fatal("the genuine LogoutRequest did not end exactly the user's session")
	}
}

func TestSLODeflateBomb(t *testing.T) {
	h := newHarness(t)
	h.withSLO()
	user := h.mustLoginSSO(identity{NameID: "bombed"})
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	head := []byte(`<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="id-1" Version="2.0"><x>`)
	if _, err := fw.Write(head); err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for i := range zeros {
		zeros[i] = ' '
	}
	for range 40 { // 40 MiB inflated
		if _, err := fw.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	for _, param := range []string{"SAMLRequest", "SAMLResponse"} {
		q := url.Values{param: {base64.StdEncoding.EncodeToString(buf.Bytes())}}.Encode()
		if len(q) > 64<<10 {
			t.Fatalf("bomb query is %d bytes, over the size bound: it would not test inflation", len(q))
		}
		res := h.get("/saml/slo?"+q, &http.Cookie{Name: "hmp_slo", Value: "id-x"})
		if res.StatusCode < 400 || res.StatusCode >= 500 || strings.Contains(res.Body, "goroutine") {
			t.Errorf("%s deflate bomb (%d query bytes): %d, want a 4xx\nlog: %s\n%s", param, len(q), res.StatusCode, h.log.last(), brief(res.Body))
		}
	}
	if !h.sessionLive(user) {
		t.Fatal("a deflate bomb ended a session")
	}
}
