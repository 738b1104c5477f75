package mockidp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hmpconform/hmpconform/internal/keypair"
)

// File names in the data directory.
const (
	keyFile    = "idp-key.pem"
	certFile   = "idp-cert.pem"
	tlsKeyFile = "tls-key.pem"
	tlsCrtFile = "tls-cert.pem"
)

// certLifetime is the validity of the certificates made here.
const certLifetime = 10 * 365 * 24 * time.Hour

// LoadOrCreateKeyPair returns the IdP signing key and certificate stored in
// dir (idp-key.pem, idp-cert.pem), creating an RSA 2048 key and a
// self-signed certificate valid for 10 years from now when both are absent
// (a first start). One without the other is an error naming the missing
// file: a new pair would replace the certificate SPs trust.
func LoadOrCreateKeyPair(dir string, now time.Time, commonName string) (*rsa.PrivateKey, *x509.Certificate, error) {
	return loadOrCreate(dir, keyFile, certFile, now, func(key *rsa.PrivateKey) (*x509.Certificate, error) {
		return selfSign(key, now, commonName, nil)
	})
}

// LoadOrCreateTLSCertificate returns a TLS certificate for hosts (DNS names
// or IP addresses), stored in dir (tls-key.pem, tls-cert.pem): the stored
// one if it is valid at now and covers every host, otherwise a new
// self-signed one, which replaces it.
func LoadOrCreateTLSCertificate(dir string, now time.Time, hosts []string) (tls.Certificate, error) {
	if len(hosts) == 0 {
		return tls.Certificate{}, errors.New("mockidp: no host for the TLS certificate")
	}
	key, cert, err := loadPair(filepath.Join(dir, tlsKeyFile), filepath.Join(dir, tlsCrtFile))
	usable := err == nil && now.After(cert.NotBefore) && now.Before(cert.NotAfter)
	for _, h := range hosts {
		if usable && cert.VerifyHostname(h) != nil {
			usable = false
		}
	}
	if !usable {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return tls.Certificate{}, err
		}
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return tls.Certificate{}, err
		}
		if cert, err = selfSign(key, now, hosts[0], hosts); err != nil {
			return tls.Certificate{}, err
		}
		if err := writePair(dir, tlsKeyFile, tlsCrtFile, key, cert); err != nil {
			return tls.Certificate{}, err
		}
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}, nil
}

func loadOrCreate(dir, keyName, certName string, now time.Time, sign func(*rsa.PrivateKey) (*x509.Certificate, error)) (*rsa.PrivateKey, *x509.Certificate, error) {
	keyPath, certPath := filepath.Join(dir, keyName), filepath.Join(dir, certName)
	keyMissing, err := isMissing(keyPath)
	if err != nil {
		return nil, nil, err
	}
	certMissing, err := isMissing(certPath)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case !keyMissing && !certMissing:
		return loadPair(keyPath, certPath)
	case keyMissing != certMissing:
		// Only both missing is a first start: making a new pair now would
		// overwrite the remaining file and change the certificate SPs trust.
		return nil, nil, fmt.Errorf("mockidp: %w", keypair.HalfPairError(keyPath, certPath, keyMissing,
			"key pair", "SPs trusting the old certificate will then refuse the IdP"))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	cert, err := sign(key)
	if err != nil {
		return nil, nil, err
	}
	if err := writePair(dir, keyName, certName, key, cert); err != nil {
		return nil, nil, err
	}
	return key, cert, nil
}

// isMissing reports whether path does not exist; other errors (say,
// permission denied) are returned.
func isMissing(path string) (bool, error) {
	_, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	return false, err
}

// loadPair reads a PEM key and certificate; the error matches
// os.ErrNotExist when either file is missing.
func loadPair(keyPath, certPath string) (*rsa.PrivateKey, *x509.Certificate, error) {
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, nil, fmt.Errorf("mockidp: %s holds no PEM block", keyPath)
	}
	var key *rsa.PrivateKey
	switch kb.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(kb.Bytes)
	default:
		var k any
		if k, err = x509.ParsePKCS8PrivateKey(kb.Bytes); err == nil {
			var ok bool
			if key, ok = k.(*rsa.PrivateKey); !ok {
				err = errors.New("not an RSA key")
			}
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("mockidp: %s: %w", keyPath, err)
	}
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, nil, fmt.Errorf("mockidp: %s holds no certificate", certPath)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("mockidp: %s: %w", certPath, err)
	}
	if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, nil, fmt.Errorf("mockidp: %s does not match %s", certPath, keyPath)
	}
	return key, cert, nil
}

func writePair(dir, keyName, certName string, key *rsa.PrivateKey, cert *x509.Certificate) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, keyName), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, certName), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
}

func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// selfSign makes a self-signed certificate for key, valid from an hour
// before now for 10 years. hosts, if any, become its subject alternative
// names (and make it a TLS server certificate).
func selfSign(key *rsa.PrivateKey, now time.Time, commonName string, hosts []string) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"hmpconform mock IdP"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
	}
	if len(hosts) > 0 {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
