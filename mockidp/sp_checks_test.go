package mockidp

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crewjam/saml"
)

// badCertMetadata is the test SP's metadata with every certificate
// replaced by base64 that is not a certificate.
func (e *env) badCertMetadata(t *testing.T) *saml.EntityDescriptor {
	t.Helper()
	md := e.sp.Metadata()
	for i := range md.SPSSODescriptors {
		for j := range md.SPSSODescriptors[i].KeyDescriptors {
			kd := &md.SPSSODescriptors[i].KeyDescriptors[j]
			for k := range kd.KeyInfo.X509Data.X509Certificates {
				kd.KeyInfo.X509Data.X509Certificates[k].Data = "bm90IGEgY2VydA=="
			}
		}
	}
	return md
}

// noPostACSMetadata is the test SP's metadata with only an artifact ACS.
func (e *env) noPostACSMetadata() *saml.EntityDescriptor {
	md := e.sp.Metadata()
	md.SPSSODescriptors[0].AssertionConsumerServices = []saml.IndexedEndpoint{{Binding: saml.HTTPArtifactBinding, Location: spACS, Index: 1}}
	return md
}

func marshalMD(t *testing.T, md *saml.EntityDescriptor) string {
	t.Helper()
	b, err := xml.Marshal(md)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// putSP stores md as registered without checking it, as metadata
// registered before the checks existed would be.
func (e *env) putSP(md *saml.EntityDescriptor) {
	e.idp.mu.Lock()
	e.idp.sps[md.EntityID] = md
	e.idp.mu.Unlock()
}

func TestSPMetadataIsCheckedAtRegistration(t *testing.T) {
	e := newEnv(t, envOpts{})
	for _, tc := range []struct {
		name string
		md   string
		want string
	}{
		{"malformed certificate", marshalMD(t, e.badCertMetadata(t)), "is not an X.509 certificate"},
		{"no HTTP-POST ACS", marshalMD(t, e.noPostACSMetadata()), "no AssertionConsumerService with the HTTP-POST binding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantAPIError(t, e.api("POST", "/api/sps", tc.md, "Content-Type", "application/xml"), 400, tc.want)
			rec := e.postSPsForm("/sps", url.Values{"metadataXML": {tc.md}}, "Sec-Fetch-Site", "same-origin")
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("/sps page: status %d, want 400 with %q", rec.Code, tc.want)
			}
			// --sp-metadata at startup.
			path := filepath.Join(t.TempDir(), "sp.xml")
			if err := os.WriteFile(path, []byte(tc.md), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := e.idp.LoadSPMetadata(t.Context(), path, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadSPMetadata: %v, want %q", err, tc.want)
			}
			if ids := e.idp.serviceProviders(); len(ids) != 0 {
				t.Errorf("registered %q", ids)
			}
		})
	}
}

func TestUnusableSPCertificateRefusesLogin(t *testing.T) {
	for _, tc := range []struct {
		name string
		form url.Values
	}{
		{"default options", url.Values{}},
		{"encrypt always, response signed", url.Values{"encrypt": {"always"}, "signWhat": {"response"}}},
		{"encrypt auto, assertion signed", url.Values{"signWhat": {"assertion"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			e.putSP(e.badCertMetadata(t))
			rec := e.get(idpBase + "/idp/initiate?" + url.Values{"sp": {testSPEntityID}}.Encode())
			action, form := parseLogin(t, rec.Body.String())
			form.Set("persona", "alice")
			for k, v := range tc.form {
				form[k] = v
			}
			rec = e.post(idpBase+action, form)
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "cannot use") {
				t.Fatalf("status %d, want 400 saying the certificate cannot be used:\n%.2000s", rec.Code, rec.Body)
			}
			if len(e.idp.Log()) != 0 {
				t.Error("a refused login was logged")
			}
		})
	}
}

func TestIdPInitiatedWithoutPostACS(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.putSP(e.noPostACSMetadata())
	rec := e.get(idpBase + "/idp/initiate?" + url.Values{"sp": {testSPEntityID}}.Encode())
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "HTTP-POST only") {
		t.Fatalf("status %d, want 400 saying HTTP-POST only:\n%s", rec.Code, rec.Body)
	}
}

func TestUnknownACSMessage(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	e.sp.AcsURL = url.URL{Scheme: "https", Host: "sp.test", Path: "/elsewhere"}
	u, _ := e.redirectRequest("")
	rec := e.get(u)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "AssertionConsumerServiceURL/Index is not in the SP") || strings.Contains(rec.Body.String(), "file does not exist") {
		t.Fatalf("status %d:\n%s", rec.Code, rec.Body)
	}
}

func TestNonXMLMetadataMessage(t *testing.T) {
	e := newEnv(t, envOpts{})
	for _, body := range []string{"hello, world", `{"not": "xml"}`} {
		rec := e.api("POST", "/api/sps", body, "Content-Type", "text/plain")
		wantAPIError(t, rec, 400, "not XML metadata")
		if strings.Contains(rec.Body.String(), "EOF") {
			t.Errorf("%q: %s", body, rec.Body)
		}
	}
}
