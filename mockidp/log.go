package mockidp

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
)

// LoggedResponse is one SAML Response the IdP sent.
type LoggedResponse struct {
	// ID names the entry: /api/log/{id}, /log/{id}/response.xml and
	// /log/{id}/request.xml (api_log.go).
	ID string `json:"id"`
	// Kind is "login" for a SAML Response to an ACS, "logout" for a
	// LogoutResponse to an SP's SingleLogoutService (slo.go).
	Kind           string              `json:"kind"`
	Time           time.Time           `json:"time"`
	SP             string              `json:"sp"`
	ACS            string              `json:"acs"`
	InResponseTo   string              `json:"inResponseTo,omitempty"` // empty for IdP-initiated
	RelayState     string              `json:"relayState,omitempty"`
	Status         string              `json:"status"`
	Persona        string              `json:"persona,omitempty"`
	Flavour        string              `json:"flavour,omitempty"` // the IdP flavour (flavour.go)
	NameID         string              `json:"nameID"`
	GroupAttribute string              `json:"groupAttribute,omitempty"`
	Groups         []string            `json:"groups"`
	Attributes     map[string][]string `json:"attributes"`
	ResponseXML    string              `json:"responseXML"` // indented for reading; not the signed bytes
	// AssertionXML is the signed assertion before any encryption (crewjam
	// encrypts it when the SP metadata has an encryption key); empty for an
	// error Response.
	AssertionXML string `json:"assertionXML,omitempty"`
	Encrypted    bool   `json:"encrypted"`
	// SecondLevelStatus is the status code nested in Status, if any (for
	// example NoPassive, answering a passive AuthnRequest; login.go).
	SecondLevelStatus string `json:"secondLevelStatus,omitempty"`
	// Fault is the fault the response was built with (faults.go), if any.
	Fault string `json:"fault,omitempty"`
	// SAMLResponse is the form value posted to the ACS, as sent.
	SAMLResponse string `json:"samlResponse,omitempty"`
	// EncryptOption and SigningKey are the login's encryption option
	// ("auto", "never", "always") and the key it was signed with
	// ("current", or "next" during a rollover); see options.go.
	EncryptOption string `json:"encryptOption,omitempty"`
	SigningKey    string `json:"signingKey,omitempty"`
	// LogoutRequestXML is the LogoutRequest a "logout" entry answers, as
	// the SP sent it (indented).
	LogoutRequestXML string `json:"logoutRequestXML,omitempty"`

	// User is who signed in (the username typed or the persona's NameID);
	// NameID differs from it when the NameID is transient (nameid.go).
	User string `json:"user,omitempty"`
	// Options are the login's per-login options as applied, defaults
	// filled in (api_log.go); nil for an entry without a login.
	Options *AppliedOptions `json:"options,omitempty"`
	// RequestXML is the AuthnRequest answered, as the SP sent it (decoded);
	// empty for an IdP-initiated login.
	RequestXML string `json:"requestXML,omitempty"`

	// renderPending: ResponseXML (and, with assertionPending, AssertionXML)
	// are still to be rendered from SAMLResponse, on first read (Log) rather
	// than at every login, where they cost about 8% of the login's CPU and
	// a quarter of its allocations (issue 8's benchmarks).
	renderPending, assertionPending bool
}

// loggingResponseWriter is crewjam's ResponseWriter: it sends the response
// with the default auto-submitting form and records it.
type loggingResponseWriter struct{ s *Server }

func (lw loggingResponseWriter) WriteResponse(w http.ResponseWriter, req *saml.IdpAuthnRequest) error {
	if st := loginStateFrom(req.HTTPRequest.Context()); st != nil {
		if f, ok := LookupFault(st.form.Fault); ok {
			sent, err := lw.s.writeFaulted(w, req, f)
			if err != nil {
				return err
			}
			st.sent = sent
			lw.s.record(req)
			return nil
		}
	}
	if st := loginStateFrom(req.HTTPRequest.Context()); st != nil && st.identity != nil && !st.identity.Options.isDefault() {
		// Signing options (options.go): built here rather than by crewjam.
		if err := lw.s.writeWithOptions(w, req, st.identity.Options); err != nil {
			return err
		}
		lw.s.record(req)
		return nil
	}
	if err := req.WriteResponse(w); err != nil {
		return err
	}
	lw.s.record(req)
	return nil
}

