package main

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hmpconform/hmpconform/internal/keypair"
	"github.com/hmpconform/hmpconform/mockidp"
	"github.com/hmpconform/hmpconform/sp/samlsso"
)

// --configure-idp-metadata against the mock IdP during a certificate
// rollover: both signing certificates are trusted, and the IdP's
// HTTP-Redirect SingleLogoutService becomes the IdP Single Logout URL.
func TestParseIdPMetadataTakesEverySigningCertificateAndSLO(t *testing.T) {
	now := time.Now()
	cur, err := keypair.New(nil, "idp", now)
	if err != nil {
		t.Fatal(err)
	}
	next, err := keypair.New(nil, "idp-next", now)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse("https://idp.mock.test:8443")
	idp, err := mockidp.New(mockidp.Config{BaseURL: base, Key: cur.Key, Certificate: cur.Certificate,
		NextKey: next.Key, NextCertificate: next.Certificate, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	idp.Handler().ServeHTTP(rec, httptest.NewRequest("GET", idp.MetadataURL(), nil))
	raw, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 {
		t.Fatalf("metadata: %d %s", rec.Code, raw)
	}

	info, err := parseIdPMetadata(raw)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := samlsso.ParseCertificates(info.certPEM)
	if err != nil {
		t.Fatalf("the certificate setting does not parse: %v", err)
	}
	if len(certs) != 2 || !certs[0].Equal(cur.Certificate) || !certs[1].Equal(next.Certificate) {
		t.Errorf("trusted %d certificates, want the current and the next one", len(certs))
	}
	if info.sloURL != idp.SLOURL() {
		t.Errorf("IdP Single Logout URL %q, want %q", info.sloURL, idp.SLOURL())
	}
	if info.ssoURL != idp.SSOURL() || info.entityID != idp.EntityID() {
		t.Errorf("sso %q entityID %q", info.ssoURL, info.entityID)
	}

	// An IdP with no HTTP-Redirect SLO endpoint leaves the setting blank:
	// the SP sends LogoutRequests with that binding only.
	one := strings.Replace(string(raw), `Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="`+idp.SLOURL()+`"`, `Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="`+idp.SLOURL()+`"`, 1)
	if one == string(raw) {
		t.Fatalf("no HTTP-Redirect SingleLogoutService in the metadata:\n%s", raw)
	}
	info, err = parseIdPMetadata([]byte(one))
	if err != nil {
		t.Fatal(err)
	}
	if info.sloURL != "" {
		t.Errorf("SLO URL %q from a metadata with no HTTP-Redirect SingleLogoutService", info.sloURL)
	}
}
