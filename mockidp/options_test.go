package mockidp

import (
	"net/url"
	"strings"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// initiateWith is an IdP-initiated login as alice with extra form fields;
// it returns the raw response XML.
func (e *env) initiateWith(t *testing.T, extra url.Values) []byte {
	t.Helper()
	e.sp.AllowIDPInitiated = true
	rec := e.get(idpBase + "/idp/initiate?" + url.Values{"sp": {testSPEntityID}}.Encode())
	action, form := parseLogin(t, rec.Body.String())
	form.Set("persona", "alice")
	for k, v := range extra {
		form[k] = v
	}
	return samlResponse(t, e.post(idpBase+action, form))
}

func sigMethods(t *testing.T, raw []byte) (response, assertion string) {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	if s := doc.Root().FindElement("./Signature/SignedInfo/SignatureMethod"); s != nil {
		response = s.SelectAttrValue("Algorithm", "")
	}
	if s := doc.Root().FindElement("./Assertion/Signature/SignedInfo/SignatureMethod"); s != nil {
		assertion = s.SelectAttrValue("Algorithm", "")
	}
	return
}

func TestSigningOptions(t *testing.T) {
	for _, tc := range []struct {
		signWhat, signAlg string
		resp, assertion   string
	}{
		{"", "", dsig.RSASHA256SignatureMethod, dsig.RSASHA256SignatureMethod},
		{"both", "sha512", dsig.RSASHA512SignatureMethod, dsig.RSASHA512SignatureMethod},
		{"response", "sha256", dsig.RSASHA256SignatureMethod, ""},
		{"assertion", "sha256", "", dsig.RSASHA256SignatureMethod},
		{"response", "sha512", dsig.RSASHA512SignatureMethod, ""},
		{"assertion", "sha512", "", dsig.RSASHA512SignatureMethod},
	} {
		t.Run(tc.signWhat+"-"+tc.signAlg, func(t *testing.T) {
			e := newEnv(t, envOpts{register: true, plaintext: true})
			raw := e.initiateWith(t, url.Values{"signWhat": {tc.signWhat}, "signAlg": {tc.signAlg}})
			r, a := sigMethods(t, raw)
			if r != tc.resp || a != tc.assertion {
				t.Errorf("response signature %q, assertion signature %q; want %q, %q", r, a, tc.resp, tc.assertion)
			}
			if _, err := e.sp.ParseXMLResponse(raw, nil, e.sp.AcsURL); err != nil {
				t.Errorf("the SP refused the response: %v", err)
			}
			if l := e.idp.Log(); len(l) != 1 || !strings.Contains(l[0].ResponseXML, "alice@example.com") {
				t.Errorf("log %+v", l)
			}
		})
	}
}

func TestSigningOptionsEncrypted(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	raw := e.initiateWith(t, url.Values{"signWhat": {"assertion"}, "signAlg": {"sha512"}})
	if !strings.Contains(string(raw), "EncryptedAssertion") {
		t.Fatal("assertion not encrypted")
	}
	a, err := e.sp.ParseXMLResponse(raw, nil, e.sp.AcsURL)
	if err != nil {
		t.Fatalf("the SP refused the response: %v", err)
	}
	if a.Subject.NameID.Value != "alice@example.com" {
		t.Errorf("NameID %q", a.Subject.NameID.Value)
	}
}

func TestNameIDAndGroupOptions(t *testing.T) {
	for _, f := range []string{"unspecified", "emailAddress", "persistent", "transient"} {
		t.Run(f, func(t *testing.T) {
			e := newEnv(t, envOpts{register: true, plaintext: true})
			raw := e.initiateWith(t, url.Values{"nameIDFormat": {f}})
			a, err := e.sp.ParseXMLResponse(raw, nil, e.sp.AcsURL)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Subject.NameID.Format; !strings.HasSuffix(got, ":"+f) {
				t.Errorf("NameID Format %q", got)
			}
		})
	}
	e := newEnv(t, envOpts{register: true, plaintext: true})
	raw := e.initiateWith(t, url.Values{"groupsMode": {"joined"}, "groupsDelimiter": {";"}, "groupNameFormat": {"uri"}})
	a, err := e.sp.ParseXMLResponse(raw, nil, e.sp.AcsURL)
	if err != nil {
		t.Fatal(err)
	}
	if got := attrValues(a, "groups"); len(got) != 1 || got[0] != "Engineering;Sales, EMEA" {
		t.Errorf("groups %q", got)
	}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			want := attrNameFormatBasic
			if at.Name == "groups" {
				want = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
			}
			if at.NameFormat != want {
				t.Errorf("%s NameFormat %q", at.Name, at.NameFormat)
			}
		}
	}
	// Defaults: multi-valued, comma kept inside a value.
	e = newEnv(t, envOpts{register: true, plaintext: true})
	a, err = e.sp.ParseXMLResponse(e.initiateWith(t, nil), nil, e.sp.AcsURL)
	if err != nil {
		t.Fatal(err)
	}
	if got := attrValues(a, "groups"); len(got) != 2 || a.Subject.NameID.Format != "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified" {
		t.Errorf("defaults: groups %q, format %q", got, a.Subject.NameID.Format)
	}
}

func TestBadOptions(t *testing.T) {
	e := newEnv(t, envOpts{register: true, plaintext: true})
	for _, bad := range []url.Values{{"nameIDFormat": {"x"}}, {"signAlg": {"sha1"}}, {"signWhat": {"none"}}, {"groupsMode": {"x"}}, {"groupNameFormat": {"x"}}} {
		rec := e.get(idpBase + "/idp/initiate?" + url.Values{"sp": {testSPEntityID}}.Encode())
		action, form := parseLogin(t, rec.Body.String())
		form.Set("persona", "alice")
		for k, v := range bad {
			form[k] = v
		}
		rec = e.post(idpBase+action, form)
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), `id="login-error"`) {
			t.Errorf("%v: %d", bad, rec.Code)
		}
	}
	e2 := newEnv(t, envOpts{register: true})
	rec := e2.get(idpBase + "/idp/initiate?" + url.Values{"sp": {testSPEntityID}}.Encode())
	action, form := parseLogin(t, rec.Body.String())
	form.Set("persona", "alice")
	form.Set("signWhat", "response")
	// Built, not refused: optioncheck_test.go checks the response.
	if rec = e2.post(idpBase+action, form); rec.Code != 200 {
		t.Errorf("response-only signing with encryption: %d", rec.Code)
	}
}
