package mockidp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crewjam/saml"
)

// Names of the login form's fields.
const (
	fieldMarker         = "mockidp_login" // "1" when the login form was submitted
	fieldQuery          = "mockidp_query" // the raw query of an HTTP-Redirect AuthnRequest
	fieldPersona        = "persona"
	fieldUsername       = "username"
	fieldFirstName      = "firstName"
	fieldLastName       = "lastName"
	fieldEmail          = "email"
	fieldShortName      = "shortName"
	fieldGroups         = "groups"
	fieldGroupAttribute = "groupAttribute"
	fieldSP             = "sp"
	fieldRelayState     = "RelayState"
	fieldFault          = FaultField // see faults.go
)

// attrNameFormatBasic is the NameFormat of every attribute the IdP sends.
const attrNameFormatBasic = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"

// maxSSOBody bounds the body of a POST to /sso and /idp/initiate (an
// HTTP-POST AuthnRequest, or the login form that resumes one): 1 MiB, as
// crewjam bounds an HTTP-Redirect AuthnRequest once inflated.
const maxSSOBody = 1 << 20

// maxRelayState bounds the RelayState an SP (or an IdP-initiated login)
// sends. SAML says 80 bytes; real SPs send more, so the limit is lenient.
const maxRelayState = 4 << 10

// sessionLifetime is the ExpireTime of the sessions made from a login.
const sessionLifetime = 8 * time.Hour

// loginForm is what the login form submitted.
type loginForm struct {
	Persona        string
	Username       string
	FirstName      string
	LastName       string
	Email          string
	ShortName      string
	Groups         string // one group per line
	GroupAttribute string
	Fault          string       // a fault's name (faults.go); "" or "none": a normal response
	Options        loginOptions // options.go; blank fields keep the defaults
	// GroupList, when not nil, is the groups as a list and wins over
	// Groups; FromPersona is the persona a queued login started from, for
	// the log. Both are set only by a queued login (queue.go).
	GroupList   []string
	FromPersona string
}

func parseLoginForm(v url.Values) loginForm {
	return loginForm{
		Persona:        v.Get(fieldPersona),
		Username:       v.Get(fieldUsername),
		FirstName:      v.Get(fieldFirstName),
		LastName:       v.Get(fieldLastName),
		Email:          v.Get(fieldEmail),
		ShortName:      v.Get(fieldShortName),
		Groups:         v.Get(fieldGroups),
		GroupAttribute: v.Get(fieldGroupAttribute),
		Fault:          v.Get(fieldFault),
		Options: loginOptions{
			NameIDFormat:    v.Get(fieldNameIDFormat),
			GroupsMode:      v.Get(fieldGroupsMode),
			GroupsDelimiter: v.Get(fieldGroupsDelimiter),
			GroupNameFormat: v.Get(fieldGroupNameFormat),
			SignWhat:        v.Get(fieldSignWhat),
			SignAlg:         v.Get(fieldSignAlg),
			Encrypt:         v.Get(fieldEncrypt),
			SignKey:         v.Get(fieldSignKey),
			Flavour:         v.Get(fieldFlavour),
			GroupFormat:     v.Get(fieldGroupFormat),
		},
	}
}

// identity is who the login asserts.
type identity struct {
	Persona string
	// NameID is the value sent; User is who signed in (the username typed
	// or the persona's NameID). They differ for a transient NameID, which
	// is random (nameid.go).
	NameID         string
	User           string
	FirstName      string
	LastName       string
	Email          string
	ShortName      string
	GroupAttribute string
	Groups         []string
	Options        resolvedOptions
	// Flavour, GroupFormat and GroupIDs shape the attributes (flavour.go).
	Flavour     string
	GroupFormat string
	GroupIDs    map[string]string
}

// loginState travels in the request context from the handler that received
// a submitted login form to GetSession, and on to the response log.
type loginState struct {
	form     loginForm
	identity *identity // set by GetSession once the form is accepted
	sent     string    // the SAMLResponse form value sent, for the log (faults.go)
	queued   bool      // form holds a login queued through the API (queue.go)
	taken    *queuedLogin
	session  *idpSession // the IdP session the login came with (idpsession.go)
	// others are the browser's other live IdP sessions, in cookie order,
	// tried when session cannot answer this request (another SP's).
	others []idpSession
}

