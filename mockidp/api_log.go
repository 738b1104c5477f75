package mockidp

import (
	"encoding/base64"
	"net/http"
)

// AppliedOptions are a logged login's per-login options as applied
// (options.go), with the defaults filled in.
type AppliedOptions struct {
	NameIDFormat    string `json:"nameIDFormat"`              // URI
	GroupsMode      string `json:"groupsMode"`                // multi | joined
	GroupsDelimiter string `json:"groupsDelimiter,omitempty"` // joined only
	GroupNameFormat string `json:"groupNameFormat"`           // URI
	Sign            string `json:"sign"`                      // both | response | assertion
	SignatureMethod string `json:"signatureMethod"`           // URI
	// Source is "queue" when a login queued through the API supplied the
	// values (queue.go), "session" when an IdP session answered without
	// the form (idpsession.go), else "form".
	Source string `json:"source"`
}

func appliedOptions(o resolvedOptions, st *loginState) *AppliedOptions {
	a := &AppliedOptions{
		NameIDFormat: o.NameIDFormat, GroupsMode: "multi", GroupNameFormat: o.GroupNameFormat,
		Sign: "both", SignatureMethod: o.SignatureMethod, Source: st.source(),
	}
	if o.Joined {
		a.GroupsMode, a.GroupsDelimiter = "joined", o.Delimiter
	}
	switch {
	case !o.SignAssertion:
		a.Sign = "response"
	case !o.SignResponse:
		a.Sign = "assertion"
	}
	return a
}

// logEntry finds the entry id among the kept responses.
func (s *Server) logEntry(id string) (LoggedResponse, bool) {
	for _, e := range s.Log() {
		if e.ID == id {
			return e, true
		}
	}
	return LoggedResponse{}, false
}

func (s *Server) apiLogEntry(w http.ResponseWriter, r *http.Request) {
	e, ok := s.logEntry(r.PathValue("id"))
	if !ok {
		writeAPIError(w, http.StatusNotFound, "no log entry %q (the last %d responses are kept)", r.PathValue("id"), logCapacity)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (s *Server) serveLogJSON(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Log())
}

// serveLogDownload is the whole log as a JSON file.
func (s *Server) serveLogDownload(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Disposition", `attachment; filename="mockidp-log.json"`)
	writeJSON(w, http.StatusOK, s.Log())
}

// serveLoggedResponseXML downloads the response of an entry as sent (the
// signed bytes, decoded from the SAMLResponse form value).
func (s *Server) serveLoggedResponseXML(w http.ResponseWriter, r *http.Request) {
	e, ok := s.logEntry(r.PathValue("id"))
	if !ok {
		s.renderError(w, http.StatusNotFound, "No log entry "+r.PathValue("id")+"; the last 200 responses are kept.")
		return
	}
	body := []byte(e.ResponseXML)
	if raw, err := base64.StdEncoding.DecodeString(e.SAMLResponse); err == nil && len(raw) > 0 {
		body = raw
	}
	serveXMLFile(w, "response-"+e.ID+".xml", body)
}

// serveLoggedRequestXML downloads the request an entry answered.
func (s *Server) serveLoggedRequestXML(w http.ResponseWriter, r *http.Request) {
	e, ok := s.logEntry(r.PathValue("id"))
	if !ok {
		s.renderError(w, http.StatusNotFound, "No log entry "+r.PathValue("id")+"; the last 200 responses are kept.")
		return
	}
	req := e.RequestXML
	if req == "" {
		req = e.LogoutRequestXML
	}
	if req == "" {
		s.renderError(w, http.StatusNotFound, "Log entry "+e.ID+" answers no request: it is an IdP-initiated login.")
		return
	}
	serveXMLFile(w, "request-"+e.ID+".xml", []byte(req))
}

func serveXMLFile(w http.ResponseWriter, name string, body []byte) {
	setNoStore(w)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	_, _ = w.Write(body)
}
