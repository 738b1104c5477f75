package mockidp

import (
	"crypto/x509"
	"errors"

	"github.com/crewjam/saml"
)

// The per-login encryption option (options.go, field "encrypt").
const (
	// encryptAuto encrypts when the SP metadata has an encryption key,
	// as crewjam does by default.
	encryptAuto = "auto"
	// encryptNever sends a plain assertion even to an SP with a key.
	encryptNever = "never"
	// encryptAlways encrypts, to the SP's encryption certificate or, when
	// its metadata lists only signing certificates, to its signing
	// certificate; a login to an SP with no certificate is refused.
	encryptAlways = "always"
)

// errNoSPKey refuses encrypt=always for an SP whose metadata has no
// certificate at all.
var errNoSPKey = errors.New("this service provider's metadata has no certificate to encrypt the assertion to; choose encryption auto or never")

// errBadSPKey refuses a login whose assertion would be encrypted to a
// certificate in the SP's metadata that the IdP cannot use (registration
// refuses such metadata, so this is a safety net).
var errBadSPKey = errors.New("this service provider's metadata has an encryption certificate the IdP cannot use")

// checkEncryptionFor returns, as a message for the person, why the
// assertion of a login with this encryption option cannot be encrypted as
// the option says: no certificate for encrypt=always, or an unusable one
// (crewjam would fail with a 500, or a plain assertion be sent). "" if it
// can.
func checkEncryptionFor(d *saml.SPSSODescriptor, option string) string {
	eff, err := spDescriptorForEncryption(d, option)
	if err == nil {
		var cert *x509.Certificate
		cert, _, err = spEncryptionCertificate(eff) // encrypt_unsigned.go
		if err == nil && cert == nil && option == encryptAlways {
			err = errNoSPKey
		}
	}
	if err == nil {
		return ""
	}
	msg := "Encryption: " + err.Error() + "."
	if errors.Is(err, errBadSPKey) {
		msg += " Register the SP again with a valid certificate, or choose encryption never."
	}
	return msg
}

// isEncryptionKey reports whether crewjam would encrypt to kd: its use is
// "encryption" or unspecified.
func isEncryptionKey(kd saml.KeyDescriptor) bool { return kd.Use == "encryption" || kd.Use == "" }

// spDescriptorForEncryption returns the SP descriptor crewjam's
// MakeAssertionEl should see for the option: crewjam encrypts exactly when
// the descriptor has an encryption (or use-less) KeyDescriptor, so the
// option is applied by editing a copy of the descriptor's keys. The
// registered metadata itself is never changed.
func spDescriptorForEncryption(d *saml.SPSSODescriptor, option string) (*saml.SPSSODescriptor, error) {
	if d == nil || option == encryptAuto || option == "" {
		return d, nil
	}
	c := *d
	var keep, signing []saml.KeyDescriptor
	hasEncryption := false
	for _, kd := range d.KeyDescriptors {
		switch {
		case isEncryptionKey(kd):
			hasEncryption = true
			if option == encryptAlways {
				keep = append(keep, kd)
			}
		default:
			keep = append(keep, kd)
			signing = append(signing, kd)
		}
	}
	if option == encryptAlways && !hasEncryption {
		if len(signing) == 0 {
			return nil, errNoSPKey
		}
		enc := signing[0]
		enc.Use = "encryption"
		keep = append(keep, enc)
	}
	c.KeyDescriptors = keep
	return &c, nil
}

// spHasCertificate reports whether md's SP descriptors list any
// certificate (which encrypt=always needs).
func spHasCertificate(md *saml.EntityDescriptor) bool {
	if md == nil {
		return false
	}
	for _, d := range md.SPSSODescriptors {
		for _, kd := range d.KeyDescriptors {
			for _, c := range kd.KeyInfo.X509Data.X509Certificates {
				if c.Data != "" {
					return true
				}
			}
		}
	}
	return false
}
