// Package tlsutil makes a throw-away certificate authority and the server
// certificates that the harness, the mock IdP and the reference SP serve over
// TLS. Every key is ECDSA P-256. Nothing here is meant for production use.
package tlsutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hmpconform/hmpconform/internal/dirlock"
	"github.com/hmpconform/hmpconform/internal/keypair"
)

const (
	// CACertFile and CAKeyFile are the names that WriteFiles and
	// LoadOrCreateCA use in their directory.
	CACertFile = "ca-cert.pem"
	CAKeyFile  = "ca-key.pem"

	backdate = time.Hour
	validFor = 30 * 24 * time.Hour
)

// CA is a certificate authority that issues server certificates.
type CA struct {
	// Cert is the self-signed certificate of the authority.
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA makes a self-signed authority named commonName, valid from an hour
// before now until 30 days after now.
func NewCA(commonName string, now time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ca key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	skid, err := keyID(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"hmpconform"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          skid,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create ca certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse ca certificate: %w", err)
	}
	return &CA{Cert: cert, key: key}, nil
}

// IssueServer issues a server certificate for names, which may be DNS names
// (wildcards allowed) or IP addresses. The first name is also the common name.
// The certificate is valid from an hour before now for 30 days, but never
// beyond the authority's own expiry. The returned chain holds the leaf and
// the authority, and Leaf is set.
func (ca *CA) IssueServer(names []string, now time.Time) (tls.Certificate, error) {
	if len(names) == 0 {
		return tls.Certificate{}, errors.New("issue server certificate: no names")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate server key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return tls.Certificate{}, err
	}
	notAfter := now.Add(validFor)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[0], Organization: []string{"hmpconform"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		AuthorityKeyId:        ca.Cert.SubjectKeyId,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parse server certificate: %w", err)
	}
	return tls.Certificate{
		Certificate: [][]byte{der, ca.Cert.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}, nil
}

// Pool returns a new pool that trusts only this authority.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// CertPEM returns the authority's certificate in PEM form.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// SPKIHash returns the base64 of the SHA-256 of the certificate's
// SubjectPublicKeyInfo: the form that Chromium's
// --ignore-certificate-errors-spki-list takes.
func SPKIHash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// WriteFiles writes the authority's certificate (ca-cert.pem, mode 0644) and
// private key (ca-key.pem, mode 0600) to dir, creating dir if needed.
func (ca *CA) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write ca: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(ca.key)
	if err != nil {
		return fmt.Errorf("write ca: marshal key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(filepath.Join(dir, CAKeyFile), keyPEM, 0o600); err != nil {
		return fmt.Errorf("write ca: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, CACertFile), ca.CertPEM(), 0o644); err != nil {
		// Take the key back: half an authority would refuse every later start.
		_ = os.Remove(filepath.Join(dir, CAKeyFile))
		return fmt.Errorf("write ca: %w", err)
	}
	return nil
}

// LoadCA reads an authority that WriteFiles wrote to dir. Errors name the
// file concerned.
func LoadCA(dir string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("load ca: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("load ca: %w", err)
	}
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("load ca: %s holds no PEM certificate", certPath)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("load ca: %s: parse certificate: %w", certPath, err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil || kb.Type != "EC PRIVATE KEY" {
		return nil, fmt.Errorf("load ca: %s holds no PEM EC private key", keyPath)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("load ca: %s: parse key: %w", keyPath, err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, fmt.Errorf("load ca: %s does not match %s (restore the pair, or delete both files to make a new CA)", certPath, keyPath)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("load ca: %s is not a CA certificate", certPath)
	}
	return &CA{Cert: cert, key: key}, nil
}

// LoadOrCreateCA loads the authority kept in dir. When dir holds none
// (neither ca-cert.pem nor ca-key.pem), or the one it holds is not valid at
// now or expires within a day, it makes a new one named "hmpconform local
// CA" and writes it to dir. One of the two files without the other is an
// error naming the missing one, and the other is left as it is. The bool
// reports whether a new authority was made (a person who trusted the old
// one must trust the new one).
func LoadOrCreateCA(dir string, now time.Time) (*CA, bool, error) {
	// A valid authority loads without the lock (a read-only directory
	// works); a start that may write takes it, so that two starting at
	// once make one authority, and looks again.
	if ca, err := LoadCA(dir); err == nil && validAt(ca, now) {
		return ca, false, nil
	}
	unlock, err := dirlock.Lock(dir, "ca")
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	certMissing, err := isMissing(certPath)
	if err != nil {
		return nil, false, err
	}
	keyMissing, err := isMissing(keyPath)
	if err != nil {
		return nil, false, err
	}
	switch {
	case certMissing && keyMissing:
	case certMissing || keyMissing:
		return nil, false, fmt.Errorf("load ca: %w", keypair.HalfPairError(keyPath, certPath, keyMissing,
			"CA", "a browser or client that trusts the old one must then trust the new one"))
	default:
		ca, err := LoadCA(dir)
		if err != nil {
			return nil, false, err
		}
		if validAt(ca, now) {
			return ca, false, nil
		}
	}
	ca, err := NewCA("hmpconform local CA", now)
	if err != nil {
		return nil, false, err
	}
	if err := ca.WriteFiles(dir); err != nil {
		return nil, false, err
	}
	return ca, true, nil
}

// validAt reports whether ca is valid at now and for a day after.
func validAt(ca *CA, now time.Time) bool {
	return now.After(ca.Cert.NotBefore) && now.Add(24*time.Hour).Before(ca.Cert.NotAfter)
}

// isMissing reports whether path does not exist; other errors (say,
// permission denied) are returned.
func isMissing(path string) (bool, error) {
	_, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("load ca: %w", err)
	}
	return false, nil
}

func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func keyID(pub *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return sum[:20], nil
}
