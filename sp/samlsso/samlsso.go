// Package samlsso is the reference SP's SAML layer: it turns the saved
// settings into a crewjam/saml ServiceProvider, verifies what arrives at the
// ACS (adding the checks crewjam leaves to the caller: one assertion per
// response, server-side request IDs, a persistent replay cache) and makes
// SP-initiated AuthnRequests. It knows nothing of accounts or groups.
package samlsso

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/hmpconform/hmpconform/sp/jit"
	"github.com/hmpconform/hmpconform/sp/settings"
	"github.com/hmpconform/hmpconform/sp/store"
)

// ACSPath is where the SP receives responses (HTTP-POST binding).
const ACSPath = "/sso/callback"

// MetadataPath is where the SP serves its metadata.
const MetadataPath = "/saml/metadata"

// RequestLifetime bounds how long an issued AuthnRequest ID stays usable.
const RequestLifetime = 10 * time.Minute

// MaxResponseBytes bounds a decoded SAMLResponse.
const MaxResponseBytes = 1 << 20

// Code is a stable, machine-readable reason for a refused login; the
// browser sees it, the suites read it.
type Code string

const (
	CodeSSODisabled        Code = "sso-disabled"
	CodeMissingResponse    Code = "missing-response"
	CodeMalformed          Code = "malformed"
	CodeTooLarge           Code = "too-large"
	CodeSignature          Code = "signature"
	CodeExpired            Code = "expired"
	CodeNotYetValid        Code = "not-yet-valid"
	CodeAudience           Code = "audience"
	CodeDestination        Code = "destination"
	CodeIssuer             Code = "issuer"
	CodeRequestID          Code = "request-id"
	CodeReplayed           Code = "replayed"
	CodeStatus             Code = "status"
	CodeMultipleAssertions Code = "multiple-assertions"
	CodeNoIdentifier       Code = "no-identifier"
	CodeReservedIdentifier Code = "reserved-identifier"
	CodeRefused            Code = "refused"
	CodeMisconfigured      Code = "misconfigured"
)

// RefusalError is a refused login: a short public reason plus the private
// detail for the log.
type RefusalError struct {
	Code   Code
	Reason string // safe to show
	Err    error  // detail for the log
}

func (e *RefusalError) Error() string { return fmt.Sprintf("%s: %s: %v", e.Code, e.Reason, e.Err) }
func (e *RefusalError) Unwrap() error { return e.Err }

func refuse(code Code, reason string, err error) *RefusalError {
	return &RefusalError{Code: code, Reason: reason, Err: err}
}

// SP is the SAML side of the reference SP.
type SP struct {
	BaseURL     *url.URL // the SP's public base, e.g. https://hmp.sp.test:8443
	Key         *rsa.PrivateKey
	Certificate *x509.Certificate
	Store       store.Store
	Now         func() time.Time
}

// ACSURL is BaseURL + ACSPath.
func (s *SP) ACSURL() url.URL { return *s.BaseURL.ResolveReference(&url.URL{Path: ACSPath}) }

// DefaultEntityID is the Audience URI the SP proposes when none is set.
func (s *SP) DefaultEntityID() string {
	return s.BaseURL.ResolveReference(&url.URL{Path: MetadataPath}).String()
}

// ParseCertificate accepts a PEM block or bare base64 DER, as admins paste
// either.
func ParseCertificate(text string) (*x509.Certificate, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, errors.New("no certificate given")
	}
	var der []byte
	if block, _ := pem.Decode([]byte(text)); block != nil {
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block is %q, not CERTIFICATE", block.Type)
		}
		der = block.Bytes
	} else {
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
		if err != nil {
			return nil, errors.New("neither PEM nor base64")
		}
		der = b
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return cert, nil
}

// ParseCertificates accepts one or more PEM certificate blocks (an IdP
// certificate rollover: both certificates are trusted), or one bare base64
// DER certificate.
func ParseCertificates(text string) ([]*x509.Certificate, error) {
	rest := []byte(strings.TrimSpace(text))
	if block, _ := pem.Decode(rest); block == nil {
		cert, err := ParseCertificate(text)
		if err != nil {
			return nil, err
		}
		return []*x509.Certificate{cert}, nil
	}
	var certs []*x509.Certificate
	for len(strings.TrimSpace(string(rest))) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("text after the last PEM block is not a certificate")
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block is %q, not CERTIFICATE", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, cert)
	}
	return certs, nil
}

