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

	"github.com/hmpconform/hmpconform/internal/dirlock"
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
// makes and writes them (key 0600) when both are absent: a first start.
// One without the other is an error naming the missing file, and the one
// there is left as it is: a new pair would overwrite it and change the
// certificate that the other side trusts. Neither file is ever
// overwritten. A file that cannot be read or parsed is an error naming it.
// Callers in several processes at once get the same pair (dirlock.Lock).
func LoadOrCreate(dir, prefix, commonName string, now time.Time) (Pair, error) {
	keyPath := filepath.Join(dir, prefix+"-key.pem")
	certPath := filepath.Join(dir, prefix+"-cert.pem")
	// A full pair loads without the lock, so a read-only key directory
	// works; only a start that may write takes it, and looks again.
	if p, err := load(keyPath, certPath); err == nil {
		return p, nil
	}
	unlock, err := dirlock.Lock(dir, prefix)
	if err != nil {
		return Pair{}, err
	}
	defer unlock()
	keyMissing, err := isMissing(keyPath)
	if err != nil {
		return Pair{}, err
	}
	certMissing, err := isMissing(certPath)
	if err != nil {
		return Pair{}, err
	}
	switch {
	case !keyMissing && !certMissing:
		return load(keyPath, certPath)
	case keyMissing != certMissing:
		return Pair{}, HalfPairError(keyPath, certPath, keyMissing, "key pair", "whoever trusts the old certificate must then be given the new one")
	}
	p, err := New(rand.Reader, commonName, now)
	if err != nil {
		return Pair{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Pair{}, fmt.Errorf("create %s: %w", dir, err)
	}
	kp, cp := p.PEM()
	if err := WriteNew(keyPath, kp, 0o600); err != nil {
		return Pair{}, err
	}
	if err := WriteNew(certPath, cp, 0o644); err != nil {
		// Take back the key this call wrote, so that the next start is a
		// first start again rather than a half pair.
		if rerr := os.Remove(keyPath); rerr != nil {
			return Pair{}, errors.Join(err, fmt.Errorf("remove the new %s again: %w", keyPath, rerr))
		}
		return Pair{}, err
	}
	return p, nil
}

// HalfPairError is the error for a pair of files of which one is missing
// (keyMissing says which): it names the missing file, says the other was
// left as it was, and what to do. what names the pair ("key pair", "CA");
// consequence says what making a new one means for those who trust it.
func HalfPairError(keyPath, certPath string, keyMissing bool, what, consequence string) error {
	there, gone := keyPath, certPath
	if keyMissing {
		there, gone = certPath, keyPath
	}
	return fmt.Errorf("%s is missing but %s exists (left as it was); restore %s, or delete %s too to make a new %s (%s)",
		gone, there, filepath.Base(gone), filepath.Base(there), what, consequence)
}

// WriteNew writes data to a file at path that must not exist yet: an
// existing file is an error, never overwritten.
func WriteNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(path) // a file this call made, half written
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}

// isMissing reports whether path does not exist; other errors (say,
// permission denied) are returned.
func isMissing(path string) (bool, error) {
	_, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("check %s: %w", path, err)
	}
	return false, nil
}

// load reads and parses a key and certificate file; every error names the
// file concerned.
func load(keyPath, certPath string) (Pair, error) {
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return Pair{}, fmt.Errorf("read %s: %w", keyPath, err)
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return Pair{}, fmt.Errorf("read %s: %w", certPath, err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return Pair{}, fmt.Errorf("%s: %w", keyPath, err)
	}
	cert, err := parseCertificate(certPEM)
	if err != nil {
		return Pair{}, fmt.Errorf("%s: %w", certPath, err)
	}
	if !matches(key, cert) {
		return Pair{}, fmt.Errorf("%s does not match %s (restore the pair, or delete both files to make a new one)", certPath, keyPath)
	}
	return Pair{Key: key, Certificate: cert}, nil
}

// PEM encodes the key (PKCS#8) and the certificate.
func (p Pair) PEM() (keyPEM, certPEM []byte) {
	der, _ := x509.MarshalPKCS8PrivateKey(p.Key)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Certificate.Raw})
}

// Parse reads a PEM key (PKCS#8 or PKCS#1) and certificate and checks they match.
func Parse(keyPEM, certPEM []byte) (Pair, error) {
	key, err := parseKey(keyPEM)
	if err != nil {
		return Pair{}, fmt.Errorf("key: %w", err)
	}
	cert, err := parseCertificate(certPEM)
	if err != nil {
		return Pair{}, fmt.Errorf("certificate: %w", err)
	}
	if !matches(key, cert) {
		return Pair{}, errors.New("the certificate does not match the key")
	}
	return Pair{Key: key, Certificate: cert}, nil
}

func parseKey(keyPEM []byte) (*rsa.PrivateKey, error) {
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		if len(keyPEM) == 0 {
			return nil, errors.New("empty file, no PEM private key")
		}
		return nil, errors.New("no PEM private key in the file")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("not an RSA key")
		}
		return rk, nil
	}
	if rk, err2 := x509.ParsePKCS1PrivateKey(kb.Bytes); err2 == nil {
		return rk, nil
	}
	return nil, fmt.Errorf("parse private key: %w", err)
}

func parseCertificate(certPEM []byte) (*x509.Certificate, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil {
		if len(certPEM) == 0 {
			return nil, errors.New("empty file, no PEM certificate")
		}
		return nil, errors.New("no PEM certificate in the file")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return cert, nil
}

func matches(key *rsa.PrivateKey, cert *x509.Certificate) bool {
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	return ok && pub.Equal(&key.PublicKey)
}
