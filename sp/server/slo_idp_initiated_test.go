package server_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/hmpconform/hmpconform/internal/keypair"
)

// idpLogoutSigner makes LogoutRequests as the harness IdP would send them,
// signed with its key pair (or pair, for a rogue signer), using crewjam's
// own request builder and HTTP-Redirect signing.
func (h *harness) idpLogoutSigner(pair keypair.Pair) *saml.ServiceProvider {
	h.t.Helper()
	md, _ := url.Parse(h.idp.MetadataURL())
	return &saml.ServiceProvider{
		EntityID: h.idp.EntityID(), Key: pair.Key, Certificate: pair.Certificate, MetadataURL: *md,
		LogoutSignatureMethod: dsig.RSASHA256SignatureMethod,
		IDPMetadata:           &saml.EntityDescriptor{EntityID: h.spEntityID()},
	}
}

func (h *harness) idpLogoutURL(signer *saml.ServiceProvider, nameID string, sessionIndexes ...string) (string, string) {
	h.t.Helper()
	req, err := signer.MakeLogoutRequest(h.spTS.URL+"/saml/slo", nameID, saml.WithSessionIndexes(sessionIndexes...))
	if err != nil {
		h.t.Fatal(err)
	}
	u, err := signer.RedirectLogoutRequestURL(req, "rs-idp")
	if err != nil {
		h.t.Fatal(err)
	}
	return u.String(), req.ID
}

func TestSLOIdPInitiated(t *testing.T) {
	h := newHarness(t)
	h.withSLO()
	pair, err := idpKeys()
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := keypair.New(nil, "rogue", h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	first := h.mustLoginSSO(identity{NameID: "idp-slo"})
	second := h.mustLoginSSO(identity{NameID: "idp-slo"})
	other := h.mustLoginSSO(identity{NameID: "someone-else"})

	// Refused requests end nothing.
	unsigned := h.idpLogoutSigner(pair)
	unsigned.LogoutSignatureMethod = ""
	for name, signer := range map[string]*saml.ServiceProvider{"unsigned": unsigned, "rogue key": h.idpLogoutSigner(rogue)} {
		u, _ := h.idpLogoutURL(signer, "idp-slo")
		res := h.get(u, nil)
		if res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, "refused") {
			t.Errorf("%s: %d, want 403\nlog: %s\n%s", name, res.StatusCode, h.log.last(), brief(res.Body))
		}
	}
	if !h.sessionLive(first) || !h.sessionLive(second) {
		t.Fatal("a refused LogoutRequest ended a session")
	}

	u, id := h.idpLogoutURL(h.idpLogoutSigner(pair), "idp-slo")
	res := h.get(u, nil)
	loc := res.location()
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(loc, h.idp.SLOURL()+"?SAMLResponse=") {
		t.Fatalf("%d Location %q\nlog: %s\n%s", res.StatusCode, loc, h.log.last(), brief(res.Body))
	}
	if h.sessionLive(first) || h.sessionLive(second) {
		t.Error("the user's SSO sessions outlived the IdP's LogoutRequest")
	}
	if !h.sessionLive(other) {
		t.Error("another user's session was ended")
	}

	// The answer is a LogoutResponse signed by the SP, for the IdP.
	back, _ := url.Parse(loc)
	if back.Query().Get("RelayState") != "rs-idp" {
		t.Errorf("RelayState %q", back.Query().Get("RelayState"))
	}
	idpSide := h.idpLogoutSigner(pair)
	idpSide.SloURL = *mustURL(t, h.idp.SLOURL())
	idpSide.IDPMetadata = &saml.EntityDescriptor{EntityID: h.spEntityID(), IDPSSODescriptors: []saml.IDPSSODescriptor{{
		SSODescriptor: saml.SSODescriptor{RoleDescriptor: saml.RoleDescriptor{KeyDescriptors: []saml.KeyDescriptor{{
			Use: "signing", KeyInfo: saml.KeyInfo{X509Data: saml.X509Data{X509Certificates: []saml.X509Certificate{{
				Data: base64.StdEncoding.EncodeToString(h.app.Server.SAML().Certificate.Raw),
			}}}},
		}}}},
	}}}
	if _, err := idpSide.ParseLogoutResponse(httptest.NewRequest(http.MethodGet, loc, nil), []string{id}); err != nil {
		t.Fatalf("the SP's LogoutResponse does not verify: %v", err)
	}

	// A replayed request is refused.
	if again := h.get(u, nil); again.StatusCode != http.StatusForbidden {
		t.Errorf("replayed LogoutRequest: %d, want 403", again.StatusCode)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