// serviceProvider builds the crewjam SP for one request from the saved
// settings, with the clock frozen at now.
func (s *SP) serviceProvider(cfg settings.Settings, now time.Time) (*saml.ServiceProvider, error) {
	metadataURL := s.BaseURL.ResolveReference(&url.URL{Path: MetadataPath})
	entityID := cfg.AudienceURI
	if entityID == "" {
		entityID = s.DefaultEntityID()
	}
	sp := &saml.ServiceProvider{
		EntityID:          entityID,
		Key:               s.Key,
		Certificate:       s.Certificate,
		MetadataURL:       *metadataURL,
		AcsURL:            s.ACSURL(),
		AllowIDPInitiated: true, // SET-IDPINIT: accepted whether or not an SSO URL is set (choice)
		Clock:             dsig.NewFakeClockAt(now),
		// SHA-1 signatures are refused: no current IdP needs them.
		RejectSHA1Signatures: true,
		AuthnNameIDFormat:    saml.UnspecifiedNameIDFormat,
		// HMP's ACS takes HTTP-POST only (SET-ACS); no artifact resolution.
		AssertionConsumerServiceBindings: []string{saml.HTTPPostBinding},
	}
	if cfg.SignRequest {
		sp.SignatureMethod = dsig.RSASHA256SignatureMethod
		if cfg.SignatureAlgorithm == settings.AlgSHA512 {
			sp.SignatureMethod = dsig.RSASHA512SignatureMethod
		}
	}
	applyLogoutSettings(sp, s.SLOURL(), cfg) // slo.go
	if cfg.IdPCertificatePEM != "" {
		certs, err := ParseCertificates(cfg.IdPCertificatePEM)
		if err != nil {
			return nil, fmt.Errorf("idp certificate: %w", err)
		}
		sp.IDPMetadata = idpMetadata(cfg, certs)
	}
	return sp, nil
}

// idpMetadata is the IdP as the settings describe it: one signing
// KeyDescriptor per trusted certificate (crewjam accepts a signature by
// any of them), and the SSO and SLO endpoints when set.
func idpMetadata(cfg settings.Settings, certs []*x509.Certificate) *saml.EntityDescriptor {
	var keyDescriptors []saml.KeyDescriptor
	for _, cert := range certs {
		keyDescriptors = append(keyDescriptors, saml.KeyDescriptor{
			Use: "signing",
			KeyInfo: saml.KeyInfo{X509Data: saml.X509Data{X509Certificates: []saml.X509Certificate{{
				Data: base64.StdEncoding.EncodeToString(cert.Raw),
			}}}},
		})
	}
	desc := saml.IDPSSODescriptor{
		SSODescriptor: saml.SSODescriptor{RoleDescriptor: saml.RoleDescriptor{
			ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol",
			KeyDescriptors:             keyDescriptors,
		}},
	}
	if cfg.SSOURL != "" {
		desc.SingleSignOnServices = []saml.Endpoint{{Binding: saml.HTTPRedirectBinding, Location: cfg.SSOURL}}
	}
	if cfg.SLOURL != "" {
		desc.SingleLogoutServices = []saml.Endpoint{{Binding: saml.HTTPRedirectBinding, Location: cfg.SLOURL}}
	}
	return &saml.EntityDescriptor{EntityID: cfg.IdPEntityID, IDPSSODescriptors: []saml.IDPSSODescriptor{desc}}
}

