package mockidp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The scenario API: JSON over HTTP under /api/, for scripts and suites
// that drive the IdP (README, "Scenario API"). Every error is a JSON
// object {"error": "..."} with a 4xx status.
//
// Cross-site requests: the state-changing routes (API and the /sps page's
// forms) go through net/http's CrossOriginProtection: a browser request is
// refused unless Sec-Fetch-Site says same-origin (or, from older browsers,
// the Origin header names this host); requests with neither header, from
// curl or a Go client, are not browser requests a foreign page could
// forge, and pass.

// maxAPIBody bounds a JSON request body.
const maxAPIBody = 64 << 10

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	setNoStore(w)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeAPIError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, apiError{Error: fmt.Sprintf(format, args...)})
}

// errBody is a request body the API refuses, with the status to answer.
type errBody struct {
	status int
	msg    string
}

func (e *errBody) Error() string { return e.msg }

// decodeJSON reads exactly one JSON value of at most maxAPIBody bytes into
// v, refusing fields v does not have and a body that is not valid UTF-8.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) *errBody {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return &errBody{http.StatusUnsupportedMediaType, "the body must be JSON (Content-Type: application/json), not " + ct}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAPIBody))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return jsonDecodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return jsonDecodeError(err)
		}
		return &errBody{http.StatusBadRequest, "the body must hold one JSON value"}
	}
	// encoding/json replaces invalid UTF-8 with U+FFFD, which checkText
	// would then pass: a different user. Refuse it before decoding.
	if !utf8.Valid(raw) {
		return &errBody{http.StatusBadRequest, "the body is not valid UTF-8"}
	}
	// The same for an escaped lone surrogate ("\ud800").
	if hasLoneSurrogate(raw) {
		return &errBody{http.StatusBadRequest, "the body has a \\u escape of a lone UTF-16 surrogate (not a character)"}
	}
	// null would decode into v as a no-op: an empty login or persona.
	if raw[0] != '{' {
		return &errBody{http.StatusBadRequest, "bad JSON: the body must be a JSON object {...}"}
	}
	obj := json.NewDecoder(bytes.NewReader(raw))
	obj.DisallowUnknownFields()
	if err := obj.Decode(v); err != nil {
		return jsonDecodeError(err)
	}
	return nil
}

// hasLoneSurrogate reports whether raw, a valid JSON value, has a \u
// escape of a UTF-16 surrogate that is not half of a pair. In valid JSON a
// backslash only starts an escape inside a string, so a scan suffices.
func hasLoneSurrogate(raw []byte) bool {
	hex4 := func(b []byte) (rune, bool) {
		if len(b) < 4 {
			return 0, false
		}
		n, err := strconv.ParseUint(string(b[:4]), 16, 16)
		return rune(n), err == nil
	}
	for i := 0; i < len(raw)-1; i++ {
		if raw[i] != '\\' {
			continue
		}
		if raw[i+1] != 'u' {
			i++ // a one-character escape, the backslash's own included
			continue
		}
		r, ok := hex4(raw[i+2:])
		switch {
		case !ok:
			return false // not valid JSON after all; the decoder says so
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		case r >= 0xD800 && r <= 0xDBFF:
			if i+7 >= len(raw) || raw[i+6] != '\\' || raw[i+7] != 'u' {
				return true
			}
			lo, ok := hex4(raw[i+8:])
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 11
		default:
			i += 5
		}
	}
	return false
}

func jsonDecodeError(err error) *errBody {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return &errBody{http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", tooBig.Limit)}
	case errors.Is(err, io.EOF):
		return &errBody{http.StatusBadRequest, "the body is empty; send a JSON object"}
	default:
		return &errBody{http.StatusBadRequest, "bad JSON: " + err.Error()}
	}
}

// apiRoute registers the handlers of one path, by method, behind the
// cross-origin check; any other method gets a JSON 405.
func (s *Server) apiRoute(mux *http.ServeMux, path string, byMethod map[string]http.HandlerFunc) {
	methods := make([]string, 0, len(byMethod))
	for m, h := range byMethod {
		methods = append(methods, m)
		mux.HandleFunc(m+" "+path, s.crossOriginChecked(h))
	}
	sort.Strings(methods)
	allow := strings.Join(methods, ", ")
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeAPIError(w, http.StatusMethodNotAllowed, "method %s is not allowed here; use %s", r.Method, allow)
	})
}

