package mockidp

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/crewjam/saml"

	"github.com/hmpconform/hmpconform/internal/mdsource"
)

// SPInfo describes a registered service provider (scenario API, /sps).
type SPInfo struct {
	EntityID string        `json:"entityID"`
	ACS      []ACSEndpoint `json:"acs"`
	// EncryptionKey: the metadata has a certificate usable for encryption,
	// so assertions to this SP can be encrypted.
	EncryptionKey bool `json:"encryptionKey"`
	// Metadata is the SP's metadata as the IdP holds it (single-SP reads).
	Metadata string `json:"metadata,omitempty"`
}

// ACSEndpoint is one AssertionConsumerService of an SP.
type ACSEndpoint struct {
	Binding  string `json:"binding"`
	Location string `json:"location"`
	Index    int    `json:"index"`
}

func spInfo(md *saml.EntityDescriptor) SPInfo {
	info := SPInfo{EntityID: md.EntityID, ACS: []ACSEndpoint{}}
	for _, d := range md.SPSSODescriptors {
		for _, a := range d.AssertionConsumerServices {
			info.ACS = append(info.ACS, ACSEndpoint{Binding: a.Binding, Location: a.Location, Index: a.Index})
		}
		for _, kd := range d.KeyDescriptors {
			if (kd.Use == "encryption" || kd.Use == "") && len(kd.KeyInfo.X509Data.X509Certificates) > 0 && kd.KeyInfo.X509Data.X509Certificates[0].Data != "" {
				info.EncryptionKey = true
			}
		}
	}
	return info
}

// spInfos describes the registered SPs, sorted by entity ID.
func (s *Server) spInfos() []SPInfo {
	out := []SPInfo{}
	for _, id := range s.serviceProviders() {
		if md, ok := s.registeredSP(id); ok {
			out = append(out, spInfo(md))
		}
	}
	return out
}

func (s *Server) registeredSP(entityID string) (*saml.EntityDescriptor, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	md, ok := s.sps[entityID]
	return md, ok
}

// unregisterSP removes an SP and reports whether it was registered.
func (s *Server) unregisterSP(entityID string) bool {
	s.mu.Lock()
	_, ok := s.sps[entityID]
	delete(s.sps, entityID)
	s.mu.Unlock()
	if ok {
		s.logger.Info("mockidp: unregistered service provider", "entityID", entityID)
	}
	return ok
}

// checkSP refuses metadata the IdP could not answer: no entity ID, no
// SPSSODescriptor, no HTTP-POST assertion consumer service with a location
// (the IdP sends responses with HTTP-POST only), or a certificate that is
// not one (crewjam would fail on it at login, or skip it and send a plain
// assertion).
func checkSP(md *saml.EntityDescriptor) error {
	if md == nil || md.EntityID == "" {
		return errors.New("mockidp: service provider metadata has no entityID")
	}
	if len(md.SPSSODescriptors) == 0 {
		return fmt.Errorf("mockidp: metadata of %s has no SPSSODescriptor", md.EntityID)
	}
	if err := checkSPCertificates(md); err != nil {
		return err
	}
	if !hasPostACS(md) {
		return fmt.Errorf("mockidp: metadata of %s has no AssertionConsumerService with the HTTP-POST binding (%s) and a Location; this IdP sends responses with HTTP-POST only", md.EntityID, saml.HTTPPostBinding)
	}
	return nil
}

// hasPostACS reports whether md has an HTTP-POST assertion consumer
// service with a location.
func hasPostACS(md *saml.EntityDescriptor) bool {
	for _, d := range md.SPSSODescriptors {
		for _, a := range d.AssertionConsumerServices {
			if a.Binding == saml.HTTPPostBinding && a.Location != "" {
				return true
			}
		}
	}
	return false
}

// checkSPCertificates refuses metadata with an X509Certificate that is not
// a base64 X.509 certificate, or a certificate the IdP may encrypt
// assertions to (a KeyDescriptor with use "encryption" or no use, as
// crewjam, isEncryptionKey and spInfo read them) that it cannot encrypt to
// (checkEncryptionCert).
func checkSPCertificates(md *saml.EntityDescriptor) error {
	for _, d := range md.SPSSODescriptors {
		for i, kd := range d.KeyDescriptors {
			for _, c := range kd.KeyInfo.X509Data.X509Certificates {
				cert, err := parseMetadataCertificate(c.Data)
				if err == nil && cert != nil && isEncryptionKey(kd) { // encryption.go
					err = checkEncryptionCert(cert)
				}
				if err != nil {
					return fmt.Errorf("mockidp: metadata of %s: the X509Certificate of KeyDescriptor %d (%s) %w", md.EntityID, i+1, describeUse(kd), err)
				}
			}
		}
	}
	return nil
}

