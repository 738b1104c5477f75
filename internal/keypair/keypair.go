// Package keypair makes and keeps the RSA signing key pairs of the mock IdP
// and the reference SP: made on first start, reused afterwards.
package keypair

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// Pair is a signing key and its self-signed certificate.
type Pair struct {
	Key         *rsa.PrivateKey
	Certificate *x509.Certificate
}

// New makes a 2048-bit RSA key and a self-signed certificate valid for ten
// years from now.
func New(random io.Reader, commonName string, now time.Time) (Pair, error) {
	if random == nil {
		random = rand.Reader
	}
	key, err := rsa.GenerateKey(random, 2048)
	if err != nil {
		return Pair{}, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(random, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return Pair{}, fmt.Errorf("serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(random, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return Pair{}, fmt.Errorf("create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Pair{}, err
	}
	return Pair{Key: key, Certificate: cert}, nil
}

// LoadOrCreate reads <prefix>-key.pem and <prefix>-cert.pem from dir, or
// makes and writes them (key 0600) when absent.
func LoadOrCreate(dir, prefix, commonName string, now time.Time) (Pair, error) {
	keyPath := filepath.Join(dir, prefix+"-key.pem")
	certPath := filepath.Join(dir, prefix+"-cert.pem")
	keyPEM, kerr := os.ReadFile(keyPath)
	certPEM, cerr := os.ReadFile(certPath)
	if kerr == nil && cerr == nil {
		return Parse(keyPEM, certPEM)
	}
	if !errors.Is(kerr, os.ErrNotExist) && kerr != nil {
		return Pair{}, fmt.Errorf("read %s: %w", keyPath, kerr)
	}
	p, err := New(rand.Reader, commonName, now)
	if err != nil {
		return Pair{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Pair{}, fmt.Errorf("create %s: %w", dir, err)
	}
	kp, cp := p.PEM()
	if err := os.WriteFile(keyPath, kp, 0o600); err != nil {
		return Pair{}, fmt.Errorf("write key: %w", err)
	}
	if err := os.WriteFile(certPath, cp, 0o644); err != nil {
		return Pair{}, fmt.Errorf("write certificate: %w", err)
	}
	return p, nil
}

// PEM encodes the key (PKCS#8) and the certificate.
func (p Pair) PEM() (keyPEM, certPEM []byte) {
	der, _ := x509.MarshalPKCS8PrivateKey(p.Key)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Certificate.Raw})
}

// Parse reads a PEM key (PKCS#8 or PKCS#1) and certificate and checks they match.
func Parse(keyPEM, certPEM []byte) (Pair, error) {
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return Pair{}, errors.New("key: no PEM block")
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(kb.Bytes); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return Pair{}, errors.New("key: not an RSA key")
		}
		key = rk
	} else if rk, err2 := x509.ParsePKCS1PrivateKey(kb.Bytes); err2 == nil {
		key = rk
	} else {
		return Pair{}, fmt.Errorf("key: %w", err)
	}
	cb, _ := pem.Decode(certPEM)
	if cb == nil {
		return Pair{}, errors.New("certificate: no PEM block")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return Pair{}, fmt.Errorf("certificate: %w", err)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return Pair{}, errors.New("the certificate does not match the key")
	}
	return Pair{Key: key, Certificate: cert}, nil
}
