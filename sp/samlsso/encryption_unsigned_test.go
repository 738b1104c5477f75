package samlsso_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// keycloakStyleResponse is a signed Response around an EncryptedAssertion
// whose assertion is unsigned (Keycloak's default with a client encryption
// key), from the mock IdP: signWhat=response with encryption, or the
// Keycloak flavour with encryption.
func (e *env) keycloakStyleResponse(nameID string, form url.Values) string {
	e.t.Helper()
	v := url.Values{"mockidp_login": {"1"}, "sp": {e.sp.DefaultEntityID()}, "username": {nameID}, "groups": {"Engineering"}}
	for k, vals := range form {
		v[k] = vals
	}
	resp := e.postIdP("/idp/initiate", v)
	raw, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		e.t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		e.t.Fatal(err)
	}
	if doc.Root().FindElement("./Signature") == nil || doc.Root().FindElement("./EncryptedAssertion") == nil {
		e.t.Fatalf("want a signed response with an EncryptedAssertion:\n%s", raw)
	}
	return resp
}

// The reference SP has no "require a signed assertion" setting: per SAML
// Profiles §4.1.3.5 the assertion is protected by its own signature or by
// the response's, and SEC-SIG refuses only what neither signature covers.
// A signed response with an unsigned encrypted assertion is accepted.
func TestReferenceSPAcceptsUnsignedEncryptedAssertionInSignedResponse(t *testing.T) {
	e := newEnv(t)
	for name, form := range map[string]url.Values{
		"signWhat=response": {"encrypt": {"always"}, "signWhat": {"response"}},
		"keycloak flavour":  {"encrypt": {"always"}, "flavour": {"keycloak"}},
	} {
		t.Run(name, func(t *testing.T) {
			nameID := "kc-" + strings.ReplaceAll(name, " ", "-")
			a, err := e.sp.Verify(t.Context(), e.cfg, e.keycloakStyleResponse(nameID, form))
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if a.NameID != nameID {
				t.Errorf("NameID %q, want %q", a.NameID, nameID)
			}
		})
	}
}

// The same response as xmlsec1 sees it: the response signature verifies
// with the IdP certificate, and the EncryptedData decrypts with the SP key
// to an Assertion with no Signature. Skipped when xmlsec1 is missing.
func TestUnsignedEncryptedAssertionWithXmlsec1(t *testing.T) {
	xmlsec1, err := exec.LookPath("xmlsec1")
	if err != nil {
		t.Skip("xmlsec1 is not installed")
	}
	e := newEnv(t)
	raw, err := base64.StdEncoding.DecodeString(e.keycloakStyleResponse("xmlsec", url.Values{"encrypt": {"always"}, "signWhat": {"response"}}))
	if err != nil {
		t.Fatal(err)
	}
	pair, err := keys()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	respPath := write("response.xml", raw)
	idpCert := write("idp.pem", []byte(e.cfg.IdPCertificatePEM))
	spKey := write("sp.key", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(pair.Key)}))

	out, err := exec.CommandContext(t.Context(), xmlsec1, "--verify", "--pubkey-cert-pem", idpCert,
		"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response", respPath).CombinedOutput()
	if err != nil {
		t.Fatalf("xmlsec1 --verify of the response: %v\n%s", err, out)
	}
	out, err = exec.CommandContext(t.Context(), xmlsec1, "--decrypt", "--privkey-pem", spKey, respPath).Output()
	if err != nil {
		t.Fatalf("xmlsec1 --decrypt with the SP key: %v\n%s", err, out)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(out); err != nil {
		t.Fatalf("xmlsec1's decrypted document: %v\n%s", err, out)
	}
	a := doc.Root().FindElement("//Assertion")
	if a == nil {
		t.Fatalf("no Assertion after decryption:\n%s", out)
	}
	if a.FindElement("./Signature") != nil {
		t.Error("the decrypted assertion is signed; response-only signing asked for none")
	}
}
