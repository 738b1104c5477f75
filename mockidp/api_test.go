package mockidp

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/crewjam/saml"

	"github.com/hmpconform/hmpconform/fixtures"
)

// api sends a request to the scenario API; body is JSON unless a
// Content-Type header says otherwise. headers are name, value pairs.
func (e *env) api(method, path, body string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, idpBase+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return e.do(req)
}

// wantJSON checks the status and decodes the JSON body into v (nil: skip).
func wantJSON(t *testing.T, rec *httptest.ResponseRecorder, status int, v any) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json: %s", ct, rec.Body)
	}
	if v != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatalf("body is not the JSON expected: %v: %s", err, rec.Body)
		}
	}
}

// wantAPIError checks a JSON error with this status whose message has want.
func wantAPIError(t *testing.T, rec *httptest.ResponseRecorder, status int, want string) {
	t.Helper()
	var e apiError
	wantJSON(t, rec, status, &e)
	if e.Error == "" || !strings.Contains(e.Error, want) {
		t.Fatalf("error %q, want it to mention %q", e.Error, want)
	}
}

// loginPage is the IdP-initiated login page for the test SP.
func (e *env) loginPage(t *testing.T) string {
	t.Helper()
	rec := e.get(idpBase + "/idp/initiate?" + url.Values{"sp": {testSPEntityID}}.Encode())
	if rec.Code != http.StatusOK {
		t.Fatalf("login page: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// signIn submits the IdP-initiated login form with these fields and
// returns the assertion the SP accepted.
func (e *env) signIn(t *testing.T, fields url.Values) *saml.Assertion {
	t.Helper()
	if !e.sp.AllowIDPInitiated { // set once: concurrent callers only read it
		e.sp.AllowIDPInitiated = true
	}
	action, form := parseLogin(t, e.loginPage(t))
	for k, v := range fields {
		form[k] = v
	}
	a, err := e.sp.ParseXMLResponse(samlResponse(t, e.post(idpBase+action, form)), nil, e.sp.AcsURL)
	if err != nil {
		t.Fatalf("the SP refused the response: %v", err)
	}
	return a
}

func lastLog(t *testing.T, s *Server) LoggedResponse {
	t.Helper()
	l := s.Log()
	if len(l) == 0 {
		t.Fatal("the log is empty")
	}
	return l[len(l)-1]
}

func TestAPIPersonas(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	var list []fixtures.Persona
	wantJSON(t, e.api("GET", "/api/personas", ""), 200, &list)
	if len(list) != 2 || list[0].ID != "alice" || list[1].ID != "nogroups" {
		t.Fatalf("personas %+v", list)
	}

	carol := `{"id":"carol","nameID":"carol@example.com","firstName":"Carol","groups":["Ops","Sales, EMEA"]}`
	rec := e.api("POST", "/api/personas", carol)
	var got fixtures.Persona
	wantJSON(t, rec, 201, &got)
	if got.NameID != "carol@example.com" || rec.Header().Get("Location") != "/api/personas/carol" {
		t.Errorf("created %+v, Location %q", got, rec.Header().Get("Location"))
	}
	wantAPIError(t, e.api("POST", "/api/personas", carol), 409, "exists")
	if page := e.loginPage(t); !strings.Contains(page, `id="persona-carol"`) {
		t.Error("the login page does not list the new persona")
	}
	a := e.signIn(t, url.Values{"persona": {"carol"}})
	if a.Subject.NameID.Value != "carol@example.com" || !slices.Equal(attrValues(a, "groups"), []string{"Ops", "Sales, EMEA"}) {
		t.Errorf("persona login: %q %q", a.Subject.NameID.Value, attrValues(a, "groups"))
	}

	// PUT replaces (200) or creates (201); the path names the persona.
	wantJSON(t, e.api("PUT", "/api/personas/carol", `{"nameID":"carol2@example.com","groups":[]}`), 200, &got)
	wantJSON(t, e.api("GET", "/api/personas/carol", ""), 200, &got)
	if got.NameID != "carol2@example.com" || got.FirstName != "" || len(got.Groups) != 0 {
		t.Errorf("after PUT: %+v", got)
	}
	wantJSON(t, e.api("PUT", "/api/personas/dave", `{"nameID":"dave@example.com"}`), 201, &got)
	wantJSON(t, e.api("GET", "/api/personas", ""), 200, &list)
	if ids := []string{list[0].ID, list[1].ID, list[2].ID, list[3].ID}; len(list) != 4 || !slices.Equal(ids, []string{"alice", "nogroups", "carol", "dave"}) {
		t.Errorf("order after PUT: %+v", list)
	}

	if rec := e.api("DELETE", "/api/personas/carol", ""); rec.Code != 204 {
		t.Fatalf("DELETE: %d %s", rec.Code, rec.Body)
	}
	wantAPIError(t, e.api("DELETE", "/api/personas/carol", ""), 404, "no persona")
	wantAPIError(t, e.api("GET", "/api/personas/carol", ""), 404, "no persona")
	if page := e.loginPage(t); strings.Contains(page, `id="persona-carol"`) || !strings.Contains(page, `id="persona-dave"`) {
		t.Error("the login page does not follow the deletion")
	}
	action, form := parseLogin(t, e.loginPage(t))
	form.Set("persona", "carol")
	if rec := e.post(idpBase+action, form); rec.Code != 400 || !strings.Contains(rec.Body.String(), "Unknown persona carol") {
		t.Errorf("login as a deleted persona: %d", rec.Code)
	}
}

func TestAPIPersonasBadInput(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	for _, tc := range []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		want                     string
	}{
		{"bad JSON", "POST", "/api/personas", `{"id":`, nil, 400, "bad JSON"},
		{"not an object", "POST", "/api/personas", `[1]`, nil, 400, "bad JSON"},
		{"unknown field", "POST", "/api/personas", `{"id":"x","nameID":"x@e","colour":"red"}`, nil, 400, "colour"},
		{"two values", "POST", "/api/personas", `{"id":"x","nameID":"x@e"} {}`, nil, 400, "one JSON value"},
		{"empty body", "POST", "/api/personas", ``, []string{"Content-Type", "application/json"}, 400, "empty"},
		{"not JSON", "POST", "/api/personas", `id=x`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "JSON"},
		{"bad id", "POST", "/api/personas", `{"id":"<script>","nameID":"x@e"}`, nil, 400, "persona id"},
		{"no nameID", "POST", "/api/personas", `{"id":"x","nameID":"  "}`, nil, 400, "nameID"},
		{"blank group", "POST", "/api/personas", `{"id":"x","nameID":"x@e","groups":["a",""]}`, nil, 400, "blank"},
		{"oversized", "POST", "/api/personas", `{"id":"x","nameID":"` + strings.Repeat("a", maxAPIBody) + `"}`, nil, 413, "larger than"},
		{"id differs", "PUT", "/api/personas/alice", `{"id":"bob","nameID":"x@e"}`, nil, 400, "differs"},
		{"wrong method", "PATCH", "/api/personas/alice", `{}`, nil, 405, "PATCH"},
		{"unknown route", "GET", "/api/nothing", ``, nil, 404, "no API route"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantAPIError(t, e.api(tc.method, tc.path, tc.body, tc.headers...), tc.status, tc.want)
		})
	}
	if rec := e.api("PATCH", "/api/personas/alice", "{}"); rec.Header().Get("Allow") != "DELETE, GET, PUT" {
		t.Errorf("Allow %q", rec.Header().Get("Allow"))
	}
	var list []fixtures.Persona
	wantJSON(t, e.api("GET", "/api/personas", ""), 200, &list)
	if len(list) != 2 {
		t.Errorf("bad requests changed the personas: %+v", list)
	}
}

// TestAPIPersonasConcurrent changes personas while logins and pages read
// them; run with -race it checks the locking.
func TestAPIPersonasConcurrent(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	e.sp.AllowIDPInitiated = true
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 20 {
				id := fmt.Sprintf("p%d-%d", i, j)
				if rec := e.api("PUT", "/api/personas/"+id, `{"nameID":"`+id+`@example.com","groups":["G"]}`); rec.Code != 201 {
					t.Errorf("PUT %s: %d", id, rec.Code)
				}
				if rec := e.api("DELETE", "/api/personas/"+id, ""); rec.Code != 204 {
					t.Errorf("DELETE %s: %d", id, rec.Code)
				}
			}
		})
		wg.Go(func() {
			for range 10 {
				if rec := e.get(idpBase + "/"); rec.Code != 200 {
					t.Errorf("home: %d", rec.Code)
				}
				e.signIn(t, url.Values{"persona": {"alice"}})
			}
		})
	}
	wg.Wait()
}