type loginKey struct{}

// source is where the login's values came from: "queue" (a login queued
// through the API), "session" (an IdP session), else "form".
func (st *loginState) source() string {
	switch {
	case st.queued:
		return "queue"
	case st.session != nil:
		return "session"
	}
	return "form"
}

func loginStateFrom(ctx context.Context) *loginState {
	st, _ := ctx.Value(loginKey{}).(*loginState)
	return st
}

// splitGroups splits the groups textarea: one value per line, verbatim
// except for the line ending; lines that are blank are ignored. Commas are
// part of the value.
func splitGroups(s string) []string {
	var groups []string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		groups = append(groups, line)
	}
	return groups
}

// resolve turns a submitted form into an identity, or returns a message for
// the person.
func (s *Server) resolve(f loginForm) (*identity, string) {
	f, fl, msg := s.applyFlavour(f) // flavour.go: blank options take the flavour's defaults
	if msg != "" {
		return nil, msg
	}
	opts, msg := f.Options.resolve()
	if msg != "" {
		return nil, msg
	}
	id, msg := s.resolveIdentity(f)
	if id != nil {
		id.Options = opts
		s.shapeIdentity(id, fl, f.Options)
	}
	return id, msg
}

// resolveIdentity is resolve without the options.
func (s *Server) resolveIdentity(f loginForm) (*identity, string) {
	groupAttr := strings.TrimSpace(f.GroupAttribute)
	if groupAttr == "" {
		groupAttr = s.groupAttr
	}
	if err := checkText("The group attribute", groupAttr); err != nil { // text.go
		return nil, err.Error() + "."
	}
	if f.Persona != "" {
		p, ok := s.personas.get(f.Persona)
		if !ok {
			return nil, "Unknown persona " + f.Persona + "."
		}
		return &identity{
			Persona:        p.ID,
			NameID:         p.NameID,
			FirstName:      p.FirstName,
			LastName:       p.LastName,
			Email:          p.Email,
			ShortName:      p.ShortName,
			GroupAttribute: groupAttr,
			Groups:         append([]string(nil), p.Groups...),
		}, ""
	}
	if strings.TrimSpace(f.Username) == "" {
		return nil, "Enter a username (it becomes the NameID), or sign in as a persona."
	}
	groups := splitGroups(f.Groups)
	if f.GroupList != nil {
		groups = append([]string(nil), f.GroupList...)
	}
	for _, v := range []struct{ name, v string }{{"The username", f.Username}, {"The first name", f.FirstName}, {"The last name", f.LastName}, {"The email", f.Email}, {"The short name", f.ShortName}} {
		if err := checkText(v.name, v.v); err != nil { // text.go
			return nil, err.Error() + "."
		}
	}
	for _, g := range groups {
		if err := checkText("A group name", g); err != nil {
			return nil, err.Error() + "."
		}
	}
	return &identity{
		Persona:        f.FromPersona,
		NameID:         f.Username,
		FirstName:      f.FirstName,
		LastName:       f.LastName,
		Email:          f.Email,
		ShortName:      f.ShortName,
		GroupAttribute: groupAttr,
		Groups:         groups,
	}, ""
}

// session builds the crewjam Session for id. Only NameID and
// CustomAttributes carry identity: the other Session fields make
// DefaultAssertionMaker add standard attributes (uid, mail,
// eduPersonAffiliation, ...) that the SP under test should not see.
func (s *Server) session(id *identity) *saml.Session {
	attrs := s.attributes(id) // flavour.go
	nameIDFormat := id.Options.NameIDFormat
	if nameIDFormat == "" {
		nameIDFormat = string(saml.UnspecifiedNameIDFormat)
	}
	now := s.now()
	return &saml.Session{
		ID:               "sess-" + rand.Text(),
		CreateTime:       now,
		ExpireTime:       now.Add(sessionLifetime),
		Index:            "idx-" + rand.Text(),
		NameID:           id.NameID,
		NameIDFormat:     nameIDFormat,
		CustomAttributes: attrs,
	}
}

// sessionProvider implements saml.SessionProvider with the login form: it
// draws the form until it is submitted with a usable identity.
type sessionProvider struct{ s *Server }

