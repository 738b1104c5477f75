package mockidp

import (
	"strings"

	"github.com/crewjam/saml"
)

// checkOptionsFor refuses, with a message for the person, options this
// login cannot honour: the next key without a rollover, encryption for an
// SP whose metadata has no certificate. Checked before the response is
// built, so the person gets the login form back rather than an error.
func (s *Server) checkOptionsFor(md *saml.EntityDescriptor, opts resolvedOptions) string {
	if opts.SignKey == signKeyNext && s.cfg.NextKey == nil {
		return "Signing key: " + errNoNextKey.Error() + "."
	}
	if opts.Encrypt == encryptAlways && !spHasCertificate(md) {
		return "Encryption: " + errNoSPKey.Error() + "."
	}
	// crewjam signs the assertion and then encrypts it: an encrypted
	// assertion cannot be left unsigned (writeWithOptions would fail).
	if !opts.SignAssertion && willEncrypt(md, opts.Encrypt) {
		return "Signing: response-only signing cannot be combined with an encrypted assertion; sign the assertion too, or choose encryption never."
	}
	return ""
}

// willEncrypt reports whether a login to the SP described by md is
// encrypted under the encryption option: always (a certificate was checked
// above), never, or auto when an SP descriptor has a key crewjam encrypts to.
func willEncrypt(md *saml.EntityDescriptor, option string) bool {
	switch option {
	case encryptAlways:
		return true
	case encryptNever:
		return false
	}
	if md == nil {
		return false
	}
	for _, d := range md.SPSSODescriptors {
		for _, kd := range d.KeyDescriptors {
			if !isEncryptionKey(kd) {
				continue
			}
			for _, c := range kd.KeyInfo.X509Data.X509Certificates {
				if strings.TrimSpace(c.Data) != "" {
					return true
				}
			}
		}
	}
	return false
}
