package mockidp

import (
	"crypto/x509"
	"fmt"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	"github.com/crewjam/saml/xmlenc"
)

// crewjam's MakeAssertionEl always signs the assertion before encrypting
// it. Keycloak's default ("Sign documents" on, "Sign assertions" off, an
// encryption key on the client) is a signed Response around an
// EncryptedAssertion whose assertion is unsigned; this file builds that,
// choosing the key and algorithms as MakeAssertionEl does, with crewjam's
// own xmlenc package.

// assertionEncryptionBlockCiphers is crewjam's order of preference among
// the block ciphers an SP's metadata may list (identifierBlockCiphers).
var assertionEncryptionBlockCiphers = []xmlenc.BlockCipher{
	xmlenc.AES256GCM, xmlenc.AES128GCM, xmlenc.AES192GCM,
	xmlenc.AES256CBC, xmlenc.AES128CBC, xmlenc.AES192CBC,
}

// spEncryptionCertificate is the certificate crewjam encrypts an assertion
// to: the first non-blank one of a KeyDescriptor with use "encryption",
// else of one with no use; nil and no error when there is none (a plain
// assertion is sent). Like crewjam, it does not skip an unusable one: that
// is an error (errBadSPKey), never a silent plain assertion.
func spEncryptionCertificate(d *saml.SPSSODescriptor) (*x509.Certificate, []saml.EncryptionMethod, error) {
	if d == nil {
		return nil, nil, nil
	}
	for _, use := range []string{"encryption", ""} {
		for _, kd := range d.KeyDescriptors {
			if kd.Use != use {
				continue
			}
			for _, c := range kd.KeyInfo.X509Data.X509Certificates {
				cert, err := parseMetadataCertificate(c.Data) // sps.go
				if err == nil && cert != nil {
					err = checkEncryptionCert(cert) // sps.go
				}
				if err != nil {
					return nil, nil, fmt.Errorf("%w: the certificate %w", errBadSPKey, err)
				}
				if cert != nil {
					return cert, kd.EncryptionMethods, nil
				}
			}
		}
	}
	return nil, nil, nil
}

// assertionEncrypterFor is crewjam's default assertion encrypter:
// RSA-OAEP-MGF1P with a SHA-1 digest, and the first block cipher of
// assertionEncryptionBlockCiphers the SP lists, AES-128-CBC if none.
func assertionEncrypterFor(methods []saml.EncryptionMethod) xmlenc.Encrypter {
	enc := xmlenc.OAEP()
	enc.DigestMethod = &xmlenc.SHA1
	enc.BlockCipher = xmlenc.AES128CBC
	listed := make(map[string]bool, len(methods))
	for _, m := range methods {
		listed[m.Algorithm] = true
	}
	for _, bc := range assertionEncryptionBlockCiphers {
		if listed[bc.Algorithm()] {
			enc.BlockCipher = bc
			break
		}
	}
	return enc
}

// makeUnsignedAssertionEl sets req.AssertionEl to req.Assertion without a
// signature, encrypted when the SP descriptor has a key crewjam would
// encrypt to (as saml:EncryptedAssertion), plain otherwise.
func makeUnsignedAssertionEl(req *saml.IdpAuthnRequest) error {
	req.Assertion.Signature = nil
	assertionEl := req.Assertion.Element()
	cert, methods, err := spEncryptionCertificate(req.SPSSODescriptor)
	if err != nil {
		return err
	}
	if cert == nil {
		req.AssertionEl = assertionEl
		return nil
	}
	doc := etree.NewDocument()
	doc.SetRoot(assertionEl)
	plaintext, err := doc.WriteToBytes()
	if err != nil {
		return err
	}
	encryptedDataEl, err := assertionEncrypterFor(methods).Encrypt(cert, plaintext, nil)
	if err != nil {
		return err
	}
	encryptedDataEl.CreateAttr("Type", "http://www.w3.org/2001/04/xmlenc#Element")
	encryptedAssertionEl := etree.NewElement("saml:EncryptedAssertion")
	encryptedAssertionEl.AddChild(encryptedDataEl)
	req.AssertionEl = encryptedAssertionEl
	return nil
}
