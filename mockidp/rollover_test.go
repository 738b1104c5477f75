package mockidp

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
)

// newRolloverEnv is an env whose IdP has a next key pair; the SP reads the
// IdP metadata, so it trusts both certificates.
func newRolloverEnv(t *testing.T) (*env, *x509.Certificate) {
	t.Helper()
	now := time.Now
	dir := t.TempDir()
	key, cert, err := LoadOrCreateKeyPair(dir, now(), "idp.mock.test")
	if err != nil {
		t.Fatal(err)
	}
	nextKey, nextCert, err := LoadOrCreateNextKeyPair(dir, now(), "idp.mock.test")
	if err != nil {
		t.Fatal(err)
	}
	if nextCert.Equal(cert) {
		t.Fatal("the next certificate is the current one")
	}
	// Kept in the data dir: a second start loads the same pair.
	if _, again, err := LoadOrCreateNextKeyPair(dir, now(), "idp.mock.test"); err != nil || !again.Equal(nextCert) {
		t.Fatalf("next pair not kept: %v", err)
	}
	base, _ := url.Parse(idpBase)
	s, err := New(Config{BaseURL: base, Key: key, Certificate: cert, NextKey: nextKey, NextCertificate: nextCert,
		Personas: testPersonas, Now: now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	spKey, spCert, err := LoadOrCreateKeyPair(t.TempDir(), now(), "sp.test")
	if err != nil {
		t.Fatal(err)
	}
	sp := newSP(t, s, spKey, spCert, now)
	md := sp.Metadata()
	md.SPSSODescriptors[0].KeyDescriptors = nil // plain assertions, to read the signature
	b, _ := xml.Marshal(md)
	if err := s.RegisterSPMetadataXML(b); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, idp: s, h: s.Handler(), sp: sp, now: now}, nextCert
}

// signingCertOf is the certificate in the KeyInfo of the response's
// signature.
func signingCertOf(t *testing.T, raw []byte) string {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	c := doc.Root().FindElement("./Signature/KeyInfo/X509Data/X509Certificate")
	if c == nil {
		t.Fatal("no certificate in the response signature")
	}
	return strings.Join(strings.Fields(c.Text()), "")
}

func TestRolloverMetadataAndNextKey(t *testing.T) {
	e, nextCert := newRolloverEnv(t)
	var signing []string
	for _, kd := range e.sp.IDPMetadata.IDPSSODescriptors[0].KeyDescriptors {
		if kd.Use == "signing" {
			signing = append(signing, kd.KeyInfo.X509Data.X509Certificates[0].Data)
		}
	}
	next := base64.StdEncoding.EncodeToString(nextCert.Raw)
	current := base64.StdEncoding.EncodeToString(e.idp.cfg.Certificate.Raw)
	if len(signing) != 2 || signing[0] != current || signing[1] != next {
		t.Fatalf("metadata signing certificates: %d, want current then next", len(signing))
	}
	if !strings.Contains(e.idp.CertificatesPEM(), e.idp.NextCertificatePEM()) || e.idp.NextCertificatePEM() == "" {
		t.Error("CertificatesPEM lacks the next certificate")
	}

	for _, which := range []string{"current", "next"} {
		t.Run(which, func(t *testing.T) {
			raw := e.initiateWith(t, url.Values{"signKey": {which}})
			want := current
			if which == "next" {
				want = next
			}
			if got := signingCertOf(t, raw); got != want {
				t.Fatalf("signed with the wrong certificate")
			}
			if _, err := e.sp.ParseXMLResponse(raw, nil, e.sp.AcsURL); err != nil {
				t.Fatalf("an SP trusting both announced certificates refused it: %v", err)
			}
			if l := e.idp.Log(); l[len(l)-1].SigningKey != which {
				t.Errorf("log says signing key %q", l[len(l)-1].SigningKey)
			}
		})
	}

	// An SP that trusts only the current certificate refuses the next key.
	raw := e.initiateWith(t, url.Values{"signKey": {"next"}})
	only := *e.sp.IDPMetadata
	desc := only.IDPSSODescriptors[0]
	desc.KeyDescriptors = slices.DeleteFunc(slices.Clone(desc.KeyDescriptors), func(kd saml.KeyDescriptor) bool {
		return kd.KeyInfo.X509Data.X509Certificates[0].Data == next
	})
	only.IDPSSODescriptors = []saml.IDPSSODescriptor{desc}
	sp := *e.sp
	sp.IDPMetadata = &only
	if _, err := sp.ParseXMLResponse(raw, nil, sp.AcsURL); err == nil {
		t.Fatal("an SP trusting only the current certificate accepted a response signed with the next key")
	}
}

func TestSignKeyNextWithoutRollover(t *testing.T) {
	e := newEnv(t, envOpts{register: true, plaintext: true})
	e.sp.AllowIDPInitiated = true
	signing := 0
	for _, kd := range e.sp.IDPMetadata.IDPSSODescriptors[0].KeyDescriptors {
		if kd.Use == "signing" {
			signing++
		}
	}
	if e.idp.HasNextKey() || signing != 1 {
		t.Fatal("an IdP without rollover announces a second key")
	}
	rec := e.get(idpBase + "/idp/initiate?" + url.Values{"sp": {testSPEntityID}}.Encode())
	action, form := parseLogin(t, rec.Body.String())
	form.Set("persona", "alice")
	form.Set("signKey", "next")
	rec = e.post(idpBase+action, form)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "no next signing key") {
		t.Fatalf("status %d, want 400 with a message:\n%s", rec.Code, rec.Body)
	}
}
