package mockidp

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/xml"
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
	dsig "github.com/russellhaering/goxmldsig"
)

// FuzzSLO feeds LogoutRequests to the IdP's /slo handler, deflated in the
// query (HTTP-Redirect) or posted (HTTP-POST). Nothing may panic and no
// request may cause a 5xx. Seeds: a genuine signed request of a registered
// SP, and junk.
func FuzzSLO(f *testing.F) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	key, cert, err := LoadOrCreateKeyPair(f.TempDir(), now, "idp.mock.test")
	if err != nil {
		f.Fatal(err)
	}
	base, _ := url.Parse(idpBase)
	s, err := New(Config{BaseURL: base, Key: key, Certificate: cert, Now: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	spKey, spCert, err := LoadOrCreateKeyPair(f.TempDir(), now, "sp.test")
	if err != nil {
		f.Fatal(err)
	}
	metaURL, _ := url.Parse(testSPEntityID)
	slo, _ := url.Parse(spSLO)
	acsURL, _ := url.Parse(spACS)
	sp := &saml.ServiceProvider{EntityID: testSPEntityID, Key: spKey, Certificate: spCert, MetadataURL: *metaURL, AcsURL: *acsURL,
		SloURL: *slo, LogoutBindings: []string{saml.HTTPRedirectBinding, saml.HTTPPostBinding},
		LogoutSignatureMethod: dsig.RSASHA256SignatureMethod,
		IDPMetadata:           s.IdentityProvider().Metadata(), Clock: newDsigClock(clock)}
	b, err := xml.Marshal(sp.Metadata())
	if err != nil {
		f.Fatal(err)
	}
	if err := s.RegisterSPMetadataXML(b); err != nil {
		f.Fatal(err)
	}
	h := s.Handler()

	req, err := sp.MakeLogoutRequest(s.SLOURL(), "alice@example.com")
	if err != nil {
		f.Fatal(err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(req.Element())
	genuine, err := doc.WriteToBytes()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(genuine, "relay", true)
	f.Add(genuine, "", false)
	f.Add([]byte("<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"/>"), "", true)
	f.Add([]byte("<a/><b/>"), "", false)

	f.Fuzz(func(t *testing.T, logoutRequest []byte, relayState string, post bool) {
		var r *http.Request
		if post {
			form := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(logoutRequest)}, "RelayState": {relayState}}
			r = httptest.NewRequest(http.MethodPost, s.SLOURL(), strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			var z bytes.Buffer
			w, _ := flate.NewWriter(&z, flate.BestSpeed)
			_, _ = w.Write(logoutRequest)
			_ = w.Close()
			q := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(z.Bytes())}, "RelayState": {relayState}}
			r = httptest.NewRequest(http.MethodGet, s.SLOURL()+"?"+q.Encode(), nil)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code >= 500 {
			t.Fatalf("status %d for a client's request:\n%s", rec.Code, rec.Body)
		}
	})
}
