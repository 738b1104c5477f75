package mockidp

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
)

// FuzzSSO feeds AuthnRequests to the IdP's /sso handler, as HTTP-Redirect
// (deflated, in the query) and as HTTP-POST, optionally with the login form
// submitted (and a fault chosen). Nothing may panic and no request may
// cause a 5xx: a bad request is the client's error. Seeds: a genuine
// request of a registered SP and testdata/fuzz/FuzzSSO.
func FuzzSSO(f *testing.F) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	key, cert, err := LoadOrCreateKeyPair(f.TempDir(), now, "idp.mock.test")
	if err != nil {
		f.Fatal(err)
	}
	base, _ := url.Parse(idpBase)
	s, err := New(Config{BaseURL: base, Key: key, Certificate: cert, Personas: testPersonas,
		Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	spKey, spCert, err := LoadOrCreateKeyPair(f.TempDir(), now, "sp.test")
	if err != nil {
		f.Fatal(err)
	}
	metaURL, _ := url.Parse(testSPEntityID)
	acsURL, _ := url.Parse(spACS)
	sp := &saml.ServiceProvider{EntityID: testSPEntityID, Key: spKey, Certificate: spCert, MetadataURL: *metaURL,
		AcsURL: *acsURL, IDPMetadata: s.IdentityProvider().Metadata(), Clock: newDsigClock(func() time.Time { return now })}
	md := sp.Metadata()
	for i := range md.SPSSODescriptors {
		md.SPSSODescriptors[i].KeyDescriptors = nil // plaintext assertions: cheaper to fuzz
	}
	if err := s.RegisterSP(md); err != nil {
		f.Fatal(err)
	}
	h := s.Handler()

	req, err := sp.MakeAuthenticationRequest(s.SSOURL(), saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		f.Fatal(err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(req.Element())
	genuine, err := doc.WriteToBytes()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(genuine, "relay", false, false, "")
	f.Add(genuine, "", true, false, "")
	f.Add(genuine, "/next", false, true, "")
	f.Add(genuine, "", true, true, "xsw1")
	f.Add(genuine, "", false, true, "xml-two-roots")
	f.Add([]byte("<samlp:AuthnRequest/>"), "", false, false, "")

	f.Fuzz(func(t *testing.T, authnRequest []byte, relayState string, post, login bool, fault string) {
		form := url.Values{}
		if login {
			form.Set("mockidp_login", "1")
			form.Set("username", "fuzz@example.com")
			form.Set("fault", fault)
		}
		var r *http.Request
		if post {
			form.Set("SAMLRequest", base64.StdEncoding.EncodeToString(authnRequest))
			form.Set("RelayState", relayState)
			r = httptest.NewRequest(http.MethodPost, s.SSOURL(), strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			var z bytes.Buffer
			w, _ := flate.NewWriter(&z, flate.BestSpeed)
			_, _ = w.Write(authnRequest)
			_ = w.Close()
			q := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(z.Bytes())}, "RelayState": {relayState}}
			if login {
				// The login form replays the redirect query in mockidp_query.
				form.Set("mockidp_query", q.Encode())
				r = httptest.NewRequest(http.MethodPost, s.SSOURL(), strings.NewReader(form.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			} else {
				r = httptest.NewRequest(http.MethodGet, s.SSOURL()+"?"+q.Encode(), nil)
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code >= 500 {
			t.Fatalf("status %d for a client's request:\n%s", rec.Code, rec.Body)
		}
	})
}