// Metadata returns the SP's metadata XML for the given settings.
func (s *SP) Metadata(cfg settings.Settings) ([]byte, error) {
	sp, err := s.serviceProvider(cfg, s.Now())
	if err != nil {
		// Metadata must stay reachable even with a broken IdP certificate.
		cfg.IdPCertificatePEM = ""
		if sp, err = s.serviceProvider(cfg, s.Now()); err != nil {
			return nil, err
		}
	}
	md := sp.Metadata()
	// No encryption key: the IdP sends plain assertions, which the SP
	// verifies; crewjam would otherwise announce its signing key for both.
	// The signing certificate is always announced, so an IdP that read the
	// metadata once can verify requests after SP Sign Request is turned on.
	signing := saml.KeyDescriptor{Use: "signing", KeyInfo: saml.KeyInfo{X509Data: saml.X509Data{
		X509Certificates: []saml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(s.Certificate.Raw)}},
	}}}
	for i := range md.SPSSODescriptors {
		md.SPSSODescriptors[i].KeyDescriptors = []saml.KeyDescriptor{signing}
		md.SPSSODescriptors[i].AuthnRequestsSigned = &cfg.SignRequest
	}
	b, err := xml.MarshalIndent(md, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal metadata: %w", err)
	}
	return append([]byte(xml.Header), b...), nil
}

// AuthnRedirect makes an SP-initiated AuthnRequest (HTTP-Redirect binding,
// signed when the settings say so), remembers its ID server-side and
// returns the URL to send the browser to.
func (s *SP) AuthnRedirect(ctx context.Context, cfg settings.Settings, relayState string) (*url.URL, error) {
	if cfg.Mode != settings.ModeJIT || cfg.SSOURL == "" {
		return nil, errors.New("SP-initiated login needs Just-in-Time mode and a SAML SSO URL")
	}
	now := s.Now()
	sp, err := s.serviceProvider(cfg, now)
	if err != nil {
		return nil, err
	}
	if sp.IDPMetadata == nil {
		return nil, errors.New("no IdP certificate configured")
	}
	req, err := sp.MakeAuthenticationRequest(cfg.SSOURL, saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		return nil, fmt.Errorf("make authn request: %w", err)
	}
	if err := s.Store.RememberRequest(ctx, req.ID, now.Add(RequestLifetime)); err != nil {
		return nil, fmt.Errorf("remember request: %w", err)
	}
	u, err := req.Redirect(relayState, sp)
	if err != nil {
		return nil, fmt.Errorf("encode authn request: %w", err)
	}
	return u, nil
}

// Verify checks a base64 SAMLResponse posted to the ACS and returns the
// assertion's subject and attributes. Every refusal is a *RefusalError.
func (s *SP) Verify(ctx context.Context, cfg settings.Settings, samlResponse string) (jit.Assertion, error) {
	a, _, err := s.VerifyLogin(ctx, cfg, samlResponse)
	return a, err
}

// VerifyLogin is Verify that also returns the assertion's subject as a
// session records it for Single Logout (NameID, its format, SessionIndex).
func (s *SP) VerifyLogin(ctx context.Context, cfg settings.Settings, samlResponse string) (jit.Assertion, store.SSOSubject, error) {
	a, err := s.verify(ctx, cfg, samlResponse)
	if err != nil {
		return jit.Assertion{}, store.SSOSubject{}, err
	}
	return toJIT(a), subjectOf(a), nil
}

