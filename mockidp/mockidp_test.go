package mockidp

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/hmpconform/hmpconform/fixtures"
)

const (
	idpBase        = "https://idp.mock.test:8443"
	testSPEntityID = "https://sp.test/saml/metadata"
	spACS          = "https://sp.test/saml/acs"
)

var testPersonas = []fixtures.Persona{
	{ID: "alice", NameID: "alice@example.com", FirstName: "Alice", LastName: "Liddell", Email: "alice@example.com", ShortName: "alice", Groups: []string{"Engineering", "Sales, EMEA"}},
	{ID: "nogroups", NameID: "ng@example.com", FirstName: "No", LastName: "Groups"},
}

type env struct {
	t   *testing.T
	idp *Server
	h   http.Handler
	sp  *saml.ServiceProvider
	now func() time.Time
}

type envOpts struct {
	now        func() time.Time
	trustAny   bool
	register   bool
	signedReqs bool
	plaintext  bool // register the SP without its encryption key
	groupAttr  string
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	now := o.now
	if now == nil {
		now = time.Now
	}
	key, cert, err := LoadOrCreateKeyPair(t.TempDir(), now(), "idp.mock.test")
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(idpBase)
	s, err := New(Config{
		BaseURL: base, Key: key, Certificate: cert, Personas: testPersonas,
		GroupAttribute: o.groupAttr, Now: now, TrustAnySP: o.trustAny,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	spKey, spCert, err := LoadOrCreateKeyPair(t.TempDir(), now(), "sp.test")
	if err != nil {
		t.Fatal(err)
	}
	sp := newSP(t, s, spKey, spCert, now)
	if o.signedReqs {
		sp.SignatureMethod = dsig.RSASHA256SignatureMethod
	}
	if o.register {
		md := sp.Metadata()
		if o.plaintext {
			for i := range md.SPSSODescriptors {
				md.SPSSODescriptors[i].KeyDescriptors = slices.DeleteFunc(md.SPSSODescriptors[i].KeyDescriptors, func(k saml.KeyDescriptor) bool { return k.Use == "encryption" })
			}
		}
		b, err := xml.Marshal(md)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RegisterSPMetadataXML(b); err != nil {
			t.Fatal(err)
		}
	}
	return &env{t: t, idp: s, h: s.Handler(), sp: sp, now: now}
}

func newSP(t *testing.T, s *Server, key *rsa.PrivateKey, cert *x509.Certificate, now func() time.Time) *saml.ServiceProvider {
	t.Helper()
	// The SP learns about the IdP from the metadata it serves.
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, s.MetadataURL(), nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metadata: %d", rec.Code)
	}
	var md saml.EntityDescriptor
	if err := xml.Unmarshal(rec.Body.Bytes(), &md); err != nil {
		t.Fatalf("IdP metadata: %v", err)
	}
	if md.EntityID != s.EntityID() || s.EntityID() != idpBase+"/metadata" {
		t.Fatalf("entity ID %q, metadata URL %q", md.EntityID, s.MetadataURL())
	}
	metaURL, _ := url.Parse(testSPEntityID)
	acsURL, _ := url.Parse(spACS)
	return &saml.ServiceProvider{
		EntityID:    testSPEntityID,
		Key:         key,
		Certificate: cert,
		MetadataURL: *metaURL,
		AcsURL:      *acsURL,
		IDPMetadata: &md,
		Clock:       newDsigClock(now),
	}
}

func (e *env) do(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

func (e *env) get(u string) *httptest.ResponseRecorder {
	return e.do(httptest.NewRequest(http.MethodGet, u, nil))
}

func (e *env) post(u string, form url.Values) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.do(req)
}

// redirectRequest makes an HTTP-Redirect AuthnRequest; it returns the URL
// and the request ID.
func (e *env) redirectRequest(relayState string) (string, string) {
	e.t.Helper()
	req, err := e.sp.MakeAuthenticationRequest(e.sp.GetSSOBindingLocation(saml.HTTPRedirectBinding), saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		e.t.Fatal(err)
	}
	u, err := req.Redirect(relayState, e.sp)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.String(), req.ID
}

var (
	formRe   = regexp.MustCompile(`<form id="login" method="post" action="([^"]*)">`)
	hiddenRe = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	samlRe   = regexp.MustCompile(`<input type="hidden" name="SAMLResponse" value="([^"]*)"`)
)

// loginForm returns the action and hidden fields of the login page.
func parseLogin(t *testing.T, body string) (string, url.Values) {
	t.Helper()
	m := formRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no login form in:\n%s", body)
	}
	v := url.Values{}
	for _, h := range hiddenRe.FindAllStringSubmatch(body, -1) {
		v.Add(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
	}
	return html.UnescapeString(m[1]), v
}

func samlResponse(t *testing.T, rec *httptest.ResponseRecorder) []byte {
	t.Helper()
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, `id="SAMLResponseForm"`) {
		t.Fatalf("expected the SAMLResponse form, got %d:\n%s", rec.Code, body)
	}
	m := samlRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no SAMLResponse in %s", body)
	}
	b, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func attrValues(a *saml.Assertion, name string) []string {
	var out []string
	n := 0
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			if at.Name == name {
				n++
				for _, v := range at.Values {
					out = append(out, v.Value)
				}
			}
		}
	}
	if n > 1 {
		return append(out, "DUPLICATE-ATTRIBUTE")
	}
	return out
}