// describeUse names a KeyDescriptor's use for an error message.
func describeUse(kd saml.KeyDescriptor) string {
	if kd.Use == "" {
		return `no use attribute, so the IdP encrypts assertions to it as to use="encryption"; mark a signing key use="signing"`
	}
	return fmt.Sprintf("use %q", kd.Use)
}

// parseMetadataCertificate parses an X509Certificate element's text as
// crewjam does (whitespace removed, base64, DER); nil, nil when it is blank.
func parseMetadataCertificate(data string) (*x509.Certificate, error) {
	s := strings.Join(strings.Fields(data), "")
	if s == "" {
		return nil, nil
	}
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("is not base64: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("is not an X.509 certificate: %w", err)
	}
	return cert, nil
}

// minEncryptionRSABits is the smallest RSA key the IdP encrypts to: Go's
// crypto/rsa refuses keys under 1024 bits (every encrypted login would
// fail), and keys under 2048 bits are not safe.
const minEncryptionRSABits = 2048

// checkEncryptionCert refuses a certificate the IdP cannot encrypt an
// assertion to: a key that is not RSA (crewjam encrypts with RSA-OAEP),
// an RSA key under minEncryptionRSABits, or one crypto/rsa refuses (a
// trial encryption, as an assertion would be encrypted).
func checkEncryptionCert(cert *x509.Certificate) error {
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("has a %s key; this IdP encrypts assertions with RSA-OAEP only", cert.PublicKeyAlgorithm)
	}
	if n := pub.N.BitLen(); n < minEncryptionRSABits {
		return fmt.Errorf("has a %d-bit RSA key; this IdP encrypts assertions to RSA keys of at least %d bits only (Go's crypto/rsa refuses keys under 1024 bits, and under 2048 is not safe)", n, minEncryptionRSABits)
	}
	if _, err := assertionEncrypterFor(nil).Encrypt(cert, []byte("probe"), nil); err != nil { // encrypt_unsigned.go
		return fmt.Errorf("has an RSA key the IdP cannot encrypt to: %w", err)
	}
	return nil
}

// registerSPMetadata registers every SP in metadata b (all or none) and
// returns their entity IDs.
func (s *Server) registerSPMetadata(b []byte) ([]string, error) {
	sps, err := parseSPMetadata(b)
	if err != nil {
		return nil, err
	}
	for _, md := range sps {
		if err := checkSP(md); err != nil {
			return nil, err
		}
	}
	ids := make([]string, 0, len(sps))
	for _, md := range sps {
		if err := s.RegisterSP(md); err != nil {
			return nil, err
		}
		ids = append(ids, md.EntityID)
	}
	return ids, nil
}

// errNotURL: the scenario API and the /sps page fetch metadata from http(s)
// URLs only, never from the IdP's own files.
var errNotURL = errors.New("the metadata URL must start with http:// or https://")

// registerSPMetadataURL fetches SP metadata from an http(s) URL a user
// named and registers it.
func (s *Server) registerSPMetadataURL(ctx context.Context, u string) ([]string, error) {
	if !mdsource.IsURL(u) {
		return nil, errNotURL
	}
	client := s.cfg.MetadataClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	b, err := mdsource.Read(ctx, u, client, maxMetadataSize)
	if err != nil {
		return nil, fmt.Errorf("mockidp: fetch SP metadata %s: %w", u, err)
	}
	ids, err := s.registerSPMetadata(b)
	if err != nil {
		return nil, fmt.Errorf("%w (from %s)", err, u)
	}
	return ids, nil
}

// spMetadataXML is md serialized, indented, for reading.
func spMetadataXML(md *saml.EntityDescriptor) string {
	b, err := xml.MarshalIndent(md, "", "  ")
	if err != nil {
		return ""
	}
	return string(b)
}
