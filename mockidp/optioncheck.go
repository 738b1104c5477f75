package mockidp

import (
	"github.com/crewjam/saml"
)

// checkOptionsFor refuses, with a message for the person, options this
// login cannot honour: the next key without a rollover, encryption for an
// SP whose metadata has no certificate. Checked before the response is
// built, so the person gets the login form back rather than an error.
// Response-only signing with an encrypted assertion is built
// (encrypt_unsigned.go), as Keycloak sends it.
func (s *Server) checkOptionsFor(md *saml.EntityDescriptor, opts resolvedOptions) string {
	if opts.SignKey == signKeyNext && s.cfg.NextKey == nil {
		return "Signing key: " + errNoNextKey.Error() + "."
	}
	if opts.Encrypt == encryptAlways && !spHasCertificate(md) {
		return "Encryption: " + errNoSPKey.Error() + "."
	}
	return ""
}