func attrNames(a *saml.Assertion) []string {
	var out []string
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			out = append(out, at.Name)
		}
	}
	return out
}

func TestSPInitiatedRedirectLogin(t *testing.T) {
	fixed := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
	e := newEnv(t, envOpts{register: true, plaintext: true, now: func() time.Time { return fixed }})

	u, reqID := e.redirectRequest("relay-42")
	rec := e.get(u)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /sso: %d %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`<form id="login" method="post"`, `name="mockidp_login" value="1"`,
		`id="username"`, `id="firstName"`, `id="lastName"`, `id="email"`, `id="shortName"`,
		`<textarea id="groups"`, `id="groupAttribute" name="groupAttribute" value="groups"`,
		`<button type="submit" id="signin">`,
		`<button type="submit" name="persona" value="alice" class="persona" id="persona-alice">`,
		`class="persona-edit" data-persona="alice"`,
		`<script type="application/json" id="personas">`,
		testSPEntityID, reqID,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("login page lacks %s", want)
		}
	}
	if strings.Contains(body, `id="trust-any-sp"`) {
		t.Error("trust-any-sp banner shown without TrustAnySP")
	}
	// The persona JSON parses.
	js := regexp.MustCompile(`(?s)<script type="application/json" id="personas">(.*?)</script>`).FindStringSubmatch(body)
	var ps []fixtures.Persona
	if js == nil || json.Unmarshal([]byte(js[1]), &ps) != nil || len(ps) != 2 || ps[0].Groups[1] != "Sales, EMEA" {
		t.Errorf("personas JSON: %v", js)
	}

	action, form := parseLogin(t, body)
	if action != "/sso" {
		t.Errorf("action %q", action)
	}
	form.Set("username", "jdoe@example.com")
	form.Set("firstName", "Jane")
	form.Set("lastName", "Doe")
	form.Set("email", "")
	form.Set("shortName", "jdoe")
	form.Set("groups", "Engineering\r\nENGINEERING\r\n\r\n  \r\nSales\r\n")
	form.Set("groupAttribute", "memberOf")
	rec = e.post(idpBase+action, form)
	raw := samlResponse(t, rec)
	if !strings.Contains(rec.Body.String(), `name="RelayState" value="relay-42"`) {
		t.Errorf("RelayState not echoed")
	}

	a, err := e.sp.ParseXMLResponse(raw, []string{reqID}, e.sp.AcsURL)
	if err != nil {
		t.Fatalf("SP rejects the response: %v", err)
	}
	if got := a.Subject.NameID.Value; got != "jdoe@example.com" {
		t.Errorf("NameID %q", got)
	}
	if got := a.Subject.NameID.Format; got != string(saml.UnspecifiedNameIDFormat) {
		t.Errorf("NameID format %q", got)
	}
	if got := attrValues(a, "memberOf"); !slices.Equal(got, []string{"Engineering", "ENGINEERING", "Sales"}) {
		t.Errorf("memberOf %q", got)
	}
	if got := attrValues(a, "firstName"); !slices.Equal(got, []string{"Jane"}) {
		t.Errorf("firstName %q", got)
	}
	if got := attrValues(a, "shortName"); !slices.Equal(got, []string{"jdoe"}) {
		t.Errorf("shortName %q", got)
	}
	if names := attrNames(a); !slices.Equal(names, []string{"firstName", "lastName", "shortName", "memberOf"}) {
		t.Errorf("attribute names %q (email is empty, so omitted; nothing else)", names)
	}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			if at.NameFormat != attrNameFormatBasic {
				t.Errorf("%s NameFormat %q", at.Name, at.NameFormat)
			}
		}
	}

	// Fixed clock: the timestamps are the injected time.
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	resp := doc.Root()
	want := fixed.Format(time.RFC3339)
	if got := resp.SelectAttrValue("IssueInstant", ""); !strings.HasPrefix(got, strings.TrimSuffix(want, "Z")) {
		t.Errorf("Response IssueInstant %q, want %s", got, want)
	}
	if !a.IssueInstant.Equal(fixed) {
		t.Errorf("Assertion IssueInstant %s, want %s", a.IssueInstant, fixed)
	}
	if got := resp.SelectAttrValue("InResponseTo", ""); got != reqID {
		t.Errorf("InResponseTo %q", got)
	}
	// Response and assertion are both signed with RSA-SHA256.
	sigs := 0
	for _, sm := range doc.FindElements("//SignatureMethod") {
		sigs++
		if alg := sm.SelectAttrValue("Algorithm", ""); alg != dsig.RSASHA256SignatureMethod {
			t.Errorf("signature method %q", alg)
		}
	}
	if sigs != 2 {
		t.Errorf("%d signatures, want 2", sigs)
	}

	// The response log.
	log := e.idp.Log()
	if len(log) != 1 {
		t.Fatalf("log has %d entries", len(log))
	}
	l := log[0]
	if l.SP != testSPEntityID || l.NameID != "jdoe@example.com" || l.InResponseTo != reqID || !l.Time.Equal(fixed) ||
		l.GroupAttribute != "memberOf" || !slices.Equal(l.Groups, []string{"Engineering", "ENGINEERING", "Sales"}) ||
		l.Status != saml.StatusSuccess || !strings.Contains(l.ResponseXML, "jdoe@example.com") {
		t.Errorf("log entry %+v", l)
	}
	rec = e.get(idpBase + "/api/log")
	var api []LoggedResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &api); err != nil || len(api) != 1 || api[0].NameID != "jdoe@example.com" {
		t.Errorf("/api/log: %v %s", err, rec.Body)
	}
	rec = e.get(idpBase + "/log")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "jdoe@example.com") || !strings.Contains(rec.Body.String(), "&lt;samlp:Response") {
		t.Errorf("/log: %d %s", rec.Code, rec.Body)
	}
}

