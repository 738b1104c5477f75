package server

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/hmpconform/hmpconform/sp/jit"
	"github.com/hmpconform/hmpconform/sp/samlsso"
	"github.com/hmpconform/hmpconform/sp/settings"
	"github.com/hmpconform/hmpconform/sp/store"
)

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// handleHome is the landing page: a signed-in user sees their account; a
// visitor is sent to the IdP (SP-initiated) when an SSO URL is set, else to
// the local sign-in page.
func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	v := s.currentViewer(r)
	if v == nil {
		cfg, err := s.cfg.Store.Settings(r.Context())
		if err == nil && cfg.Mode == settings.ModeJIT && cfg.SSOURL != "" {
			s.redirectToIdP(w, r, cfg, "/")
			return
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	if v.admin {
		http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
		return
	}
	groups, err := s.cfg.Store.Groups(r.Context())
	if err != nil {
		s.logErr(r.Context(), "list groups", err)
	}
	roles := rolesOf(*v.user, groups)
	status := http.StatusOK
	s.render(w, r, status, "home.html", map[string]any{
		"User":        v.user,
		"DisplayName": jit.DisplayName(v.user.FirstName, v.user.LastName, v.user.ShortName, v.user.Identifier),
		"Roles":       roles,
		// GRP-NOPERM: no group, no role: a page that says so, not an error.
		"NoPermissions": len(roles) == 0,
	})
}

func rolesOf(u store.User, all []store.Group) []string {
	seen := map[string]bool{}
	var roles []string
	for _, g := range u.Groups {
		for _, full := range all {
			if full.ID == g.ID && full.Role != "" && !seen[full.Role] {
				seen[full.Role] = true
				roles = append(roles, full.Role)
			}
		}
	}
	return roles
}

// handleSSOLogin starts SP-initiated login explicitly (?next=/path).
func (s *Server) handleSSOLogin(w http.ResponseWriter, r *http.Request) {
	cfg, err := s.cfg.Store.Settings(r.Context())
	if err != nil {
		s.logErr(r.Context(), "read settings", err)
		s.renderError(w, r, http.StatusInternalServerError, "unavailable", "Settings could not be read.")
		return
	}
	s.redirectToIdP(w, r, cfg, localNext(r.URL.Query().Get("next"), "/"))
}

func (s *Server) redirectToIdP(w http.ResponseWriter, r *http.Request, cfg settings.Settings, relayState string) {
	u, err := s.saml.AuthnRedirect(r.Context(), cfg, relayState)
	if err != nil {
		s.logErr(r.Context(), "sp-initiated login", err)
		s.renderError(w, r, http.StatusServiceUnavailable, "sso-unavailable",
			"Single sign-on is not available. The administrator can still sign in at /login.")
		return
	}
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (s *Server) handleACSGet(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", http.MethodPost)
	s.renderError(w, r, http.StatusMethodNotAllowed, "method", "The Assertion Consumer Service accepts SAML responses by HTTP POST only.")
}

// handleACS verifies a SAML response, provisions the account and starts a
// session. A refused response changes nothing.
func (s *Server) handleACS(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 2*samlsso.MaxResponseBytes)
	if err := r.ParseForm(); err != nil {
		s.refuse(w, r, &samlsso.RefusalError{Code: samlsso.CodeTooLarge, Reason: "the request could not be read", Err: err})
		return
	}
	ctx := r.Context()
	cfg, err := s.cfg.Store.Settings(ctx)
	if err != nil {
		s.logErr(ctx, "read settings", err)
		s.renderError(w, r, http.StatusInternalServerError, "unavailable", "Settings could not be read.")
		return
	}
	assertion, subject, err := s.saml.VerifyLogin(ctx, cfg, r.PostFormValue("SAMLResponse"))
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	groups, err := s.cfg.Store.Groups(ctx)
	if err != nil {
		s.logErr(ctx, "list groups", err)
		s.renderError(w, r, http.StatusInternalServerError, "unavailable", "Groups could not be read.")
		return
	}
	outcome, err := s.cfg.Provision(rulesFrom(cfg), jitGroups(groups), assertion)
	if err != nil {
		code, reason := samlsso.CodeRefused, "the account could not be provisioned"
		switch {
		case errors.Is(err, jit.ErrReservedIdentifier):
			code, reason = samlsso.CodeReservedIdentifier, "this identifier is reserved for the local administrator, who signs in at /login"
		case errors.Is(err, jit.ErrNoIdentifier):
			code, reason = samlsso.CodeNoIdentifier, "the assertion carries no unique identifier"
		}
		s.refuse(w, r, &samlsso.RefusalError{Code: code, Reason: reason, Err: err})
		return
	}
	user, created, err := s.cfg.Store.ApplyLogin(ctx, outcome, s.cfg.Now())
	if err != nil {
		s.logErr(ctx, "apply login", err)
		s.renderError(w, r, http.StatusInternalServerError, "unavailable", "The account could not be saved. Nothing was changed.")
		return
	}
	if err := s.startSession(w, r, user.ID, false, subject); err != nil {
		s.logErr(ctx, "user session", err)
		s.renderError(w, r, http.StatusInternalServerError, "unavailable", "The session could not be started.")
		return
	}
	s.cfg.Logger.InfoContext(ctx, "sso login", "user_id", user.ID, "created", created,
		"groups", len(outcome.Groups), "defaults", outcome.UsedDefaults, "ignored_groups", len(outcome.Ignored))
	// SEC-REDIRECT: RelayState may only name a local path.
	http.Redirect(w, r, localNext(r.PostFormValue("RelayState"), "/"), http.StatusSeeOther)
}

func (s *Server) refuse(w http.ResponseWriter, r *http.Request, err error) {
	ref, ok := samlsso.IsRefusal(err)
	if !ok {
		ref = &samlsso.RefusalError{Code: samlsso.CodeRefused, Reason: "the SAML response was refused", Err: err}
	}
	// The log keeps the detail, never the response itself.
	s.cfg.Logger.WarnContext(r.Context(), "sso refused", "code", ref.Code, "detail", ref.Err)
	status := http.StatusForbidden
	switch ref.Code {
	case samlsso.CodeMissingResponse, samlsso.CodeMalformed, samlsso.CodeTooLarge:
		status = http.StatusBadRequest
	case samlsso.CodeMisconfigured, samlsso.CodeSSODisabled:
		status = http.StatusConflict
	}
	s.render(w, r, status, "refused.html", map[string]any{"Code": string(ref.Code), "Reason": ref.Reason})
}

func rulesFrom(cfg settings.Settings) jit.Rules {
	return jit.Rules{
		UniqueIdentifier:    cfg.UniqueIdentifier,
		FirstNameAttr:       cfg.FirstNameAttr,
		LastNameAttr:        cfg.LastNameAttr,
		EmailAttr:           cfg.EmailAttr,
		ShortNameAttr:       cfg.ShortNameAttr,
		GroupMembershipAttr: cfg.GroupMembershipAttr,
		DefaultUserGroups:   cfg.DefaultUserGroups,
	}
}

func jitGroups(gs []store.Group) []jit.Group {
	out := make([]jit.Group, len(gs))
	for i, g := range gs {
		out[i] = jit.Group{ID: g.ID, Name: g.Name}
	}
	return out
}

func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	cfg, err := s.cfg.Store.Settings(r.Context())
	if err != nil {
		s.renderError(w, r, http.StatusInternalServerError, "unavailable", "Settings could not be read.")
		return
	}
	b, err := s.saml.Metadata(cfg)
	if err != nil {
		s.logErr(r.Context(), "metadata", err)
		s.renderError(w, r, http.StatusInternalServerError, "unavailable", "Metadata could not be built.")
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	_, _ = w.Write(b)
}

func (s *Server) handleSPCertificate(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Disposition", `attachment; filename="hmp-sp-signing.pem"`)
	_, _ = w.Write(samlsso.EncodeCertificatePEM(s.cfg.Certificate))
}