func (p sessionProvider) GetSession(w http.ResponseWriter, r *http.Request, req *saml.IdpAuthnRequest) *saml.Session {
	s := p.s
	if req.ACSEndpoint != nil && req.ACSEndpoint.Binding != saml.HTTPPostBinding && req.ACSEndpoint.Binding != saml.HTTPPostSimpleSignBinding {
		// crewjam skips this check when a custom ResponseWriter is set.
		s.logger.Warn("mockidp: unsupported ACS binding", "binding", req.ACSEndpoint.Binding, "acs", req.ACSEndpoint.Location)
		s.renderError(w, http.StatusBadRequest, "The assertion consumer service "+req.ACSEndpoint.Location+" uses the binding "+req.ACSEndpoint.Binding+"; this IdP only sends responses with HTTP-POST.")
		return nil
	}
	st := loginStateFrom(r.Context())
	passiveWhy := "the browser has no IdP session"
	if st != nil && st.session != nil {
		st, passiveWhy = s.answeringSession(st, spEntityID(req), req.Request.ForceAuthn)
	}
	if st == nil && isPassive(req) {
		s.answerNoPassive(w, req, passiveWhy)
		return nil
	}
	if st == nil {
		// ?fault= preselects a fault (e.g. /idp/initiate?sp=...&fault=xsw1).
		s.renderLogin(w, r, req, loginForm{GroupAttribute: s.groupAttr, Fault: r.URL.Query().Get(fieldFault)}, "", http.StatusOK)
		return nil
	}
	if st.session == nil {
		s.applyQueuedLogin(st, spEntityID(req)) // queue.go: a login queued through the API wins
	}
	st.form.Options.Flavour = s.spFlavour(spEntityID(req), st.form.Options.Flavour)
	id, msg := s.resolve(st.form)
	if msg == "" {
		msg = s.checkOptionsFor(req.ServiceProviderMetadata, id.Options) // optioncheck.go
	}
	if f := st.form.Fault; msg == "" && (f == "" || f == "none") {
		msg = checkEncryptionFor(req.SPSSODescriptor, id.Options.Encrypt) // encryption.go; faults never encrypt
	}
	if _, ok := LookupFault(st.form.Fault); msg == "" && !ok && st.form.Fault != "" && st.form.Fault != "none" {
		msg = "Unknown fault " + st.form.Fault + "."
	}
	if msg != "" && st.session != nil && isPassive(req) {
		// The session cannot answer and the form may not be drawn.
		s.logger.Warn("mockidp: IdP session login refused", "sp", spEntityID(req), "session", sessionLogID(st.session.ID), "reason", msg)
		s.answerNoPassive(w, req, "the IdP session cannot answer this request")
		return nil
	}
	if msg != "" {
		msg += s.requeueLogin(st) // queue.go: a refused login leaves its queued entry
		f := st.form
		if strings.TrimSpace(f.GroupAttribute) == "" {
			f.GroupAttribute = s.flavourGroupAttribute(f.Options.Flavour) // flavour.go
		}
		s.renderLogin(w, r, req, f, msg, http.StatusBadRequest)
		return nil
	}
	if err := s.setSubject(id); err != nil { // nameid.go
		s.onError(w, r, http.StatusInternalServerError, err)
		return nil
	}
	usedUp := false
	if st.session != nil {
		var ok bool
		if ok, usedUp = s.sessions.use(st.session.ID, s.now()); !ok {
			// Used up or ended since it was read (a parallel login took
			// its last use): the person signs in.
			if isPassive(req) {
				s.answerNoPassive(w, req, "the IdP session ended")
				return nil
			}
			s.renderLogin(w, r, req, loginForm{GroupAttribute: s.groupAttr}, "", http.StatusOK)
			return nil
		}
	}
	st.identity = id
	attrs := []any{"sp", spEntityID(req), "nameID", id.NameID, "source", st.source()}
	if st.session != nil {
		attrs = append(attrs, "session", sessionLogID(st.session.ID))
	}
	attrs = append(attrs, "persona", id.Persona, "groupAttribute", id.GroupAttribute, "groups", len(id.Groups), "flavour", id.Flavour)
	s.logger.Info("mockidp: login", attrs...)
	if usedUp {
		s.logger.Info("mockidp: IdP session ended", "session", sessionLogID(st.session.ID), "by", "its last login")
	}
	return s.session(id)
}