func TestSignedRedirectRequestSurvivesLoginForm(t *testing.T) {
	e := newEnv(t, envOpts{register: true, signedReqs: true})
	u, reqID := e.redirectRequest("")
	if !strings.Contains(u, "Signature=") {
		t.Fatal("request is not signed")
	}
	rec := e.get(u)
	action, form := parseLogin(t, rec.Body.String())
	form.Set("persona", "alice")
	rec = e.post(idpBase+action, form)
	a, err := e.sp.ParseXMLResponse(samlResponse(t, rec), []string{reqID}, e.sp.AcsURL)
	if err != nil {
		t.Fatal(err)
	}
	if a.Subject.NameID.Value != "alice@example.com" {
		t.Errorf("NameID %q", a.Subject.NameID.Value)
	}
}

func TestPersonaOneClick(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	u, reqID := e.redirectRequest("")
	action, form := parseLogin(t, e.get(u).Body.String())
	form.Set("persona", "alice")
	form.Set("username", "ignored@example.com") // the persona wins
	form.Set("groupAttribute", "groups")
	a, err := e.sp.ParseXMLResponse(samlResponse(t, e.post(idpBase+action, form)), []string{reqID}, e.sp.AcsURL)
	if err != nil {
		t.Fatal(err)
	}
	if a.Subject.NameID.Value != "alice@example.com" {
		t.Errorf("NameID %q", a.Subject.NameID.Value)
	}
	if got := attrValues(a, "groups"); !slices.Equal(got, []string{"Engineering", "Sales, EMEA"}) {
		t.Errorf("groups %q", got)
	}
	if got := attrValues(a, "email"); !slices.Equal(got, []string{"alice@example.com"}) {
		t.Errorf("email %q", got)
	}
	if l := e.idp.Log()[0]; l.Persona != "alice" || !l.Encrypted || !strings.Contains(l.AssertionXML, "alice@example.com") || strings.Contains(l.ResponseXML, "alice@example.com") {
		t.Errorf("log entry %+v", l)
	}

	// A persona without groups: no group attribute at all.
	u, reqID = e.redirectRequest("")
	action, form = parseLogin(t, e.get(u).Body.String())
	form.Set("persona", "nogroups")
	a, err = e.sp.ParseXMLResponse(samlResponse(t, e.post(idpBase+action, form)), []string{reqID}, e.sp.AcsURL)
	if err != nil {
		t.Fatal(err)
	}
	if names := attrNames(a); !slices.Equal(names, []string{"firstName", "lastName"}) {
		t.Errorf("attributes %q", names)
	}
}

