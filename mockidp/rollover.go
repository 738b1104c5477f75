package mockidp

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"time"
)

// The per-login signing key option (options.go, field "signKey").
const (
	signKeyCurrent = "current"
	signKeyNext    = "next"
)

// File names of the next key pair in the data directory.
const (
	nextKeyFile  = "idp-next-key.pem"
	nextCertFile = "idp-next-cert.pem"
)

// errNoNextKey refuses signKey=next on an IdP started without rollover.
var errNoNextKey = errors.New("this IdP has no next signing key: start it with --rollover (MOCKIDP_ROLLOVER) to announce a second certificate")

// LoadOrCreateNextKeyPair returns the next signing key pair of a
// certificate rollover, kept in dir (idp-next-key.pem, idp-next-cert.pem)
// beside the current one and made like it on first use.
func LoadOrCreateNextKeyPair(dir string, now time.Time, commonName string) (*rsa.PrivateKey, *x509.Certificate, error) {
	return loadOrCreate(dir, nextKeyFile, nextCertFile, now, func(key *rsa.PrivateKey) (*x509.Certificate, error) {
		return selfSign(key, now, commonName, nil)
	})
}

// HasNextKey reports whether the IdP announces a next certificate.
func (s *Server) HasNextKey() bool { return s.cfg.NextCertificate != nil }

// signingPair is the key pair a login signs with.
func (s *Server) signingPair(which string) (*rsa.PrivateKey, *x509.Certificate, error) {
	if which == signKeyNext {
		if s.cfg.NextKey == nil {
			return nil, nil, errNoNextKey
		}
		return s.cfg.NextKey, s.cfg.NextCertificate, nil
	}
	return s.cfg.Key, s.cfg.Certificate, nil
}

// NextCertificatePEM is the next signing certificate, PEM encoded; "" when
// the IdP has none.
func (s *Server) NextCertificatePEM() string {
	if s.cfg.NextCertificate == nil {
		return ""
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cfg.NextCertificate.Raw}))
}

// CertificatesPEM is every certificate the metadata announces for signing
// (current, then next), PEM encoded: what an SP trusts during a rollover.
func (s *Server) CertificatesPEM() string { return s.CertificatePEM() + s.NextCertificatePEM() }
