package samlsso

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/hmpconform/hmpconform/sp/settings"
	"github.com/hmpconform/hmpconform/sp/store"
)

// SLOPath is the SP's SingleLogoutService (HTTP-Redirect binding): the
// IdP's LogoutResponse arrives here. Single Logout is the reference SP's
// addition; HMP's vendor page does not mention it.
const SLOPath = "/saml/slo"

// logoutRequestKeyPrefix keeps LogoutRequest IDs apart from AuthnRequest
// IDs in the store's table of issued requests, so that neither can stand
// for the other.
const logoutRequestKeyPrefix = "logout:"

// MaxLogoutMessageBytes bounds the query string or form of a message
// arriving at SLOPath; a LogoutResponse is a few kilobytes.
const MaxLogoutMessageBytes = 64 << 10

// SLOURL is BaseURL + SLOPath.
func (s *SP) SLOURL() url.URL { return *s.BaseURL.ResolveReference(&url.URL{Path: SLOPath}) }

// applyLogoutSettings announces the SLO endpoint in the SP's metadata and
// signs the logout messages the SP sends, whatever SignRequest says: the
// single logout profile requires them signed.
func applyLogoutSettings(sp *saml.ServiceProvider, sloURL url.URL, cfg settings.Settings) {
	sp.SloURL = sloURL
	sp.LogoutBindings = []string{saml.HTTPRedirectBinding}
	sp.LogoutSignatureMethod = dsig.RSASHA256SignatureMethod
	if cfg.SignatureAlgorithm == settings.AlgSHA512 {
		sp.LogoutSignatureMethod = dsig.RSASHA512SignatureMethod
	}
}

// CanLogOutAtIdP reports whether a session with subject sub can be ended
// at the IdP as well: JIT mode, an IdP SLO URL, and a session that came
// from SSO.
func CanLogOutAtIdP(cfg settings.Settings, sub store.SSOSubject) bool {
	return cfg.Mode == settings.ModeJIT && cfg.SLOURL != "" && sub.NameID != ""
}

// LogoutRedirect makes a signed LogoutRequest (HTTP-Redirect binding) for
// sub, remembers its ID server-side, and returns the URL to send the
// browser to and the request's ID.
func (s *SP) LogoutRedirect(ctx context.Context, cfg settings.Settings, sub store.SSOSubject, relayState string) (*url.URL, string, error) {
	if !CanLogOutAtIdP(cfg, sub) {
		return nil, "", errors.New("single logout needs Just-in-Time mode, an IdP SLO URL and a session from SSO")
	}
	now := s.Now()
	sp, err := s.serviceProvider(cfg, now)
	if err != nil {
		return nil, "", err
	}
	if sp.IDPMetadata == nil {
		return nil, "", errors.New("no IdP certificate configured")
	}
	format := sub.NameIDFormat
	req, err := sp.MakeLogoutRequest(cfg.SLOURL, sub.NameID, saml.WithSessionIndex(sub.SessionIndex), func(r *saml.LogoutRequest) {
		if r.NameID != nil && format != "" {
			r.NameID.Format = format // the format the IdP issued, not the SP's default
		}
	})
	if err != nil {
		return nil, "", fmt.Errorf("make logout request: %w", err)
	}
	if err := s.Store.RememberRequest(ctx, logoutRequestKeyPrefix+req.ID, now.Add(RequestLifetime)); err != nil {
		return nil, "", fmt.Errorf("remember logout request: %w", err)
	}
	u, err := sp.RedirectLogoutRequestURL(req, relayState)
	if err != nil {
		return nil, "", fmt.Errorf("encode logout request: %w", err)
	}
	return u, req.ID, nil
}

