package framework

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/hmpconform/hmpconform/internal/stack"
	"github.com/hmpconform/hmpconform/sp/store"
)

// Capabilities say what a target can do; specs skip, with the reason in
// the report, what their target cannot.
type Capabilities struct {
	IdPInitiated     bool `yaml:"idpInitiated"`
	SignedRequests   bool `yaml:"signedRequests"`
	SettingsWritable bool `yaml:"settingsWritable"` // false: safe mode, settings are only read
	StoreAccess      bool `yaml:"-"`                // the SP's store can be read directly (bundled only)
}

// Target is the SP under test, as the specs see it.
type Target interface {
	Name() string
	SPURL() *url.URL
	// EntityID is the SP's Audience URI (from its metadata).
	EntityID() string
	AdminPassword() string
	Capabilities() Capabilities
	// Reference is true for the bundled reference SP: where the vendor is
	// silent its choices are pass/fail; other targets' behaviour there is
	// recorded as an observation.
	Reference() bool
	// SPCertificate signs the target's AuthnRequests (nil if unknown).
	SPCertificate() *x509.Certificate
	// Store is the SP's store (nil unless Capabilities().StoreAccess).
	Store() store.Store
}

// bundledTarget is the reference SP started in-process.
type bundledTarget struct {
	stack    *stack.Stack
	password string
}

func (t bundledTarget) Name() string     { return "bundled reference SP (in-process)" }
func (t bundledTarget) SPURL() *url.URL  { return t.stack.SPURL }
func (t bundledTarget) Reference() bool  { return true }
func (t bundledTarget) EntityID() string { return t.stack.SP.Server.SAML().DefaultEntityID() }
func (t bundledTarget) AdminPassword() string {
	return t.password
}
func (t bundledTarget) Capabilities() Capabilities {
	return Capabilities{IdPInitiated: true, SignedRequests: true, SettingsWritable: true, StoreAccess: true}
}
func (t bundledTarget) SPCertificate() *x509.Certificate { return t.stack.SP.Server.SAML().Certificate }
func (t bundledTarget) Store() store.Store               { return t.stack.SP.Store }

// profileTarget is an SP elsewhere, described by a profile.
type profileTarget struct {
	p        *Profile
	base     *url.URL
	entityID string
	cert     *x509.Certificate
}

func (t *profileTarget) Name() string                     { return t.p.Name }
func (t *profileTarget) SPURL() *url.URL                  { return t.base }
func (t *profileTarget) EntityID() string                 { return t.entityID }
func (t *profileTarget) AdminPassword() string            { return t.p.adminPassword }
func (t *profileTarget) Reference() bool                  { return t.p.Reference }
func (t *profileTarget) SPCertificate() *x509.Certificate { return t.cert }
func (t *profileTarget) Store() store.Store               { return nil }
func (t *profileTarget) Capabilities() Capabilities {
	c := t.p.Capabilities
	c.StoreAccess = false
	if t.p.SafeMode {
		c.SettingsWritable = false
	}
	return c
}

// spMetadata is the part of an SP's metadata the harness reads.
type spMetadata struct {
	EntityID string `xml:"entityID,attr"`
	SP       struct {
		Keys []struct {
			Use  string `xml:"use,attr"`
			Cert string `xml:"KeyInfo>X509Data>X509Certificate"`
		} `xml:"KeyDescriptor"`
	} `xml:"SPSSODescriptor"`
}

// loadMetadata fetches the target's SP metadata: its entity ID and signing
// certificate, and the raw XML to register at the mock IdP.
func (t *profileTarget) loadMetadata(ctx context.Context, client *http.Client) ([]byte, error) {
	u := t.base.ResolveReference(&url.URL{Path: t.p.MetadataPath})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch SP metadata %s: %w", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch SP metadata %s: status %d %v", u, resp.StatusCode, err)
	}
	var md spMetadata
	if err := xml.Unmarshal(b, &md); err != nil || md.EntityID == "" {
		return nil, fmt.Errorf("SP metadata %s has no entityID (%v)", u, err)
	}
	t.entityID = md.EntityID
	for _, k := range md.SP.Keys {
		if k.Use == "signing" || k.Use == "" {
			der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(k.Cert), ""))
			if err == nil {
				if c, err := x509.ParseCertificate(der); err == nil {
					t.cert = c
					break
				}
			}
		}
	}
	return b, nil
}
