package mockidp

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// postSPsForm posts the /sps page's form; headers are name, value pairs.
func (e *env) postSPsForm(path string, form url.Values, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, idpBase+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return e.do(req)
}

func TestSPsPage(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	page := e.get(idpBase + "/sps").Body.String()
	for _, want := range []string{`id="dev-mode" data-trust-any-sp="false"`, `data-entity-id="` + testSPEntityID + `"`, spACS, `<td class="encryption">yes</td>`, `id="register-sp"`, `name="metadataXML"`, `name="metadataURL"`} {
		if !strings.Contains(page, want) {
			t.Errorf("/sps lacks %s", want)
		}
	}
	if !strings.Contains(e.get(idpBase+"/").Body.String(), `href="/sps"`) {
		t.Error("the home page does not link /sps")
	}

	md := spMetadata(t, "https://paste.test/md", "https://paste.test/acs")
	rec := e.postSPsForm("/sps", url.Values{"metadataXML": {md}}, "Sec-Fetch-Site", "same-origin")
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/sps?registered="+url.QueryEscape("https://paste.test/md") {
		t.Fatalf("register: %d %q %s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	page = e.get(idpBase + rec.Header().Get("Location")).Body.String()
	if !strings.Contains(page, `id="sps-message"`) || !strings.Contains(page, `data-entity-id="https://paste.test/md"`) || !strings.Contains(page, `<td class="encryption">no</td>`) {
		t.Errorf("after registering:\n%s", page)
	}

	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		want   string
	}{
		{"bad XML", url.Values{"metadataXML": {"<EntityDescriptor"}}, 400, "Not registered: parse SP metadata"},
		{"IdP metadata", url.Values{"metadataXML": {e.get(idpBase + "/metadata").Body.String()}}, 400, "no SPSSODescriptor"},
		{"nothing", url.Values{}, 400, "Paste the SP"},
		{"both", url.Values{"metadataXML": {md}, "metadataURL": {"https://x.test/md"}}, 400, "not both"},
		{"file path", url.Values{"metadataURL": {"/etc/passwd"}}, 400, "must start with http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.postSPsForm("/sps", tc.form)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), `id="sps-error"`) || !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("%d, want %d with %q:\n%s", rec.Code, tc.status, tc.want, rec.Body)
			}
		})
	}
	if rec := e.postSPsForm("/sps", url.Values{"metadataXML": {strings.Repeat("x", maxMetadataSize+70<<10)}}); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized: %d", rec.Code)
	}

	// Cross-site forms are refused and change nothing.
	cross := spMetadata(t, "https://cross.test/md", "https://cross.test/acs")
	if rec := e.postSPsForm("/sps", url.Values{"metadataXML": {cross}}, "Sec-Fetch-Site", "cross-site"); rec.Code != http.StatusForbidden {
		t.Errorf("cross-site register: %d", rec.Code)
	}
	if rec := e.postSPsForm("/sps/delete", url.Values{"entityID": {testSPEntityID}}, "Origin", "https://evil.example"); rec.Code != http.StatusForbidden {
		t.Errorf("cross-origin delete: %d", rec.Code)
	}
	if e.idp.isRegistered("https://cross.test/md") || !e.idp.isRegistered(testSPEntityID) {
		t.Error("a cross-site form changed the registry")
	}

	rec = e.postSPsForm("/sps/delete", url.Values{"entityID": {"https://paste.test/md"}}, "Origin", idpBase)
	if rec.Code != http.StatusSeeOther || e.idp.isRegistered("https://paste.test/md") {
		t.Errorf("delete: %d", rec.Code)
	}
	if rec := e.postSPsForm("/sps/delete", url.Values{"entityID": {"https://paste.test/md"}}); rec.Code != 404 || !strings.Contains(rec.Body.String(), `id="sps-error"`) {
		t.Errorf("delete again: %d", rec.Code)
	}
}

func TestSPsPageFlagsTrustAnySP(t *testing.T) {
	e := newEnv(t, envOpts{trustAny: true})
	page := e.get(idpBase + "/sps").Body.String()
	if !strings.Contains(page, `id="dev-mode" data-trust-any-sp="true"`) || !strings.Contains(page, "Development mode is ON") || !strings.Contains(page, `id="no-sps"`) {
		t.Errorf("/sps in trust-any-SP mode:\n%s", page)
	}
}
