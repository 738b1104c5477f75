package mockidp

import (
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