func (s *SP) verify(ctx context.Context, cfg settings.Settings, samlResponse string) (*saml.Assertion, error) {
	if cfg.Mode != settings.ModeJIT {
		return nil, refuse(CodeSSODisabled, "single sign-on is not enabled on this system", errors.New("mode is not jit"))
	}
	if strings.TrimSpace(samlResponse) == "" {
		return nil, refuse(CodeMissingResponse, "no SAMLResponse was posted", errors.New("empty SAMLResponse"))
	}
	if base64.StdEncoding.DecodedLen(len(samlResponse)) > MaxResponseBytes {
		return nil, refuse(CodeTooLarge, "the SAML response is too large", fmt.Errorf("%d base64 bytes", len(samlResponse)))
	}
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(samlResponse), ""))
	if err != nil {
		return nil, refuse(CodeMalformed, "the SAML response is not valid base64", err)
	}
	now := s.Now()
	sp, err := s.serviceProvider(cfg, now)
	if err != nil || sp.IDPMetadata == nil {
		return nil, refuse(CodeMisconfigured, "single sign-on is not fully configured (IdP certificate)", err)
	}
	// Request IDs live in the store, not in a cookie: the ACS POST comes
	// from another site, where SameSite cookies are not sent.
	var inResponseTo string
	sp.ValidateRequestID = func(resp saml.Response, _ []string) error {
		inResponseTo = resp.InResponseTo
		if inResponseTo == "" {
			return nil // IdP-initiated
		}
		if !s.requestKnown(ctx, inResponseTo, now) {
			return fmt.Errorf("InResponseTo %q was not issued by this SP or has expired: %w", inResponseTo, saml.ErrRequestIDMismatch)
		}
		return nil
	}
	sp.ReplayCache = replayCache{ctx: ctx, store: s.Store, now: now}

	// SEC-XML: crewjam (through etree) reads the first of several root
	// elements and ignores the rest; a document must have exactly one.
	if err := singleRoot(raw); err != nil {
		return nil, refuse(CodeMalformed, "the SAML response is malformed", err)
	}
	// crewjam returns the first of several assertions in a signed response:
	// HMP must refuse any response that carries more than one. Counted
	// before verification so a refused response uses up nothing; XML that
	// does not parse is left to crewjam to classify.
	if n, err := countAssertions(raw); err == nil && n > 1 {
		return nil, refuse(CodeMultipleAssertions, "the response carries more than one assertion", fmt.Errorf("%d assertions", n))
	}
	assertion, err := sp.ParseXMLResponse(raw, nil, s.ACSURL())
	if err != nil {
		r := classify(err)
		if r.Code == CodeStatus {
			r.Err = withStatusDetail(r.Err, raw)
		}
		return nil, r
	}
	if inResponseTo != "" {
		if err := s.Store.ConsumeRequest(ctx, inResponseTo, now); err != nil {
			return nil, refuse(CodeRequestID, "the response answers a login request that was already used", err)
		}
	}
	return assertion, nil
}

func (s *SP) requestKnown(ctx context.Context, id string, now time.Time) bool {
	// Peek without consuming: only a fully verified response uses it up.
	ok, err := s.Store.RequestIssued(ctx, id, now)
	return err == nil && ok
}

type replayCache struct {
	ctx   context.Context
	store store.Store
	now   time.Time
}

func (c replayCache) Consume(id string, expiresAt time.Time) error {
	err := c.store.ConsumeAssertion(c.ctx, id, expiresAt, c.now)
	if errors.Is(err, store.ErrReplayed) {
		return saml.ErrAssertionReplayed
	}
	return err
}

func countAssertions(raw []byte) (int, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return 0, err
	}
	n := 0
	var walk func(el *etree.Element)
	walk = func(el *etree.Element) {
		if (el.Tag == "Assertion" || el.Tag == "EncryptedAssertion") && el.NamespaceURI() == "urn:oasis:names:tc:SAML:2.0:assertion" {
			n++
		}
		for _, c := range el.ChildElements() {
			walk(c)
		}
	}
	if root := doc.Root(); root != nil {
		walk(root)
	}
	return n, nil
}

// singleRoot refuses a document with more than one root element (found by
// the security suite's xml-two-roots fault, which crewjam accepted).
func singleRoot(raw []byte) error {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return nil // not well-formed: crewjam refuses it with its own detail
	}
	if n := len(doc.ChildElements()); n > 1 {
		return fmt.Errorf("%d root elements", n)
	}
	return nil
}

func toJIT(a *saml.Assertion) jit.Assertion {
	out := jit.Assertion{Attributes: map[string][]string{}}
	if a.Subject != nil && a.Subject.NameID != nil {
		out.NameID = a.Subject.NameID.Value
	}
	for _, stmt := range a.AttributeStatements {
		for _, attr := range stmt.Attributes {
			var values []string
			for _, v := range attr.Values {
				values = append(values, v.Value)
			}
			out.Attributes[attr.Name] = append(out.Attributes[attr.Name], values...)
			if attr.FriendlyName != "" && attr.FriendlyName != attr.Name {
				out.Attributes[attr.FriendlyName] = append(out.Attributes[attr.FriendlyName], values...)
			}
		}
	}
	return out
}

// classify maps crewjam's errors to a stable code and a short reason.
func classify(err error) *RefusalError {
	r := classifyPublic(err)
	// crewjam's public message is always "Authentication failed"; the log
	// needs the private reason.
	var invalid *saml.InvalidResponseError
	if errors.As(err, &invalid) && invalid.PrivateErr != nil {
		r.Err = invalid.PrivateErr
	}
	return r
}

