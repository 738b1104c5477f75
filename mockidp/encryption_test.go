package mockidp

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestEncryptOption(t *testing.T) {
	for _, tc := range []struct {
		name          string
		opts          envOpts
		encrypt       string
		wantEncrypted bool
	}{
		{"auto with an encryption key", envOpts{register: true}, "", true},
		{"auto without a key", envOpts{register: true, plaintext: true}, "auto", false},
		{"never with an encryption key", envOpts{register: true}, "never", false},
		{"always with an encryption key", envOpts{register: true}, "always", true},
		// Only a signing certificate: encrypted to it; crewjam's SP
		// decrypts with the same key.
		{"always with a signing key only", envOpts{register: true, plaintext: true, signedReqs: true}, "always", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts)
			raw := e.initiateWith(t, url.Values{"encrypt": {tc.encrypt}})
			if got := strings.Contains(string(raw), "EncryptedAssertion"); got != tc.wantEncrypted {
				t.Fatalf("encrypted %v, want %v", got, tc.wantEncrypted)
			}
			a, err := e.sp.ParseXMLResponse(raw, nil, e.sp.AcsURL)
			if err != nil {
				t.Fatalf("the SP refused the response: %v", err)
			}
			if a.Subject.NameID.Value != "alice@example.com" {
				t.Errorf("NameID %q", a.Subject.NameID.Value)
			}
			l := e.idp.Log()
			want := tc.encrypt
			if want == "" {
				want = "auto"
			}
			if len(l) != 1 || l[0].Encrypted != tc.wantEncrypted || l[0].EncryptOption != want || l[0].SigningKey != "current" {
				t.Errorf("log %+v", l)
			}
		})
	}
}

func TestEncryptAlwaysWithoutKeyIsRefused(t *testing.T) {
	e := newEnv(t, envOpts{register: true, plaintext: true}) // no certificate at all
	e.sp.AllowIDPInitiated = true
	rec := e.get(idpBase + "/idp/initiate?" + url.Values{"sp": {testSPEntityID}}.Encode())
	action, form := parseLogin(t, rec.Body.String())
	form.Set("persona", "alice")
	form.Set("encrypt", "always")
	rec = e.post(idpBase+action, form)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "no certificate to encrypt") {
		t.Fatalf("status %d, want 400 with a message:\n%s", rec.Code, rec.Body)
	}
	if len(e.idp.Log()) != 0 {
		t.Error("a refused login was logged")
	}
	form.Set("encrypt", "sometimes")
	if rec = e.post(idpBase+action, form); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "Unknown encryption choice") {
		t.Fatalf("unknown choice: status %d", rec.Code)
	}
}

func TestLoginPageOffersEncryptAndSignKey(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	body := e.get(idpBase + "/idp/initiate?" + url.Values{"sp": {testSPEntityID}}.Encode()).Body.String()
	for _, want := range []string{`<select id="encrypt" name="encrypt">`, `<option value="never">`, `<option value="always">`, `<select id="signKey" name="signKey">`, `<option value="next">`} {
		if !strings.Contains(body, want) {
			t.Errorf("login page lacks %s", want)
		}
	}
}
