package mockidp

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/crewjam/saml"
)

func TestLogEntryAPIAndDownloads(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	// An SP-initiated login, with options from the form.
	u, reqID := e.redirectRequest("")
	action, form := parseLogin(t, e.get(u).Body.String())
	form.Set("username", "logged@example.com")
	form.Set("groups", "G1\nG2")
	form.Set("signAlg", "sha512")
	form.Set("groupsMode", "joined")
	sent := samlResponse(t, e.post(idpBase+action, form))
	// An IdP-initiated one.
	e.signIn(t, url.Values{"persona": {"nogroups"}})

	var all []LoggedResponse
	wantJSON(t, e.api("GET", "/api/log", ""), 200, &all)
	if len(all) != 2 || all[0].ID == "" || all[0].ID == all[1].ID {
		t.Fatalf("log %+v", all)
	}
	var one LoggedResponse
	wantJSON(t, e.api("GET", "/api/log/"+all[0].ID, ""), 200, &one)
	if one.NameID != "logged@example.com" || one.InResponseTo != reqID || !strings.Contains(one.RequestXML, reqID) {
		t.Errorf("entry %+v", one)
	}
	if o := one.Options; o == nil || o.Source != "form" || o.GroupsMode != "joined" || o.GroupsDelimiter != "," || o.Sign != "both" ||
		!strings.HasSuffix(o.SignatureMethod, "rsa-sha512") || !strings.HasSuffix(o.NameIDFormat, ":unspecified") || !strings.HasSuffix(o.GroupNameFormat, ":basic") {
		t.Errorf("options %+v", one.Options)
	}
	wantAPIError(t, e.api("GET", "/api/log/999", ""), 404, "no log entry")

	rec := e.get(idpBase + "/log/" + one.ID + "/response.xml")
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), sent) || rec.Header().Get("Content-Type") != "application/xml" ||
		rec.Header().Get("Content-Disposition") != `attachment; filename="response-`+one.ID+`.xml"` {
		t.Errorf("response.xml: %d %q %q, same bytes as sent: %v", rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Content-Disposition"), bytes.Equal(rec.Body.Bytes(), sent))
	}
	rec = e.get(idpBase + "/log/" + one.ID + "/request.xml")
	var ar saml.AuthnRequest
	if rec.Code != 200 || xml.Unmarshal(rec.Body.Bytes(), &ar) != nil || ar.ID != reqID || !strings.HasPrefix(rec.Header().Get("Content-Disposition"), "attachment") {
		t.Errorf("request.xml: %d %s", rec.Code, rec.Body)
	}
	if rec := e.get(idpBase + "/log/" + all[1].ID + "/request.xml"); rec.Code != 404 || !strings.Contains(rec.Body.String(), "IdP-initiated") {
		t.Errorf("request.xml of an IdP-initiated login: %d", rec.Code)
	}
	if rec := e.get(idpBase + "/log/nope/response.xml"); rec.Code != 404 {
		t.Errorf("response.xml of no entry: %d", rec.Code)
	}

	rec = e.get(idpBase + "/log.json")
	var dl []LoggedResponse
	if rec.Code != 200 || rec.Header().Get("Content-Disposition") != `attachment; filename="mockidp-log.json"` {
		t.Errorf("log.json: %d %q", rec.Code, rec.Header().Get("Content-Disposition"))
	}
	wantJSON(t, rec, 200, &dl)
	if len(dl) != 2 || dl[0].SAMLResponse != base64.StdEncoding.EncodeToString(sent) {
		t.Errorf("download has %d entries", len(dl))
	}

	page := e.get(idpBase + "/log").Body.String()
	for _, want := range []string{
		`href="/log/` + one.ID + `/response.xml"`, `href="/log/` + one.ID + `/request.xml"`, `href="/api/log/` + one.ID + `"`, `href="/log.json"`,
		`class="login-options" data-source="form"`, `<span class="opt-groups-mode">joined</span>`, `rsa-sha512`, `class="request-xml"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the log page lacks %s", want)
		}
	}
	if strings.Contains(page, `href="/log/`+all[1].ID+`/request.xml"`) {
		t.Error("the log page links a request.xml for an IdP-initiated login")
	}
}

func TestTransientNameIDIsRandomPerLogin(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	// Injected randomness: the NameID is exactly what it supplies.
	e.idp.rand = bytes.NewReader(append(bytes.Repeat([]byte{0xab}, transientNameIDBytes), bytes.Repeat([]byte{0xcd}, transientNameIDBytes)...))
	var got []string
	for range 2 {
		a := e.signIn(t, url.Values{"persona": {""}, "username": {"t@example.com"}, "nameIDFormat": {"transient"}})
		if a.Subject.NameID.Format != string(saml.TransientNameIDFormat) {
			t.Errorf("format %q", a.Subject.NameID.Format)
		}
		got = append(got, a.Subject.NameID.Value)
		if l := lastLog(t, e.idp); l.User != "t@example.com" || l.NameID != a.Subject.NameID.Value {
			t.Errorf("log user %q NameID %q", l.User, l.NameID)
		}
	}
	want := []string{"_" + strings.Repeat("ab", transientNameIDBytes), "_" + strings.Repeat("cd", transientNameIDBytes)}
	if !slices.Equal(got, want) {
		t.Errorf("transient NameIDs %q, want %q", got, want)
	}
	if !strings.Contains(e.get(idpBase+"/log").Body.String(), `<td class="user">t@example.com</td>`) {
		t.Error("the log page does not say who signed in under the transient NameID")
	}

	// Other formats keep the username.
	a := e.signIn(t, url.Values{"persona": {""}, "username": {"t@example.com"}, "nameIDFormat": {"persistent"}})
	if a.Subject.NameID.Value != "t@example.com" {
		t.Errorf("persistent NameID %q", a.Subject.NameID.Value)
	}

	// The randomness failing is an error page, not a response or a panic.
	e.idp.rand = failingReader{}
	action, form := parseLogin(t, e.loginPage(t))
	form.Set("persona", "")
	form.Set("username", "t@example.com")
	form.Set("nameIDFormat", "transient")
	if rec := e.post(idpBase+action, form); rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "SAMLResponse") {
		t.Errorf("with failing randomness: %d", rec.Code)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestConfigRandIsUsed(t *testing.T) {
	r := bytes.NewReader(nil)
	e := newEnv(t, envOpts{})
	cfg := e.idp.cfg
	cfg.Rand = r
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.rand != r {
		t.Error("Config.Rand is not the Server's randomness")
	}
}

func TestMetadataAdvertisesEveryNameIDFormat(t *testing.T) {
	e := newEnv(t, envOpts{})
	var md saml.EntityDescriptor
	if err := xml.Unmarshal(e.get(idpBase+"/metadata").Body.Bytes(), &md); err != nil {
		t.Fatal(err)
	}
	got := md.IDPSSODescriptors[0].NameIDFormats
	want := []saml.NameIDFormat{saml.UnspecifiedNameIDFormat, saml.EmailAddressNameIDFormat, saml.PersistentNameIDFormat, saml.TransientNameIDFormat}
	if !slices.Equal(got, want) {
		t.Errorf("metadata NameIDFormats %q, want %q", got, want)
	}
}
