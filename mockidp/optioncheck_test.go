package mockidp

import (
	"net/url"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/crewjam/saml/xmlenc"
)

// decryptedAssertion returns the assertion inside raw's EncryptedAssertion,
// decrypted with the test SP's key; it fails the test if there is none.
func (e *env) decryptedAssertion(t *testing.T, raw []byte) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	ed := doc.Root().FindElement("./EncryptedAssertion/EncryptedData")
	if ed == nil {
		t.Fatalf("no EncryptedAssertion/EncryptedData in the response:\n%s", raw)
	}
	plain, err := xmlenc.Decrypt(e.sp.Key, ed)
	if err != nil {
		t.Fatalf("decrypt: %v", err)
	}
	a := etree.NewDocument()
	if err := a.ReadFromBytes(plain); err != nil {
		t.Fatalf("decrypted assertion is not XML: %v", err)
	}
	return a.Root()
}

// Response-only signing with an encrypted assertion is what Keycloak sends
// by default: a signed Response around an EncryptedAssertion whose
// assertion is unsigned. The IdP builds it (encrypt_unsigned.go) rather
// than refusing the login, and an SP checking the response signature
// accepts it.
func TestResponseOnlySigningWithEncryptionSendsUnsignedEncryptedAssertion(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts envOpts
		form url.Values
	}{
		{"always, signing key only", envOpts{register: true, plaintext: true, signedReqs: true}, url.Values{"encrypt": {"always"}, "signWhat": {"response"}}},
		{"always, encryption key", envOpts{register: true}, url.Values{"encrypt": {"always"}, "signWhat": {"response"}}},
		{"auto, encryption key", envOpts{register: true}, url.Values{"encrypt": {"auto"}, "signWhat": {"response"}}},
		{"keycloak flavour, encryption key", envOpts{register: true}, url.Values{"flavour": {"keycloak"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts)
			raw := e.initiateWith(t, tc.form)
			if resp, _ := sigMethods(t, raw); resp == "" {
				t.Fatal("the response is not signed")
			}
			a := e.decryptedAssertion(t, raw)
			if a.Tag != "Assertion" {
				t.Fatalf("decrypted %q, want an Assertion", a.Tag)
			}
			if a.FindElement("./Signature") != nil {
				t.Fatal("the encrypted assertion is signed; response-only signing asked for none")
			}
			assertion, err := e.sp.ParseXMLResponse(raw, nil, e.sp.AcsURL)
			if err != nil {
				t.Fatalf("the SP refused a signed response with an unsigned encrypted assertion: %v", err)
			}
			if assertion.Subject == nil || assertion.Subject.NameID == nil || assertion.Subject.NameID.Value == "" {
				t.Errorf("no NameID in the accepted assertion: %+v", assertion.Subject)
			}
		})
	}
	// Without encryption, response-only signing sends a plain unsigned assertion.
	e := newEnv(t, envOpts{register: true})
	raw := e.initiateWith(t, url.Values{"encrypt": {"never"}, "signWhat": {"response"}})
	if strings.Contains(string(raw), "EncryptedAssertion") {
		t.Fatal("encrypted despite encrypt=never")
	}
	if _, assertion := sigMethods(t, raw); assertion != "" {
		t.Fatal("the assertion is signed despite signWhat=response")
	}
	if _, err := e.sp.ParseXMLResponse(raw, nil, e.sp.AcsURL); err != nil {
		t.Fatalf("response-only signing without encryption refused: %v", err)
	}
}

// An encrypted assertion signed as asked (both, assertion only) still
// carries its signature inside the encryption (crewjam's MakeAssertionEl).
func TestEncryptedAssertionKeepsItsSignature(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	for _, signWhat := range []string{"both", "assertion"} {
		raw := e.initiateWith(t, url.Values{"encrypt": {"always"}, "signWhat": {signWhat}})
		if e.decryptedAssertion(t, raw).FindElement("./Signature") == nil {
			t.Errorf("signWhat=%s: the encrypted assertion is unsigned", signWhat)
		}
	}
}
