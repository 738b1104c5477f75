package mockidp

import (
	"bytes"
	"encoding/base64"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
)

// postAuthnRequest is an HTTP-POST binding AuthnRequest of the test SP,
// padded with pad bytes of whitespace (still a valid request).
func (e *env) postAuthnRequest(t *testing.T, pad int) string {
	t.Helper()
	req, err := e.sp.MakeAuthenticationRequest(e.sp.GetSSOBindingLocation(saml.HTTPPostBinding), saml.HTTPPostBinding, saml.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(req.Element())
	x, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(append(x, strings.Repeat(" ", pad)...))
}

func TestSSOPostBodyIsBounded(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	rec := e.post(idpBase+"/sso", url.Values{"SAMLRequest": {e.postAuthnRequest(t, 2<<20)}})
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "too large") {
		t.Fatalf("a 2 MiB POST: status %d, want 413 with a message:\n%.500s", rec.Code, rec.Body)
	}
	rec = e.post(idpBase+"/idp/initiate", url.Values{"sp": {testSPEntityID}, "groups": {strings.Repeat("g\n", 1<<20)}})
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a 2 MiB IdP-initiated form: status %d, want 413", rec.Code)
	}
	if n := len(e.idp.Log()); n != 0 {
		t.Fatalf("%d log entries after refused requests", n)
	}
	// A request well under the limit still works.
	rec = e.post(idpBase+"/sso", url.Values{"SAMLRequest": {e.postAuthnRequest(t, 100<<10)}})
	if rec.Code != http.StatusOK {
		t.Fatalf("a 100 KiB POST: status %d:\n%.500s", rec.Code, rec.Body)
	}
}

func TestRelayStateIsBounded(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	long, ok := strings.Repeat("r", maxRelayState+1), strings.Repeat("r", maxRelayState)
	wantRefused := func(what string, rec interface {
		Result() *http.Response
	}, body string) {
		t.Helper()
		if code := rec.Result().StatusCode; code != http.StatusBadRequest || !strings.Contains(body, "RelayState") {
			t.Errorf("%s: status %d, want 400 naming the RelayState:\n%.300s", what, code, body)
		}
	}
	u, _ := e.redirectRequest(long)
	rec := e.get(u)
	wantRefused("HTTP-Redirect", rec, rec.Body.String())
	rec = e.post(idpBase+"/sso", url.Values{"SAMLRequest": {e.postAuthnRequest(t, 0)}, "RelayState": {long}})
	wantRefused("HTTP-POST", rec, rec.Body.String())
	rec = e.get(idpBase + "/idp/initiate?" + url.Values{"sp": {testSPEntityID}, "RelayState": {long}}.Encode())
	wantRefused("IdP-initiated GET", rec, rec.Body.String())
	rec = e.post(idpBase+"/idp/initiate", url.Values{"sp": {testSPEntityID}, "RelayState": {long}, "mockidp_login": {"1"}, "persona": {"alice"}})
	wantRefused("IdP-initiated form", rec, rec.Body.String())
	if n := len(e.idp.Log()); n != 0 {
		t.Fatalf("%d log entries after refused requests", n)
	}

	// 4 KiB is taken, through the login form too.
	u, _ = e.redirectRequest(ok)
	rec = e.get(u)
	action, form := parseLogin(t, rec.Body.String())
	form.Set("persona", "alice")
	samlResponse(t, e.post(idpBase+action, form))
	if l := lastLog(t, e.idp); l.RelayState != ok {
		t.Errorf("RelayState of %d bytes logged, want %d", len(l.RelayState), len(ok))
	}
}

// A multipart/form-data body over the limit is a 413 too, and one under
// it is read as a form.
func TestSSOMultipartBodyIsBounded(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	multipartPost := func(path string, fields map[string]string) *httptest.ResponseRecorder {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for k, v := range fields {
			if err := mw.WriteField(k, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := mw.Close(); err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, idpBase+path, &b)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		return e.do(req)
	}
	for _, path := range []string{"/sso", "/idp/initiate"} {
		rec := multipartPost(path, map[string]string{"SAMLRequest": e.postAuthnRequest(t, 2<<20), "sp": testSPEntityID})
		if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "too large") {
			t.Errorf("a 2 MiB multipart POST to %s: status %d, want 413 with a message:\n%.500s", path, rec.Code, rec.Body)
		}
	}
	if rec := multipartPost("/sso", map[string]string{"SAMLRequest": e.postAuthnRequest(t, 0)}); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `id="login"`) {
		t.Errorf("a small multipart POST: status %d, want the login form", rec.Code)
	}
	if n := len(e.idp.Log()); n != 0 {
		t.Fatalf("%d log entries", n)
	}
}