func TestPostBinding(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	req, err := e.sp.MakeAuthenticationRequest(e.sp.GetSSOBindingLocation(saml.HTTPPostBinding), saml.HTTPPostBinding, saml.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(req.Element())
	x, _ := doc.WriteToBytes()
	rec := e.post(idpBase+"/sso", url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(x)}, "RelayState": {"rs"}})
	action, form := parseLogin(t, rec.Body.String())
	if form.Get("SAMLRequest") == "" || form.Get("RelayState") != "rs" {
		t.Fatalf("hidden fields %v", form)
	}
	form.Set("username", "post@example.com")
	a, err := e.sp.ParseXMLResponse(samlResponse(t, e.post(idpBase+action, form)), []string{req.ID}, e.sp.AcsURL)
	if err != nil {
		t.Fatal(err)
	}
	if a.Subject.NameID.Value != "post@example.com" || len(attrNames(a)) != 0 {
		t.Errorf("NameID %q attributes %q", a.Subject.NameID.Value, attrNames(a))
	}
}

func TestIdPInitiated(t *testing.T) {
	e := newEnv(t, envOpts{register: true, plaintext: true, groupAttr: "memberOf"})
	e.sp.AllowIDPInitiated = true

	// The home page links to it.
	home := e.get(idpBase + "/").Body.String()
	link := "/idp/initiate?" + url.Values{"sp": {testSPEntityID}}.Encode()
	if !strings.Contains(home, html.EscapeString(link)) {
		t.Errorf("home page lacks %s:\n%s", link, home)
	}

	rec := e.get(idpBase + link + "&RelayState=%2Fdashboard")
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	if strings.Contains(body, `id="request-id"`) || !strings.Contains(body, `value="memberOf"`) {
		t.Errorf("login page: %s", body)
	}
	action, form := parseLogin(t, body)
	if action != "/idp/initiate" || form.Get("sp") != testSPEntityID || form.Get("RelayState") != "/dashboard" {
		t.Fatalf("form %q %v", action, form)
	}
	form.Set("persona", "alice")
	rec = e.post(idpBase+action, form)
	raw := samlResponse(t, rec)
	a, err := e.sp.ParseXMLResponse(raw, nil, e.sp.AcsURL)
	if err != nil {
		t.Fatal(err)
	}
	if got := attrValues(a, "memberOf"); len(got) != 2 {
		t.Errorf("memberOf %q", got)
	}
	doc := etree.NewDocument()
	_ = doc.ReadFromBytes(raw)
	if v := doc.Root().SelectAttr("InResponseTo"); v != nil {
		t.Errorf("IdP-initiated response has InResponseTo %q", v.Value)
	}
	if scd := doc.FindElement("//SubjectConfirmationData"); scd == nil || scd.SelectAttr("InResponseTo") != nil {
		t.Errorf("SubjectConfirmationData carries InResponseTo")
	}
	if l := e.idp.Log(); len(l) != 1 || l[0].InResponseTo != "" || l[0].RelayState != "/dashboard" {
		t.Errorf("log %+v", l)
	}
	if !strings.Contains(rec.Body.String(), `name="RelayState" value="/dashboard"`) {
		t.Error("RelayState not sent")
	}
}

