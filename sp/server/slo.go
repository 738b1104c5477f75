package server

import (
	"net/http"

	"github.com/hmpconform/hmpconform/sp/samlsso"
	"github.com/hmpconform/hmpconform/sp/settings"
	"github.com/hmpconform/hmpconform/sp/store"
)

// sloCookie carries the ID of the LogoutRequest this browser was sent to
// the IdP with, so that the LogoutResponse can be matched to it. Lax: the
// IdP answers with a top-level GET redirect (HTTP-Redirect binding).
const sloCookie = "hmp_slo"

// startSingleLogout sends the browser to the IdP with a signed
// LogoutRequest when the ended session came from SSO and the settings name
// an IdP SLO URL. It reports whether it did; if not (or if the request
// cannot be made), the caller shows the local signed-out page.
func (s *Server) startSingleLogout(w http.ResponseWriter, r *http.Request, sso store.SSOSubject) bool {
	if sso.NameID == "" {
		return false
	}
	cfg, err := s.cfg.Store.Settings(r.Context())
	if err != nil || !samlsso.CanLogOutAtIdP(cfg, sso) {
		return false
	}
	u, id, err := s.saml.LogoutRedirect(r.Context(), cfg, sso, "")
	if err != nil {
		s.logErr(r.Context(), "single logout request", err)
		return false
	}
	http.SetCookie(w, &http.Cookie{
		Name: sloCookie, Value: id, Path: samlsso.SLOPath, HttpOnly: true, Secure: true,
		SameSite: http.SameSiteLaxMode, MaxAge: int(samlsso.RequestLifetime.Seconds()),
	})
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
	return true
}

// handleSLO is the SP's SingleLogoutService (HTTP-Redirect): the IdP's
// LogoutResponse to the LogoutRequest startSingleLogout sent, or an
// IdP-initiated LogoutRequest.
func (s *Server) handleSLO(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("SAMLResponse") == "" && q.Get("SAMLRequest") == "" {
		s.renderError(w, r, http.StatusBadRequest, "slo-bad-request", "The Single Logout endpoint expects a LogoutRequest or LogoutResponse from the identity provider (HTTP-Redirect binding).")
		return
	}
	cfg, err := s.cfg.Store.Settings(r.Context())
	if err != nil {
		s.logErr(r.Context(), "read settings", err)
		s.renderError(w, r, http.StatusInternalServerError, "unavailable", "Settings could not be read.")
		return
	}
	if q.Get("SAMLResponse") == "" {
		s.answerLogoutRequest(w, r, cfg)
		return
	}
	var pending string
	if c, err := r.Cookie(sloCookie); err == nil {
		pending = c.Value
	}
	if err := s.saml.VerifyLogoutResponse(r.Context(), cfg, r, pending); err != nil {
		// The local session is already gone; only the IdP's answer failed.
		// The pending cookie stays (it expires on its own): a forged
		// message sent to this browser must not make the genuine answer fail.
		s.refuseSLO(w, r, err, "You are signed out here, but the identity provider's logout response was refused: ")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sloCookie, Value: "", Path: samlsso.SLOPath, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode, MaxAge: -1})
	s.cfg.Logger.InfoContext(r.Context(), "single logout completed")
	s.render(w, r, http.StatusOK, "signedout.html", map[string]any{"AtIdP": true})
}

// handleSLOPost refuses the HTTP-POST binding, which the SP's metadata
// does not announce.
func (s *Server) handleSLOPost(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", http.MethodGet)
	s.renderError(w, r, http.StatusMethodNotAllowed, "method", "The Single Logout endpoint uses the HTTP-Redirect binding (GET) only.")
}

// answerLogoutRequest ends the sessions an IdP-initiated LogoutRequest
// names and sends the browser back to the IdP with the signed answer.
func (s *Server) answerLogoutRequest(w http.ResponseWriter, r *http.Request, cfg settings.Settings) {
	u, n, err := s.saml.AnswerLogoutRequest(r.Context(), cfg, r)
	if err != nil {
		if _, ok := samlsso.IsRefusal(err); !ok {
			s.logErr(r.Context(), "idp-initiated logout", err)
			s.renderError(w, r, http.StatusInternalServerError, "unavailable", "The sign-out could not be completed.")
			return
		}
		s.refuseSLO(w, r, err, "The identity provider's logout request was refused: ")
		return
	}
	s.cfg.Logger.InfoContext(r.Context(), "idp-initiated logout", "ended_sessions", n)
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// refuseSLO draws the error page for a refused logout message: 400 for
// one that cannot be read, 409 when SLO is off, 403 otherwise.
func (s *Server) refuseSLO(w http.ResponseWriter, r *http.Request, err error, prefix string) {
	ref, _ := samlsso.IsRefusal(err)
	if ref == nil {
		ref = &samlsso.RefusalError{Code: samlsso.CodeRefused, Reason: "the message was refused", Err: err}
	}
	s.cfg.Logger.WarnContext(r.Context(), "slo refused", "code", ref.Code, "detail", ref.Err)
	status := http.StatusForbidden
	switch ref.Code {
	case samlsso.CodeMalformed, samlsso.CodeTooLarge:
		status = http.StatusBadRequest
	case samlsso.CodeSSODisabled, samlsso.CodeMisconfigured:
		status = http.StatusConflict
	}
	s.renderError(w, r, status, "slo-"+string(ref.Code), prefix+ref.Reason+".")
}
