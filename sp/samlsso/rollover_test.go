package samlsso_test

import (
	"log/slog"
	"net/url"
	"testing"

	"github.com/hmpconform/hmpconform/internal/keypair"
	"github.com/hmpconform/hmpconform/mockidp"
	"github.com/hmpconform/hmpconform/sp/samlsso"
)

// withRolloverIdP replaces the env's IdP with one that has a current and a
// next key pair; each test sets the certificates the SP trusts.
func (e *env) withRolloverIdP() {
	e.t.Helper()
	current, err := keypair.New(nil, "idp", e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	next, err := keypair.New(nil, "idp next", e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	idpURL, _ := url.Parse("https://idp.mock.test:8443")
	idp, err := mockidp.New(mockidp.Config{BaseURL: idpURL, Key: current.Key, Certificate: current.Certificate,
		NextKey: next.Key, NextCertificate: next.Certificate, Now: e.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		e.t.Fatal(err)
	}
	md, err := e.sp.Metadata(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := idp.RegisterSPMetadataXML(md); err != nil {
		e.t.Fatal(err)
	}
	e.idp = idp
}

func (e *env) idpInitiatedWithKey(nameID, signKey string) string {
	e.t.Helper()
	return e.postIdP("/idp/initiate", url.Values{
		"mockidp_login": {"1"}, "sp": {e.sp.DefaultEntityID()}, "username": {nameID}, "signKey": {signKey},
	})
}

func TestRolloverTrustsEveryConfiguredCertificate(t *testing.T) {
	e := newEnv(t)
	e.withRolloverIdP()

	// Trusting the current certificate only: the next key is refused.
	e.cfg.IdPCertificatePEM = e.idp.CertificatePEM()
	if _, err := e.sp.Verify(t.Context(), e.cfg, e.idpInitiatedWithKey("before", "current")); err != nil {
		t.Fatalf("current key refused: %v", err)
	}
	if got := code(t, mustFail(t, e, e.idpInitiatedWithKey("early", "next"))); got != samlsso.CodeSignature {
		t.Fatalf("next key before the rollover: code %q, want %q", got, samlsso.CodeSignature)
	}

	// During the rollover the settings hold both PEM blocks: both verify.
	e.cfg.IdPCertificatePEM = e.idp.CertificatesPEM()
	certs, err := samlsso.ParseCertificates(e.cfg.IdPCertificatePEM)
	if err != nil || len(certs) != 2 {
		t.Fatalf("ParseCertificates: %d certificates, %v", len(certs), err)
	}
	for _, key := range []string{"current", "next"} {
		a, err := e.sp.Verify(t.Context(), e.cfg, e.idpInitiatedWithKey("during-"+key, key))
		if err != nil || a.NameID != "during-"+key {
			t.Fatalf("%s key during the rollover: %v", key, err)
		}
	}

	// After it, only the next certificate: the old key is refused.
	e.cfg.IdPCertificatePEM = e.idp.NextCertificatePEM()
	if got := code(t, mustFail(t, e, e.idpInitiatedWithKey("late", "current"))); got != samlsso.CodeSignature {
		t.Fatalf("old key after the rollover: code %q, want %q", got, samlsso.CodeSignature)
	}
}

func mustFail(t *testing.T, e *env, resp string) error {
	t.Helper()
	_, err := e.sp.Verify(t.Context(), e.cfg, resp)
	if err == nil {
		t.Fatal("accepted")
	}
	return err
}

func TestParseCertificatesRefusesJunk(t *testing.T) {
	e := newEnv(t)
	good := e.idp.CertificatePEM()
	for name, text := range map[string]string{
		"trailing junk":  good + "not a certificate",
		"a private key":  good + "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
		"empty":          "",
		"broken base64":  "%%%",
		"bad DER in PEM": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
	} {
		if _, err := samlsso.ParseCertificates(text); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