func (s *Server) record(req *saml.IdpAuthnRequest) {
	e := LoggedResponse{
		Kind:       "login",
		Time:       s.now(),
		SP:         spEntityID(req),
		RelayState: req.RelayState,
		Groups:     []string{},
		Attributes: map[string][]string{},
	}
	if req.ACSEndpoint != nil {
		e.ACS = req.ACSEndpoint.Location
	}
	if st := loginStateFrom(req.HTTPRequest.Context()); st != nil && st.identity != nil {
		e.Persona = st.identity.Persona
		e.Flavour = st.identity.Flavour
		e.GroupAttribute = st.identity.GroupAttribute
		e.Groups = append(e.Groups, st.identity.Groups...)
		e.EncryptOption, e.SigningKey = st.identity.Options.Encrypt, st.identity.Options.SignKey
		e.User = st.identity.User
		e.Options = appliedOptions(st.identity.Options, st) // api_log.go
	}
	if len(req.RequestBuffer) > 0 {
		e.RequestXML = string(req.RequestBuffer)
	}
	if st := loginStateFrom(req.HTTPRequest.Context()); st != nil {
		e.Fault, e.SAMLResponse = st.form.Fault, st.sent
	}
	if e.Fault == "none" {
		e.Fault = ""
	}
	if a := req.Assertion; a != nil {
		if a.Subject != nil && a.Subject.NameID != nil {
			e.NameID = a.Subject.NameID.Value
		}
		for _, stmt := range a.AttributeStatements {
			for _, attr := range stmt.Attributes {
				for _, v := range attr.Values {
					e.Attributes[attr.Name] = append(e.Attributes[attr.Name], v.Value)
				}
			}
		}
	}
	if el := req.ResponseEl; el != nil {
		e.InResponseTo = el.SelectAttrValue("InResponseTo", "")
		if sc := el.FindElement("./Status/StatusCode"); sc != nil {
			e.Status = sc.SelectAttrValue("Value", "")
			if sc2 := sc.SelectElement("StatusCode"); sc2 != nil {
				e.SecondLevelStatus = sc2.SelectAttrValue("Value", "")
			}
		}
		e.Encrypted = el.FindElement("./EncryptedAssertion") != nil
		if e.SAMLResponse == "" {
			e.SAMLResponse = encodeElement(el)
			e.renderPending = true
		} else {
			e.ResponseXML = indentXML(el) // a fault's: what was sent may not parse
		}
	}
	if req.Assertion != nil && req.AssertionEl != nil {
		if e.renderPending && !e.Encrypted {
			e.assertionPending = true // the Response carries it as signed
		} else {
			e.AssertionXML = indentXML(req.Assertion.Element())
		}
	}
	s.logger.Info("mockidp: sent response", "sp", e.SP, "acs", e.ACS, "nameID", e.NameID, "status", e.Status, "inResponseTo", e.InResponseTo)
	if s.logger.Enabled(req.HTTPRequest.Context(), slog.LevelDebug) {
		e.render()
		s.logger.Debug("mockidp: response XML", "xml", e.ResponseXML)
	}
	s.appendLog(e)
}

// appendLog adds e to the ring buffer.
func (s *Server) appendLog(e LoggedResponse) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.logID++
	e.ID = strconv.Itoa(s.logID)
	if len(s.log) < logCapacity {
		s.log = append(s.log, e)
		return
	}
	s.log[s.logN] = e
	s.logN = (s.logN + 1) % logCapacity
}

// Log returns the recent responses (at most 200), oldest first.
func (s *Server) Log() []LoggedResponse {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	for i := range s.log {
		s.log[i].render()
	}
	out := make([]LoggedResponse, 0, len(s.log))
	for _, e := range append(s.log[s.logN:len(s.log):len(s.log)], s.log[:s.logN]...) {
		e.Groups = append([]string{}, e.Groups...)
		attrs := make(map[string][]string, len(e.Attributes))
		for k, v := range e.Attributes {
			attrs[k] = append([]string(nil), v...)
		}
		e.Attributes = attrs
		out = append(out, e)
	}
	return out
}

// render fills in the readable XML of a recorded response from the
// SAMLResponse it sent, once.
func (e *LoggedResponse) render() {
	if !e.renderPending {
		return
	}
	e.renderPending = false
	raw, err := base64.StdEncoding.DecodeString(e.SAMLResponse)
	if err != nil {
		return
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil || doc.Root() == nil {
		return
	}
	e.ResponseXML = indentXML(doc.Root())
	if e.assertionPending {
		if a := doc.Root().SelectElement("Assertion"); a != nil {
			e.AssertionXML = indentXML(a)
		}
	}
}

// indentXML serializes a copy of el, indented.
func indentXML(el *etree.Element) string {
	doc := etree.NewDocument()
	doc.SetRoot(el.Copy())
	doc.Indent(2)
	s, err := doc.WriteToString()
	if err != nil {
		return ""
	}
	return s
}

// encodeElement is el serialized and base64-encoded, as crewjam's
// PostBinding encodes it (as the root of a new document), without copying
// or moving el.
func encodeElement(el *etree.Element) string {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	el.WriteTo(w, &etree.NewDocument().WriteSettings)
	if err := w.Flush(); err != nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}