func TestCrossOriginAPIRequestsAreRefused(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	body := `{"id":"x","nameID":"x@example.com"}`
	wantAPIError(t, e.api("POST", "/api/personas", body, "Sec-Fetch-Site", "cross-site"), 403, "cross-origin")
	wantAPIError(t, e.api("POST", "/api/personas", body, "Origin", "https://evil.example"), 403, "cross-origin")
	wantAPIError(t, e.api("DELETE", "/api/sps/"+url.PathEscape(testSPEntityID), "", "Sec-Fetch-Site", "same-site"), 403, "cross-origin")
	// Reads pass; the same origin and non-browser clients (no headers) pass.
	wantJSON(t, e.api("GET", "/api/personas", "", "Sec-Fetch-Site", "cross-site"), 200, nil)
	wantJSON(t, e.api("POST", "/api/personas", body, "Sec-Fetch-Site", "same-origin"), 201, nil)
	wantJSON(t, e.api("PUT", "/api/personas/y", body[:1]+body[10:], "Origin", idpBase), 201, nil)
	wantJSON(t, e.api("PUT", "/api/personas/z", body[:1]+body[10:]), 201, nil)
}

// spMetadata is the metadata XML of an SP with this entity ID and ACS.
func spMetadata(t *testing.T, entityID, acs string) string {
	t.Helper()
	b, err := xml.Marshal(synthesizeSP(entityID, acs))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAPIServiceProviders(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	var list []SPInfo
	wantJSON(t, e.api("GET", "/api/sps", ""), 200, &list)
	if len(list) != 1 || list[0].EntityID != testSPEntityID || !list[0].EncryptionKey || len(list[0].ACS) == 0 || list[0].ACS[0].Location != spACS {
		t.Fatalf("list %+v", list)
	}
	var one SPInfo
	wantJSON(t, e.api("GET", "/api/sps/"+url.PathEscape(testSPEntityID), ""), 200, &one)
	if one.EntityID != testSPEntityID || !strings.Contains(one.Metadata, "AssertionConsumerService") {
		t.Errorf("one SP by path: %+v", one)
	}
	wantJSON(t, e.api("GET", "/api/sps?entityID="+url.QueryEscape(testSPEntityID), ""), 200, &one)
	wantAPIError(t, e.api("GET", "/api/sps/"+url.PathEscape("https://nobody.test/md"), ""), 404, "nobody.test")

	// The body is the metadata itself...
	rec := e.api("POST", "/api/sps", spMetadata(t, "https://two.test/md", "https://two.test/acs"), "Content-Type", "application/samlmetadata+xml")
	wantJSON(t, rec, 201, &list)
	if len(list) != 1 || list[0].EntityID != "https://two.test/md" || list[0].EncryptionKey || rec.Header().Get("Location") != "/api/sps/https:%2F%2Ftwo.test%2Fmd" {
		t.Errorf("registered %+v at %q", list, rec.Header().Get("Location"))
	}
	// ... or JSON with the XML ...
	xmlJSON, _ := json.Marshal(spRegistration{XML: spMetadata(t, "https://three.test/md", "https://three.test/acs")})
	wantJSON(t, e.api("POST", "/api/sps", string(xmlJSON)), 201, &list)
	// ... or JSON with a URL the IdP fetches.
	mdServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/md" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, spMetadata(t, "https://four.test/md", "https://four.test/acs"))
	}))
	defer mdServer.Close()
	wantJSON(t, e.api("POST", "/api/sps", `{"url":"`+mdServer.URL+`/md"}`), 201, &list)
	if len(list) != 1 || list[0].EntityID != "https://four.test/md" {
		t.Errorf("from URL: %+v", list)
	}
	wantJSON(t, e.api("GET", "/api/sps", ""), 200, &list)
	if len(list) != 4 {
		t.Errorf("after three registrations: %+v", list)
	}
	if page := e.get(idpBase + "/").Body.String(); !strings.Contains(page, "https://four.test/md") {
		t.Error("the home page does not list an SP registered through the API")
	}

	if rec := e.api("DELETE", "/api/sps/"+url.PathEscape("https://two.test/md"), ""); rec.Code != 204 {
		t.Fatalf("DELETE: %d %s", rec.Code, rec.Body)
	}
	if rec := e.api("DELETE", "/api/sps?entityID="+url.QueryEscape("https://three.test/md"), ""); rec.Code != 204 {
		t.Fatalf("DELETE ?entityID=: %d %s", rec.Code, rec.Body)
	}
	wantAPIError(t, e.api("DELETE", "/api/sps/"+url.PathEscape("https://two.test/md"), ""), 404, "two.test")
	if e.idp.isRegistered("https://two.test/md") || !e.idp.isRegistered("https://four.test/md") {
		t.Error("deleted the wrong SP")
	}

	tooBig := "<EntityDescriptor>" + strings.Repeat(" ", maxMetadataSize) + "</EntityDescriptor>"
	for _, tc := range []struct {
		name, body, contentType string
		status                  int
		want                    string
	}{
		{"not XML", "hello", "application/xml", 400, "not XML metadata"},
		{"IdP metadata", e.get(idpBase + "/metadata").Body.String(), "application/xml", 400, "no SPSSODescriptor"},
		{"no ACS", regexp.MustCompile(`<AssertionConsumerService[^>]*>(</AssertionConsumerService>)?`).ReplaceAllString(spMetadata(t, "https://x.test/md", "https://x.test/acs"), ""), "application/xml", 400, "no AssertionConsumerService"},
		{"bad ACS URL", strings.Replace(spMetadata(t, "https://x.test/md", "https://x.test/acs"), `Location="https://x.test/acs"`, `Location=""`, 1), "application/xml", 400, "invalid url"},
		{"no SP inside", `<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"></EntitiesDescriptor>`, "application/xml", 400, "no entity"},
		{"wrong root", `<Foo/>`, "application/xml", 400, "not EntityDescriptor"},
		{"empty", "", "application/xml", 400, "empty"},
		{"too large", tooBig, "application/xml", 413, "larger than"},
		{"both", `{"url":"https://a.test/","xml":"<x/>"}`, "application/json", 400, "exactly one"},
		{"neither", `{}`, "application/json", 400, "exactly one"},
		{"file path", `{"url":"/etc/passwd"}`, "application/json", 400, "http://"},
		{"URL fails", `{"url":"` + mdServer.URL + `/missing"}`, "application/json", 400, "404"},
		{"unknown field", `{"href":"x"}`, "application/json", 400, "href"},
		{"bad JSON", `{"url":`, "application/json", 400, "bad JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantAPIError(t, e.api("POST", "/api/sps", tc.body, "Content-Type", tc.contentType), tc.status, tc.want)
		})
	}
	wantAPIError(t, e.api("DELETE", "/api/sps", ""), 400, "name the SP")
	wantAPIError(t, e.api("PUT", "/api/sps", "{}"), 405, "PUT")
	wantJSON(t, e.api("GET", "/api/sps", ""), 200, &list)
	if len(list) != 2 {
		t.Errorf("bad registrations changed the SPs: %+v", list)
	}
}
