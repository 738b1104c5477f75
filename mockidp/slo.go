package mockidp

import (
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
)

// maxLogoutMessageBytes bounds a LogoutRequest as received (query string
// or form body); a real one is a few kilobytes. crewjam bounds the inflated
// size of an HTTP-Redirect message itself (1 MiB).
const maxLogoutMessageBytes = 64 << 10

// serveSLO handles /slo: a service provider's LogoutRequest, with the
// HTTP-Redirect (GET) or HTTP-POST binding. crewjam parses and validates it
// (registered SP, signature against the SP's metadata, Destination,
// IssueInstant) and signs the LogoutResponse; this handler adds the size
// bound, clear error pages, and the log entry. A valid request ends the
// IdP session of every cookie the browser sends, if any (idpsession.go; logins
// through the form make none), and is answered with Success.
func (s *Server) serveSLO(w http.ResponseWriter, r *http.Request) {
	var form url.Values
	if r.Method == http.MethodGet {
		if len(r.URL.RawQuery) > maxLogoutMessageBytes {
			s.refuseLogout(w, r, http.StatusRequestEntityTooLarge, "The LogoutRequest is too large.", nil)
			return
		}
		form = r.URL.Query()
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, maxLogoutMessageBytes)
		if err := r.ParseForm(); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				s.refuseLogout(w, r, http.StatusRequestEntityTooLarge, "The LogoutRequest is too large.", err)
				return
			}
			s.refuseLogout(w, r, http.StatusBadRequest, "The form could not be read.", err)
			return
		}
		form = r.PostForm
	}
	if form.Get("SAMLRequest") == "" {
		msg := "No SAMLRequest: send a service provider's LogoutRequest here with the HTTP-Redirect or HTTP-POST binding."
		if form.Get("SAMLResponse") != "" {
			msg = "This IdP sends no LogoutRequests, so it expects no LogoutResponse."
		}
		s.refuseLogout(w, r, http.StatusBadRequest, msg, nil)
		return
	}

	req, err := saml.NewIdpLogoutRequest(s.idp, r)
	if err != nil {
		s.refuseLogout(w, r, http.StatusBadRequest, "The LogoutRequest could not be read: "+err.Error()+".", err)
		return
	}
	// Named here for a clear page; Validate refuses it too (spProvider).
	if issuer := logoutIssuer(req.RequestBuffer); issuer != "" && !s.isRegistered(issuer) {
		s.refuseLogout(w, r, http.StatusForbidden, "The service provider "+issuer+" is not registered. Single Logout needs its metadata (its SingleLogoutService and signing certificate), also in development mode (TrustAnySP).", nil)
		return
	}
	if err := req.Validate(); err != nil {
		s.refuseLogout(w, r, http.StatusBadRequest, "The LogoutRequest was refused: "+err.Error()+".", err)
		return
	}
	// After Validate: only a genuine, current request uses up its ID.
	spID := req.ServiceProviderMetadata.EntityID
	if !s.sloReplay.consume(spID, req.Request.ID, logoutRequestDeadline(&req.Request), s.now()) {
		s.refuseLogout(w, r, http.StatusConflict, "The LogoutRequest "+req.Request.ID+" from "+spID+" was already answered: a replayed LogoutRequest is refused.", nil)
		return
	}
	s.endSessionOf(r)
	resp := req.MakeLogoutResponse(saml.StatusSuccess)
	s.recordLogout(req, resp)
	if err := req.WriteLogoutResponse(w, resp); err != nil {
		s.onError(w, r, http.StatusInternalServerError, err)
		return
	}
	s.logger.Info("mockidp: logout", "sp", req.ServiceProviderMetadata.EntityID, "nameID", logoutNameID(req), "binding", req.Binding, "answer", req.SLOEndpoint.Binding)
}

// refuseLogout draws the error page for a refused LogoutRequest and logs why.
func (s *Server) refuseLogout(w http.ResponseWriter, r *http.Request, status int, msg string, err error) {
	s.logger.Warn("mockidp: logout request refused", "method", r.Method, "status", status, "reason", msg, "err", err)
	s.renderError(w, status, msg)
}

// logoutIssuer is the Issuer a LogoutRequest names, before it is verified
// (only to choose the error page); "" if it cannot be read.
func logoutIssuer(b []byte) string {
	var lr saml.LogoutRequest
	if err := xml.Unmarshal(b, &lr); err != nil || lr.Issuer == nil {
		return ""
	}
	return strings.TrimSpace(lr.Issuer.Value)
}

func logoutNameID(req *saml.IdpLogoutRequest) string {
	if req.Request.NameID != nil {
		return req.Request.NameID.Value
	}
	return ""
}

// recordLogout adds a "logout" entry to the response log. ResponseXML is
// the LogoutResponse before signing: with the HTTP-Redirect binding the
// signature travels in the query string, not in the XML.
func (s *Server) recordLogout(req *saml.IdpLogoutRequest, resp *saml.LogoutResponse) {
	e := LoggedResponse{
		Kind:         "logout",
		Time:         s.now(),
		SP:           req.ServiceProviderMetadata.EntityID,
		ACS:          resp.Destination,
		InResponseTo: resp.InResponseTo,
		RelayState:   req.RelayState,
		Status:       resp.Status.StatusCode.Value,
		NameID:       logoutNameID(req),
		Groups:       []string{},
		Attributes:   map[string][]string{},
		ResponseXML:  indentXML(resp.Element()),
		RequestXML:   string(req.RequestBuffer), // as received, like a login's AuthnRequest
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(req.RequestBuffer); err == nil && doc.Root() != nil {
		e.LogoutRequestXML = indentXML(doc.Root())
	}
	s.appendLog(e)
}