// withStatusDetail adds to a non-success status error what crewjam leaves
// out of it: the second-level status code (NoPassive, AuthnFailed, ...)
// and the StatusMessage, for the log. They come from the response as
// posted, which is not verified when it is refused for its status: they
// only explain, they decide nothing.
func withStatusDetail(err error, raw []byte) error {
	var resp struct {
		Status struct {
			Code struct {
				Value string `xml:"Value,attr"`
				Sub   struct {
					Value string `xml:"Value,attr"`
				} `xml:"StatusCode"`
			} `xml:"StatusCode"`
			Message string `xml:"StatusMessage"`
		} `xml:"Status"`
	}
	if xml.Unmarshal(raw, &resp) != nil {
		return err
	}
	var parts []string
	if v := resp.Status.Code.Sub.Value; v != "" {
		parts = append(parts, "second-level status "+v)
	}
	if m := strings.TrimSpace(resp.Status.Message); m != "" {
		parts = append(parts, fmt.Sprintf("StatusMessage %.200q", m))
	}
	if len(parts) == 0 {
		return err
	}
	return fmt.Errorf("%w (%s; as posted, unverified)", err, strings.Join(parts, "; "))
}

// detail is crewjam's private reason when it has one.
func detail(err error) string {
	var invalid *saml.InvalidResponseError
	if errors.As(err, &invalid) && invalid.PrivateErr != nil {
		return invalid.PrivateErr.Error()
	}
	return err.Error()
}

func classifyPublic(err error) *RefusalError {
	var bad saml.ErrBadStatus
	switch {
	case errors.As(err, &bad):
		return refuse(CodeStatus, "the identity provider reported a failed login", err)
	case errors.Is(err, saml.ErrAssertionReplayed):
		return refuse(CodeReplayed, "this response was already used", err)
	case errors.Is(err, saml.ErrRequestIDMismatch):
		return refuse(CodeRequestID, "the response does not answer a login request from this system", err)
	case errors.Is(err, saml.ErrInvalidSignature), errors.Is(err, saml.ErrUntrustedCertificate),
		errors.Is(err, saml.ErrCertificateNotValidNow):
		return refuse(CodeSignature, "the response is not signed by the trusted identity provider", err)
	case errors.Is(err, saml.ErrExpired):
		return refuse(CodeExpired, "the response has expired", err)
	case errors.Is(err, saml.ErrNotYetValid):
		return refuse(CodeNotYetValid, "the response is not valid yet", err)
	case errors.Is(err, saml.ErrAudienceMismatch):
		return refuse(CodeAudience, "the response is meant for another service provider", err)
	case errors.Is(err, saml.ErrDestinationMismatch):
		return refuse(CodeDestination, "the response was sent to another address", err)
	case errors.Is(err, saml.ErrIssuerMismatch):
		return refuse(CodeIssuer, "the response comes from an unknown identity provider", err)
	case errors.Is(err, saml.ErrMalformedMessage), errors.Is(err, saml.ErrMissingElement):
		if strings.Contains(strings.ToLower(detail(err)), "signature") {
			return refuse(CodeSignature, "the response is not signed by the trusted identity provider", err)
		}
		return refuse(CodeMalformed, "the SAML response is malformed", err)
	}
	// crewjam returns its unexported "signature element not present" error
	// unclassified when nothing in the response is signed: that is a
	// signature refusal, not an unexplained one.
	var invalid *saml.InvalidResponseError
	if errors.As(err, &invalid) && invalid.PrivateErr != nil && strings.Contains(invalid.PrivateErr.Error(), "signature element not present") {
		return refuse(CodeSignature, "the response is not signed by the trusted identity provider", err)
	}
	return refuse(CodeRefused, "the SAML response was refused", err)
}

// IsRefusal reports whether err is a refused login and returns it.
func IsRefusal(err error) (*RefusalError, bool) {
	var r *RefusalError
	ok := errors.As(err, &r)
	return r, ok
}

// EncodeCertificatePEM is the SP signing certificate as a download.
func EncodeCertificatePEM(cert *x509.Certificate) []byte {
	var b bytes.Buffer
	_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	return b.Bytes()
}
