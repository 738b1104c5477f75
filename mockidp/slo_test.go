package mockidp

import (
	"encoding/base64"
	"encoding/xml"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

const spSLO = "https://sp.test/saml/slo"

// newSLOEnv is an env whose SP announces a SingleLogoutService (both
// bindings) and signs its logout messages; register says whether the IdP
// knows the SP.
func newSLOEnv(t *testing.T, register bool) *env {
	t.Helper()
	e := newEnv(t, envOpts{})
	slo, _ := url.Parse(spSLO)
	e.sp.SloURL = *slo
	e.sp.LogoutBindings = []string{saml.HTTPRedirectBinding, saml.HTTPPostBinding}
	e.sp.LogoutSignatureMethod = dsig.RSASHA256SignatureMethod
	if register {
		b, err := xml.Marshal(e.sp.Metadata())
		if err != nil {
			t.Fatal(err)
		}
		if err := e.idp.RegisterSPMetadataXML(b); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// redirectLogout sends a LogoutRequest for nameID with the HTTP-Redirect
// binding; it returns the IdP's answer and the request ID.
func (e *env) redirectLogout(t *testing.T, nameID string) (*httptest.ResponseRecorder, string) {
	t.Helper()
	req, err := e.sp.MakeLogoutRequest(e.idp.SLOURL(), nameID)
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.sp.RedirectLogoutRequestURL(req, "rs-1")
	if err != nil {
		t.Fatal(err)
	}
	return e.get(u.String()), req.ID
}

func logoutEntries(s *Server) []LoggedResponse {
	var out []LoggedResponse
	for _, l := range s.Log() {
		if l.Kind == "logout" {
			out = append(out, l)
		}
	}
	return out
}

func TestSLOMetadataAnnouncesBothBindings(t *testing.T) {
	e := newEnv(t, envOpts{})
	md := e.sp.IDPMetadata // read from /metadata by newSP
	got := map[string]string{}
	for _, ep := range md.IDPSSODescriptors[0].SingleLogoutServices {
		got[ep.Binding] = ep.Location
	}
	want := idpBase + "/slo"
	if got[saml.HTTPRedirectBinding] != want || got[saml.HTTPPostBinding] != want {
		t.Fatalf("SingleLogoutServices %v, want both bindings at %s", got, want)
	}
}

func TestSLORedirectGood(t *testing.T) {
	e := newSLOEnv(t, true)
	rec, id := e.redirectLogout(t, "alice@example.com")
	if rec.Code != http.StatusFound {
		t.Fatalf("status %d, want a redirect to the SP's SLO:\n%s", rec.Code, rec.Body)
	}
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), spSLO+"?") || loc.Query().Get("Signature") == "" {
		t.Fatalf("Location %q: want the SP's SLO with a signed SAMLResponse", rec.Header().Get("Location"))
	}
	if loc.Query().Get("RelayState") != "rs-1" {
		t.Errorf("RelayState %q not passed back", loc.Query().Get("RelayState"))
	}
	// The SP, which trusts the IdP's metadata, accepts the signed answer.
	resp, err := e.sp.ParseLogoutResponse(httptest.NewRequest(http.MethodGet, loc.String(), nil), []string{id})
	if err != nil {
		t.Fatalf("the SP refused the LogoutResponse: %v", err)
	}
	if resp.Status.StatusCode.Value != saml.StatusSuccess || resp.InResponseTo != id {
		t.Errorf("status %q, InResponseTo %q", resp.Status.StatusCode.Value, resp.InResponseTo)
	}
	logs := logoutEntries(e.idp)
	if len(logs) != 1 {
		t.Fatalf("log has %d logout entries, want 1", len(logs))
	}
	l := logs[0]
	if l.NameID != "alice@example.com" || l.InResponseTo != id || l.SP != testSPEntityID || l.Status != saml.StatusSuccess || l.ACS != spSLO {
		t.Errorf("log entry %+v", l)
	}
	if !strings.Contains(l.LogoutRequestXML, id) || !strings.Contains(l.RequestXML, id) || !strings.Contains(l.ResponseXML, "LogoutResponse") {
		t.Errorf("log XML: request %q, response %q", l.LogoutRequestXML, l.ResponseXML)
	}
	page := e.get(idpBase + "/log").Body.String()
	for _, want := range []string{`class="kind-logout"`, `class="logout-request-xml"`, "SingleLogoutService"} {
		if !strings.Contains(page, want) {
			t.Errorf("the log page lacks %s", want)
		}
	}
	if api := e.get(idpBase + "/api/log").Body.String(); !strings.Contains(api, `"kind": "logout"`) {
		t.Errorf("/api/log has no logout entry:\n%s", api)
	}
}

var samlRespRe = regexp.MustCompile(`name="SAMLResponse" value="([^"]*)"`)

func TestSLOPostGood(t *testing.T) {
	e := newSLOEnv(t, true)
	req, err := e.sp.MakeLogoutRequest(e.idp.SLOURL(), "bob") // enveloped signature
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(req.Element())
	b, _ := doc.WriteToBytes()
	rec := e.post(e.idp.SLOURL(), url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(b)}})
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d:\n%s", rec.Code, rec.Body)
	}
	m := samlRespRe.FindStringSubmatch(rec.Body.String())
	if m == nil || !strings.Contains(rec.Body.String(), `action="`+spSLO+`"`) {
		t.Fatalf("want an auto-posting form to the SP's SLO, got:\n%s", rec.Body)
	}
	post := httptest.NewRequest(http.MethodPost, spSLO, strings.NewReader(url.Values{"SAMLResponse": {html.UnescapeString(m[1])}}.Encode()))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := e.sp.ParseLogoutResponse(post, []string{req.ID}); err != nil {
		t.Fatalf("the SP refused the posted LogoutResponse: %v", err)
	}
	if n := len(logoutEntries(e.idp)); n != 1 {
		t.Errorf("%d logout entries", n)
	}
}