// answeringSession makes st the login of the first of the browser's live
// IdP sessions (st.session, then st.others) that may answer a login at sp
// and returns it, or returns nil, with why none may: ForceAuthn asks the person to sign in whatever
// the sessions, and a session scoped to another SP does not answer this one.
func (s *Server) answeringSession(st *loginState, sp string, forceAuthn *bool) (*loginState, string) {
	if forceAuthn != nil && *forceAuthn {
		return nil, "the request has ForceAuthn: the person must sign in"
	}
	for _, e := range append([]idpSession{*st.session}, st.others...) {
		if sessionAnswers(&e, sp, forceAuthn) {
			// In place: the response writer reads this state from the
			// request's context after GetSession.
			st.form, st.session = s.sessionForm(e.Login), &e
			return st, ""
		}
	}
	return nil, "no IdP session of the browser's is for this SP"
}

// isPassive reports whether req asks the IdP not to take control of the
// user interface (IsPassive="true"): no login form, no error page.
func isPassive(req *saml.IdpAuthnRequest) bool {
	return req.Request.IsPassive != nil && *req.Request.IsPassive
}

// answerNoPassive answers a passive AuthnRequest the IdP cannot answer
// without its login form: a signed Response with no assertion, status
// Responder with the second-level NoPassive (SAML core 3.4.1), made and
// sent by crewjam (SendErrorResponse) through loggingResponseWriter, so
// it is in the response log like any Response. why is the StatusMessage
// the SP reads.
func (s *Server) answerNoPassive(w http.ResponseWriter, req *saml.IdpAuthnRequest, why string) {
	// The Response carries no login: drop a session's login state, so the
	// ResponseWriter neither applies its fault nor logs its values.
	r := req.HTTPRequest
	req.HTTPRequest = r.WithContext(context.WithValue(r.Context(), loginKey{}, (*loginState)(nil)))
	err := s.idp.SendErrorResponse(w, req, &saml.StatusError{
		TopLevel: saml.StatusResponder, SecondLevel: saml.StatusNoPassive, Message: "IsPassive: " + why,
	})
	if err != nil {
		s.onError(w, r, http.StatusInternalServerError, err)
		return
	}
	s.logger.Info("mockidp: passive request answered NoPassive", "sp", spEntityID(req), "inResponseTo", req.Request.ID, "why", why)
}

func spEntityID(req *saml.IdpAuthnRequest) string {
	if req.ServiceProviderMetadata != nil {
		return req.ServiceProviderMetadata.EntityID
	}
	if req.Request.Issuer != nil {
		return req.Request.Issuer.Value
	}
	return ""
}

// serveSSO handles /sso: AuthnRequests (GET: HTTP-Redirect, POST: HTTP-POST)
// and the login form that resumes them.
func (s *Server) serveSSO(w http.ResponseWriter, r *http.Request) {
	relayState := r.URL.Query().Get(fieldRelayState)
	if r.Method == http.MethodPost {
		if !s.parseSSOForm(w, r) {
			return
		}
		relayState = r.PostForm.Get(fieldRelayState)
		if r.PostForm.Get(fieldMarker) == "1" {
			ctx := context.WithValue(r.Context(), loginKey{}, &loginState{form: parseLoginForm(r.PostForm)})
			if q, ok := r.PostForm[fieldQuery]; ok {
				// Replay the HTTP-Redirect request exactly as the SP sent it,
				// so that a query string signature still verifies.
				r2 := r.Clone(ctx)
				r2.Method = http.MethodGet
				r2.URL.RawQuery = q[0]
				r2.Body = http.NoBody
				r2.ContentLength = 0
				r2.Form, r2.PostForm = nil, nil
				r2.Header.Del("Content-Type")
				r = r2
				relayState = r.URL.Query().Get(fieldRelayState)
			} else {
				r = r.WithContext(ctx)
			}
		}
	}
	if !s.checkRelayState(w, relayState) {
		return
	}
	s.idp.ServeSSO(w, s.withTrustHint(s.withIdPSession(r)))
}