func TestErrors(t *testing.T) {
	e := newEnv(t, envOpts{register: false})
	u, _ := e.redirectRequest("")

	if rec := e.get(u); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `id="error-status"`) {
		t.Errorf("unknown SP: %d %s", rec.Code, rec.Body)
	}
	if rec := e.get(idpBase + "/idp/initiate?sp=" + url.QueryEscape(testSPEntityID)); rec.Code != http.StatusNotFound {
		t.Errorf("unknown SP, IdP-initiated: %d", rec.Code)
	}
	if rec := e.get(idpBase + "/idp/initiate"); rec.Code != http.StatusBadRequest {
		t.Errorf("no sp: %d", rec.Code)
	}
	if rec := e.get(idpBase + "/sso?SAMLRequest=%21%21notbase64"); rec.Code != http.StatusBadRequest {
		t.Errorf("malformed redirect: %d", rec.Code)
	}
	deflatedGarbage := base64.StdEncoding.EncodeToString([]byte("not deflate"))
	if rec := e.get(idpBase + "/sso?SAMLRequest=" + url.QueryEscape(deflatedGarbage)); rec.Code != http.StatusBadRequest {
		t.Errorf("not deflated: %d", rec.Code)
	}
	if rec := e.post(idpBase+"/sso", url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString([]byte("<nope"))}}); rec.Code != http.StatusBadRequest {
		t.Errorf("malformed POST: %d", rec.Code)
	}
	if rec := e.get(idpBase + "/sso"); rec.Code != http.StatusBadRequest {
		t.Errorf("no SAMLRequest: %d", rec.Code)
	}
	if rec := e.do(httptest.NewRequest(http.MethodPut, idpBase+"/sso", nil)); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %d", rec.Code)
	}
	if len(e.idp.Log()) != 0 {
		t.Error("errors were logged as responses")
	}
}

func TestEmptyUsername(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	u, reqID := e.redirectRequest("")
	action, form := parseLogin(t, e.get(u).Body.String())
	form.Set("username", "  ")
	form.Set("firstName", "Kept")
	form.Set("groupAttribute", "")
	rec := e.post(idpBase+action, form)
	body := rec.Body.String()
	if rec.Code != http.StatusBadRequest || !strings.Contains(body, `<p id="login-error"`) {
		t.Fatalf("%d %s", rec.Code, body)
	}
	if !strings.Contains(body, `value="Kept"`) || !strings.Contains(body, `id="groupAttribute" name="groupAttribute" value="groups"`) {
		t.Error("form values not kept")
	}
	// The re-rendered form still completes the same flow.
	action, form = parseLogin(t, body)
	form.Set("username", "later@example.com")
	if _, err := e.sp.ParseXMLResponse(samlResponse(t, e.post(idpBase+action, form)), []string{reqID}, e.sp.AcsURL); err != nil {
		t.Fatal(err)
	}

	// Unknown persona.
	u, _ = e.redirectRequest("")
	action, form = parseLogin(t, e.get(u).Body.String())
	form.Set("persona", "mallory")
	if rec := e.post(idpBase+action, form); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `id="login-error"`) {
		t.Errorf("unknown persona: %d", rec.Code)
	}
}

func TestTrustAnySP(t *testing.T) {
	e := newEnv(t, envOpts{trustAny: true})
	u, reqID := e.redirectRequest("")
	rec := e.get(u)
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, `id="trust-any-sp"`) || !strings.Contains(body, "is not registered") {
		t.Fatalf("%d %s", rec.Code, body)
	}
	action, form := parseLogin(t, body)
	form.Set("username", "dev@example.com")
	if _, err := e.sp.ParseXMLResponse(samlResponse(t, e.post(idpBase+action, form)), []string{reqID}, e.sp.AcsURL); err != nil {
		t.Fatal(err)
	}
	// Still no IdP-initiated login to an unknown SP: there is no ACS URL.
	if rec := e.get(idpBase + "/idp/initiate?sp=" + url.QueryEscape(testSPEntityID)); rec.Code != http.StatusNotFound {
		t.Errorf("IdP-initiated: %d", rec.Code)
	}
}