func TestSLORefusals(t *testing.T) {
	unsigned := func(t *testing.T, e *env) *http.Request {
		e.sp.LogoutSignatureMethod = ""
		u, err := e.sp.MakeRedirectLogoutRequest("alice@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		if u.Query().Get("Signature") != "" {
			t.Fatal("the request is signed")
		}
		return httptest.NewRequest(http.MethodGet, u.String(), nil)
	}
	for _, tc := range []struct {
		name     string
		register bool
		req      func(t *testing.T, e *env) *http.Request
		status   int
		message  string
	}{
		{"unsigned", true, unsigned, http.StatusBadRequest, "signature"},
		{"signed by a key not in the SP metadata", true, func(t *testing.T, e *env) *http.Request {
			other, cert, err := LoadOrCreateKeyPair(t.TempDir(), e.now(), "other.test")
			if err != nil {
				t.Fatal(err)
			}
			e.sp.Key, e.sp.Certificate = other, cert
			u, err := e.sp.MakeRedirectLogoutRequest("alice@example.com", "")
			if err != nil {
				t.Fatal(err)
			}
			return httptest.NewRequest(http.MethodGet, u.String(), nil)
		}, http.StatusBadRequest, "signature"},
		{"unknown SP", false, func(t *testing.T, e *env) *http.Request {
			u, err := e.sp.MakeRedirectLogoutRequest("alice@example.com", "")
			if err != nil {
				t.Fatal(err)
			}
			return httptest.NewRequest(http.MethodGet, u.String(), nil)
		}, http.StatusForbidden, "not registered"},
		{"not base64", true, func(t *testing.T, e *env) *http.Request {
			return httptest.NewRequest(http.MethodGet, idpBase+"/slo?SAMLRequest=%25%25%25", nil)
		}, http.StatusBadRequest, "could not be read"},
		{"not deflated XML", true, func(t *testing.T, e *env) *http.Request {
			return httptest.NewRequest(http.MethodGet, idpBase+"/slo?"+url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString([]byte("<LogoutRequest"))}}.Encode(), nil)
		}, http.StatusBadRequest, "could not be read"},
		{"posted XML that is not a LogoutRequest", true, func(t *testing.T, e *env) *http.Request {
			r := httptest.NewRequest(http.MethodPost, idpBase+"/slo", strings.NewReader(url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString([]byte("<a><b/></a>"))}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, http.StatusBadRequest, "refused"},
		{"no SAMLRequest", true, func(t *testing.T, e *env) *http.Request {
			return httptest.NewRequest(http.MethodGet, idpBase+"/slo", nil)
		}, http.StatusBadRequest, "No SAMLRequest"},
		{"a LogoutResponse", true, func(t *testing.T, e *env) *http.Request {
			return httptest.NewRequest(http.MethodGet, idpBase+"/slo?SAMLResponse=abc", nil)
		}, http.StatusBadRequest, "expects no LogoutResponse"},
		{"oversized query", true, func(t *testing.T, e *env) *http.Request {
			return httptest.NewRequest(http.MethodGet, idpBase+"/slo?SAMLRequest="+strings.Repeat("A", maxLogoutMessageBytes+1), nil)
		}, http.StatusRequestEntityTooLarge, "too large"},
		{"oversized form", true, func(t *testing.T, e *env) *http.Request {
			r := httptest.NewRequest(http.MethodPost, idpBase+"/slo", strings.NewReader("SAMLRequest="+strings.Repeat("A", maxLogoutMessageBytes+1)))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, http.StatusRequestEntityTooLarge, "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSLOEnv(t, tc.register)
			rec := e.do(tc.req(t, e))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d:\n%s", rec.Code, tc.status, rec.Body)
			}
			body := rec.Body.String()
			if !strings.Contains(body, `id="error-message"`) || !strings.Contains(body, tc.message) {
				t.Errorf("want an error page saying %q, got:\n%s", tc.message, body)
			}
			if strings.Contains(body, "goroutine") || rec.Header().Get("Location") != "" {
				t.Errorf("leaked a trace or redirected")
			}
			if n := len(logoutEntries(e.idp)); n != 0 {
				t.Errorf("a refused request was logged (%d entries)", n)
			}
		})
	}
}