// parseSSOForm reads a POST body of at most maxSSOBody bytes into
// r.PostForm; on failure it has answered (413 or 400) and returns false.
func (s *Server) parseSSOForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxSSOBody)
	var err error
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		// ParseForm leaves a multipart body unread; crewjam would read it
		// later and answer 400 for one over the limit. The body is at most
		// maxSSOBody, so no file part goes to disk.
		err = r.ParseMultipartForm(maxSSOBody)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.logger.Warn("mockidp: request body too large", "path", r.URL.Path, "limit", tooBig.Limit)
			s.renderError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("The request is too large: at most %d bytes (1 MiB).", maxSSOBody))
			return false
		}
		s.onError(w, r, http.StatusBadRequest, err)
		return false
	}
	return true
}

// checkRelayState refuses (400) a RelayState over maxRelayState bytes.
func (s *Server) checkRelayState(w http.ResponseWriter, relayState string) bool {
	if len(relayState) > maxRelayState {
		s.renderError(w, http.StatusBadRequest, fmt.Sprintf("The RelayState is %d bytes; this IdP takes at most %d (4 KiB).", len(relayState), maxRelayState))
		return false
	}
	return true
}

// serveInitiate handles /idp/initiate: IdP-initiated login to ?sp=, and the
// login form that completes it.
func (s *Server) serveInitiate(w http.ResponseWriter, r *http.Request) {
	var sp, relayState string
	if r.Method == http.MethodPost {
		if !s.parseSSOForm(w, r) {
			return
		}
		sp, relayState = r.PostForm.Get(fieldSP), r.PostForm.Get(fieldRelayState)
		if r.PostForm.Get(fieldMarker) == "1" {
			r = r.WithContext(context.WithValue(r.Context(), loginKey{}, &loginState{form: parseLoginForm(r.PostForm)}))
		}
	} else {
		q := r.URL.Query()
		sp, relayState = q.Get(fieldSP), q.Get(fieldRelayState)
	}
	if sp == "" {
		s.renderError(w, http.StatusBadRequest, "Name the service provider: /idp/initiate?sp=<entity ID>.")
		return
	}
	if !s.checkRelayState(w, relayState) {
		return
	}
	s.idp.ServeIDPInitiated(w, s.withIdPSession(r), sp, relayState)
}

// renderLogin draws the login form for req.
func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, req *saml.IdpAuthnRequest, f loginForm, errMsg string, status int) {
	page := loginPage{
		SPEntityID:  spEntityID(req),
		RequestID:   req.Request.ID,
		RelayState:  req.RelayState,
		Personas:    s.personas.list(),
		Form:        f,
		Error:       errMsg,
		TrustAnySP:  s.cfg.TrustAnySP,
		Home:        s.prefix + "/",
		DefaultAttr: s.groupAttr,
		Faults:      faultList,
		Choices:     loginOptionChoices,
	}
	if req.ACSEndpoint != nil {
		page.ACS = req.ACSEndpoint.Location
	}
	page.Unregistered = !s.isRegistered(page.SPEntityID)
	page.Flavours, page.GroupFormats = s.flavourChoices(), groupFormats
	s.preselectFlavour(&page.Form, page.SPEntityID) // flavour.go
	if len(req.RequestBuffer) == 0 {
		page.IdPInitiated = true
		page.Action = s.prefix + "/idp/initiate"
		page.Hidden = []hiddenField{{fieldSP, page.SPEntityID}, {fieldRelayState, req.RelayState}}
	} else {
		page.Action = s.prefix + "/sso"
		if r.Method == http.MethodGet {
			page.Hidden = []hiddenField{{fieldQuery, r.URL.RawQuery}}
		} else {
			// HTTP-POST (or SimpleSign): post the same fields again.
			for _, name := range []string{"SAMLRequest", fieldRelayState, "SigAlg", "Signature", "KeyInfo"} {
				if v, ok := r.PostForm[name]; ok && len(v) > 0 {
					page.Hidden = append(page.Hidden, hiddenField{name, v[0]})
				}
			}
		}
	}
	setNoStore(w)
	s.render(w, status, loginTemplate, page)
}