// crossOriginChecked refuses a cross-site browser request to h with a
// JSON 403 (safe methods always pass).
func (s *Server) crossOriginChecked(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.csrf.Check(r); err != nil {
			writeAPIError(w, http.StatusForbidden, "cross-origin request refused: %v", err)
			return
		}
		h(w, r)
	}
}

// addScenarioRoutes adds the scenario API, the /sps page and the log's
// downloads to mux.
func (s *Server) addScenarioRoutes(mux *http.ServeMux) {
	p := s.prefix
	if u := s.cfg.BaseURL; u != nil {
		_ = s.csrf.AddTrustedOrigin(u.Scheme + "://" + u.Host)
	}
	s.apiRoute(mux, p+"/api/log", map[string]http.HandlerFunc{http.MethodGet: s.serveLogJSON})
	s.apiRoute(mux, p+"/api/log/{id}", map[string]http.HandlerFunc{http.MethodGet: s.apiLogEntry})
	s.apiRoute(mux, p+"/api/faults", map[string]http.HandlerFunc{http.MethodGet: s.serveFaultsJSON})
	s.apiRoute(mux, p+"/api/personas", map[string]http.HandlerFunc{
		http.MethodGet: s.apiListPersonas, http.MethodPost: s.apiCreatePersona,
	})
	s.apiRoute(mux, p+"/api/personas/{id}", map[string]http.HandlerFunc{
		http.MethodGet: s.apiGetPersona, http.MethodPut: s.apiPutPersona, http.MethodDelete: s.apiDeletePersona,
	})
	s.apiRoute(mux, p+"/api/sps", map[string]http.HandlerFunc{
		http.MethodGet: s.apiListSPs, http.MethodPost: s.apiRegisterSP, http.MethodDelete: s.apiDeleteSP,
	})
	s.apiRoute(mux, p+"/api/sps/{entityID}", map[string]http.HandlerFunc{
		http.MethodGet: s.apiListSPs, http.MethodDelete: s.apiDeleteSP,
	})
	s.apiRoute(mux, p+"/api/users/{nameID}/next-login", map[string]http.HandlerFunc{
		http.MethodGet: s.apiGetQueued, http.MethodPut: s.apiQueueLogin, http.MethodPost: s.apiQueueLogin,
		http.MethodDelete: s.apiDeleteQueued,
	})
	s.apiRoute(mux, p+"/api/sessions", map[string]http.HandlerFunc{
		http.MethodGet: s.apiListSessions, http.MethodPost: s.apiStartSession,
	})
	s.apiRoute(mux, p+"/api/sessions/{id}", map[string]http.HandlerFunc{
		http.MethodGet: s.apiGetSession, http.MethodDelete: s.apiEndSession,
	})
	mux.HandleFunc(p+"/api/", func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, http.StatusNotFound, "no API route %s", r.URL.Path)
	})

	mux.HandleFunc("GET "+p+"/log.json", s.serveLogDownload)
	mux.HandleFunc("GET "+p+"/log/{id}/response.xml", s.serveLoggedResponseXML)
	mux.HandleFunc("GET "+p+"/log/{id}/request.xml", s.serveLoggedRequestXML)
	mux.HandleFunc("GET "+p+"/sps", s.serveSPsPage)
	mux.HandleFunc("POST "+p+"/sps", s.serveSPsRegister)
	mux.HandleFunc("POST "+p+"/sps/delete", s.serveSPsDelete)
}

// pathParam is the unescaped path wildcard name, or the query parameter
// of the same name when the route has none.
func pathParam(r *http.Request, name string) string {
	if v := r.PathValue(name); v != "" {
		return v
	}
	return r.URL.Query().Get(name)
}

// apiURL is the path of an API resource, for Location headers.
func (s *Server) apiURL(parts ...string) string {
	out := s.prefix + "/api"
	for _, p := range parts {
		out += "/" + url.PathEscape(p)
	}
	return out
}
