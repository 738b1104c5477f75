package mockidp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"
)

// certWithKey is a base64 DER certificate for pub, signed by a throwaway
// P-256 key (only the public key matters to the IdP).
func certWithKey(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	signer, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sp.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// smallRSAKey is an RSA public key of about bits bits (crypto/rsa no
// longer generates keys under 1024 bits; the primes are enough).
func smallRSAKey(t *testing.T, bits int) *rsa.PublicKey {
	t.Helper()
	p, err := rand.Prime(rand.Reader, bits/2)
	if err != nil {
		t.Fatal(err)
	}
	q, err := rand.Prime(rand.Reader, bits/2)
	if err != nil {
		t.Fatal(err)
	}
	return &rsa.PublicKey{N: new(big.Int).Mul(p, q), E: 65537}
}

// mdWithEncryptionCert is the test SP's metadata with the certificate of
// its encryption KeyDescriptor replaced by cert, and that KeyDescriptor's
// use set to use.
func (e *env) mdWithEncryptionCert(cert, use string) *saml.EntityDescriptor {
	md := e.sp.Metadata()
	for i := range md.SPSSODescriptors {
		for j := range md.SPSSODescriptors[i].KeyDescriptors {
			kd := &md.SPSSODescriptors[i].KeyDescriptors[j]
			if kd.Use != "encryption" {
				continue
			}
			kd.Use = use
			for k := range kd.KeyInfo.X509Data.X509Certificates {
				kd.KeyInfo.X509Data.X509Certificates[k].Data = cert
			}
		}
	}
	return md
}

// wantRefusedEverywhere checks that md is refused, with want in the
// message, by POST /api/sps, the /sps page and --sp-metadata at startup,
// and that nothing is registered.
func (e *env) wantRefusedEverywhere(t *testing.T, md *saml.EntityDescriptor, want string) {
	t.Helper()
	x := marshalMD(t, md)
	wantAPIError(t, e.api("POST", "/api/sps", x, "Content-Type", "application/xml"), 400, want)
	rec := e.postSPsForm("/sps", url.Values{"metadataXML": {x}}, "Sec-Fetch-Site", "same-origin")
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), want) {
		t.Errorf("/sps page: status %d, want 400 with %q", rec.Code, want)
	}
	path := filepath.Join(t.TempDir(), "sp.xml")
	if err := os.WriteFile(path, []byte(x), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.idp.LoadSPMetadata(t.Context(), path, nil); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("LoadSPMetadata: %v, want %q", err, want)
	}
	if ids := e.idp.serviceProviders(); len(ids) != 0 {
		t.Errorf("registered %q", ids)
	}
}

// An RSA key under 2048 bits, in a KeyDescriptor the IdP encrypts to, is
// refused at registration: every encrypted login to it would fail.
func TestSmallRSAEncryptionKeyIsRefusedAtRegistration(t *testing.T) {
	for _, use := range []string{"encryption", ""} {
		for _, bits := range []int{512, 1024} {
			t.Run(use+"/"+big.NewInt(int64(bits)).String(), func(t *testing.T) {
				e := newEnv(t, envOpts{})
				e.wantRefusedEverywhere(t, e.mdWithEncryptionCert(certWithKey(t, smallRSAKey(t, bits)), use), "-bit RSA key")
			})
		}
	}
	// A small signing key is not encrypted to (by default): accepted.
	e := newEnv(t, envOpts{})
	md := e.mdWithEncryptionCert(certWithKey(t, smallRSAKey(t, 512)), "signing")
	wantJSON(t, e.api("POST", "/api/sps", marshalMD(t, md), "Content-Type", "application/xml"), 201, nil)
}

// A certificate with no use attribute is encrypted to, so it is held to
// the same rule as use="encryption": an EC or Ed25519 key is refused,
// the message naming the KeyDescriptor.
func TestNonRSAKeyWithoutUseIsRefusedAtRegistration(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, pub := range map[string]crypto.PublicKey{"ecdsa": &ecKey.PublicKey, "ed25519": edPub} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			e.wantRefusedEverywhere(t, e.mdWithEncryptionCert(certWithKey(t, pub), ""), "KeyDescriptor 1 (no use attribute")
		})
	}
}

// A login whose assertion would be encrypted to a key crypto/rsa refuses
// (metadata registered before the checks) is a 400 login form, never a
// 500, and leaves its queued entry.
func TestUnusableRSAEncryptionKeyRefusesLogin(t *testing.T) {
	big2048 := smallRSAKey(t, 2048)
	big2048.E = 1 // x509 parses it; crypto/rsa refuses to encrypt to it
	for name, pub := range map[string]*rsa.PublicKey{"512-bit": smallRSAKey(t, 512), "exponent 1": big2048} {
		for _, initiated := range []string{"idp", "sp"} {
			t.Run(name+"/"+initiated, func(t *testing.T) {
				e := newEnv(t, envOpts{})
				e.putSP(e.mdWithEncryptionCert(certWithKey(t, pub), "encryption"))
				wantJSON(t, e.api("PUT", queuePath("alice@example.com"), `{"encrypt":"always"}`), 201, nil)
				var page *http.Request
				if initiated == "idp" {
					page = newGet(idpBase + "/idp/initiate?" + url.Values{"sp": {testSPEntityID}}.Encode())
				} else {
					u, _ := e.redirectRequest("")
					page = newGet(u)
				}
				action, form := parseLogin(t, e.do(page).Body.String())
				form.Set("persona", "alice")
				rec := e.post(idpBase+action, form)
				if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "cannot use") || !strings.Contains(rec.Body.String(), `id="login"`) {
					t.Fatalf("status %d, want 400 and the login form saying the certificate cannot be used:\n%.3000s", rec.Code, rec.Body)
				}
				wantJSON(t, e.api("GET", queuePath("alice@example.com"), ""), 200, nil)
				if len(e.idp.Log()) != 0 {
					t.Error("a refused login was logged")
				}
			})
		}
	}
}

func newGet(u string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, u, nil)
	return r
}
