package mockidp

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Response-only signing cannot go with an encrypted assertion (crewjam
// signs the assertion before encrypting it): the person gets the login form
// back with a message, not a 500.
func TestResponseOnlySigningWithEncryptionIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    envOpts
		encrypt string
	}{
		{"always, signing key only", envOpts{register: true, plaintext: true, signedReqs: true}, "always"},
		{"always, encryption key", envOpts{register: true}, "always"},
		{"auto, encryption key", envOpts{register: true}, "auto"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts)
			e.sp.AllowIDPInitiated = true
			rec := e.get(idpBase + "/idp/initiate?" + url.Values{"sp": {testSPEntityID}}.Encode())
			action, form := parseLogin(t, rec.Body.String())
			form.Set("persona", "alice")
			form.Set("encrypt", tc.encrypt)
			form.Set("signWhat", "response")
			rec = e.post(idpBase+action, form)
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "response-only signing") || !strings.Contains(rec.Body.String(), `id="login"`) {
				t.Fatalf("status %d, want 400 with the login form and a message:\n%s", rec.Code, rec.Body)
			}
			if len(e.idp.Log()) != 0 {
				t.Error("a refused login was logged")
			}
		})
	}
	// Without encryption, response-only signing still works.
	e := newEnv(t, envOpts{register: true})
	raw := e.initiateWith(t, url.Values{"encrypt": {"never"}, "signWhat": {"response"}})
	if strings.Contains(string(raw), "EncryptedAssertion") {
		t.Fatal("encrypted despite encrypt=never")
	}
	if _, err := e.sp.ParseXMLResponse(raw, nil, e.sp.AcsURL); err != nil {
		t.Fatalf("response-only signing without encryption refused: %v", err)
	}
}