func TestMiscRoutes(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	if rec := e.get(idpBase + "/healthz"); rec.Code != http.StatusOK || rec.Body.String() != "ok" {
		t.Errorf("healthz %d %q", rec.Code, rec.Body)
	}
	if rec := e.get(idpBase + "/nope"); rec.Code != http.StatusNotFound {
		t.Errorf("unknown route %d", rec.Code)
	}
	if !strings.Contains(e.idp.CertificatePEM(), "BEGIN CERTIFICATE") || e.idp.SSOURL() != idpBase+"/sso" {
		t.Error("accessors")
	}
	if err := e.idp.RegisterSPMetadataXML([]byte("<nope/>")); err == nil {
		t.Error("bad metadata accepted")
	}
}

func TestLogIsBounded(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	r := httptest.NewRequest(http.MethodGet, idpBase+"/sso", nil)
	for i := range logCapacity + 5 {
		e.idp.record(&saml.IdpAuthnRequest{HTTPRequest: r, RelayState: string(rune('a' + i%26))})
	}
	l := e.idp.Log()
	if len(l) != logCapacity || l[len(l)-1].RelayState != string(rune('a'+(logCapacity+4)%26)) || l[0].RelayState != string(rune('a'+5%26)) {
		t.Errorf("len %d first %q last %q", len(l), l[0].RelayState, l[len(l)-1].RelayState)
	}
}

func TestSplitGroups(t *testing.T) {
	got := splitGroups("A, B\r\n\r\n   \nC\n")
	if !slices.Equal(got, []string{"A, B", "C"}) {
		t.Errorf("%q", got)
	}
	if splitGroups("") != nil {
		t.Error("empty")
	}
}

func TestKeyPairPersistence(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	now := time.Now()
	k1, c1, err := LoadOrCreateKeyPair(dir, now, "idp")
	if err != nil {
		t.Fatal(err)
	}
	k2, c2, err := LoadOrCreateKeyPair(dir, now.Add(time.Hour), "idp")
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Equal(k2) || !bytes.Equal(c1.Raw, c2.Raw) {
		t.Error("second call made a new key pair")
	}
	if k1.N.BitLen() != 2048 || c1.NotAfter.Sub(c1.NotBefore) < 10*365*24*time.Hour {
		t.Errorf("key %d bits, cert %s–%s", k1.N.BitLen(), c1.NotBefore, c1.NotAfter)
	}
	fi, err := os.Stat(filepath.Join(dir, "idp-key.pem"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "idp-cert.pem")); err != nil {
		t.Error(err)
	}

	tc1, err := LoadOrCreateTLSCertificate(dir, now, []string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	tc2, err := LoadOrCreateTLSCertificate(dir, now, []string{"localhost"})
	if err != nil || !bytes.Equal(tc1.Certificate[0], tc2.Certificate[0]) {
		t.Errorf("TLS cert not reused: %v", err)
	}
	tc3, err := LoadOrCreateTLSCertificate(dir, now, []string{"other.test"})
	if err != nil || bytes.Equal(tc1.Certificate[0], tc3.Certificate[0]) {
		t.Errorf("TLS cert not replaced for a new host: %v", err)
	}
}

func TestBundledPersonas(t *testing.T) {
	ps, err := fixtures.Personas()
	if err != nil {
		t.Skip(err)
	}
	key, cert, err := LoadOrCreateKeyPair(t.TempDir(), time.Now(), "idp")
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(idpBase)
	if _, err := New(Config{BaseURL: base, Key: key, Certificate: cert, Personas: ps}); err != nil {
		t.Fatal(err)
	}
}

func TestLoadSPMetadata(t *testing.T) {
	e := newEnv(t, envOpts{})
	b, err := xml.Marshal(e.sp.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sp.xml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.idp.LoadSPMetadata(t.Context(), path, nil); err != nil {
		t.Fatal(err)
	}
	if !e.idp.isRegistered(testSPEntityID) {
		t.Error("not registered from file")
	}

	calls := 0
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls++
		if calls == 1 {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(bytes.Replace(b, []byte(testSPEntityID), []byte("https://other.test/md"), 1))
	}))
	defer ts.Close()
	if !IsMetadataURL(ts.URL) {
		t.Fatal("IsMetadataURL")
	}
	if err := e.idp.LoadSPMetadataWithRetry(t.Context(), ts.URL, ts.Client()); err != nil {
		t.Fatal(err)
	}
	if calls != 2 || !e.idp.isRegistered("https://other.test/md") {
		t.Errorf("calls %d, registered %v", calls, e.idp.serviceProviders())
	}
}