// VerifyLogoutResponse checks the IdP's LogoutResponse in r (signature
// against the trusted IdP certificates, Destination, Issuer, Success status)
// and that it answers requestID, a LogoutRequest this SP issued and that is
// still unanswered; it then uses requestID up. Every refusal is a
// *RefusalError.
func (s *SP) VerifyLogoutResponse(ctx context.Context, cfg settings.Settings, r *http.Request, requestID string) error {
	if len(r.URL.RawQuery) > MaxLogoutMessageBytes {
		return refuse(CodeTooLarge, "the logout response is too large", fmt.Errorf("%d query bytes", len(r.URL.RawQuery)))
	}
	if requestID == "" {
		return refuse(CodeRequestID, "no sign-out is in progress in this browser", errors.New("no pending logout request cookie"))
	}
	now := s.Now()
	sp, err := s.serviceProvider(cfg, now)
	if err != nil || sp.IDPMetadata == nil {
		return refuse(CodeMisconfigured, "single sign-on is not fully configured (IdP certificate)", err)
	}
	if ok, err := s.Store.RequestIssued(ctx, logoutRequestKeyPrefix+requestID, now); err != nil || !ok {
		return refuse(CodeRequestID, "the logout response does not answer a sign-out from this system", fmt.Errorf("logout request %q unknown, used or expired (%v)", requestID, err))
	}
	if _, err := sp.ParseLogoutResponse(r, []string{requestID}); err != nil {
		return classifyLogout(err, "logout response")
	}
	if err := s.Store.ConsumeRequest(ctx, logoutRequestKeyPrefix+requestID, now); err != nil {
		return refuse(CodeRequestID, "the logout response answers a sign-out that was already completed", err)
	}
	return nil
}

// subjectOf is what a session records of an assertion for Single Logout.
func subjectOf(a *saml.Assertion) store.SSOSubject {
	var sub store.SSOSubject
	if a.Subject != nil && a.Subject.NameID != nil {
		sub.NameID, sub.NameIDFormat = a.Subject.NameID.Value, a.Subject.NameID.Format
	}
	for _, st := range a.AuthnStatements {
		if st.SessionIndex != "" {
			sub.SessionIndex = st.SessionIndex
			break
		}
	}
	return sub
}

// AnswerLogoutRequest handles an IdP-initiated LogoutRequest (HTTP-Redirect
// binding) in r: it checks it (the IdP's signature, Destination, Issuer,
// freshness, not seen before), ends the sessions it names (its NameID and,
// if any, SessionIndexes) and returns how many ended and the URL of the
// signed LogoutResponse to send the browser back to the IdP with. Every
// refusal is a *RefusalError; a refused request ends nothing.
func (s *SP) AnswerLogoutRequest(ctx context.Context, cfg settings.Settings, r *http.Request) (*url.URL, int, error) {
	if len(r.URL.RawQuery) > MaxLogoutMessageBytes {
		return nil, 0, refuse(CodeTooLarge, "the logout request is too large", fmt.Errorf("%d query bytes", len(r.URL.RawQuery)))
	}
	if cfg.Mode != settings.ModeJIT || cfg.SLOURL == "" {
		return nil, 0, refuse(CodeSSODisabled, "single logout is not enabled on this system", errors.New("not JIT mode, or no IdP SLO URL"))
	}
	now := s.Now()
	sp, err := s.serviceProvider(cfg, now)
	if err != nil || sp.IDPMetadata == nil {
		return nil, 0, refuse(CodeMisconfigured, "single sign-on is not fully configured (IdP certificate)", err)
	}
	sp.ReplayCache = replayCache{ctx: ctx, store: s.Store, now: now}
	lr, err := sp.ValidateLogoutRequest(r)
	if err != nil {
		return nil, 0, classifyLogout(err, "logout request")
	}
	if lr.NameID == nil || lr.NameID.Value == "" {
		return nil, 0, refuse(CodeNoIdentifier, "the logout request names no user", errors.New("no NameID"))
	}
	var indexes []string
	for _, idx := range lr.AllSessionIndexes() {
		indexes = append(indexes, idx.Value)
	}
	n, err := s.Store.DeleteSSOSessions(ctx, lr.NameID.Value, indexes)
	if err != nil {
		return nil, 0, err
	}
	u, err := sp.MakeRedirectLogoutResponse(lr.ID, r.URL.Query().Get("RelayState"))
	if err != nil {
		return nil, n, fmt.Errorf("make logout response: %w", err)
	}
	return u, n, nil
}

// classifyLogout is classify for a logout message (what): crewjam leaves a
// bad query-string signature and an unreadable message unclassified.
func classifyLogout(err error, what string) *RefusalError {
	ref := classify(err)
	if ref.Code != CodeRefused {
		return ref
	}
	d := strings.ToLower(detail(err))
	switch {
	case strings.Contains(d, "signature"):
		return refuse(CodeSignature, "the "+what+" is not signed by the trusted identity provider", ref.Err)
	case strings.Contains(d, "base64"), strings.Contains(d, "xml"), strings.Contains(d, "parse"), strings.Contains(d, "flate"), strings.Contains(d, "decompress"):
		return refuse(CodeMalformed, "the "+what+" is malformed", ref.Err)
	}
	return refuse(CodeRefused, "the "+what+" was refused", ref.Err)
}
