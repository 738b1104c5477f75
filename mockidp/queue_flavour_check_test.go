package mockidp

import (
	"net/url"
	"testing"
)

// A queued login is checked with the options its login will use: the
// flavour (named, or the SP's) fills the blank options first, as at the
// login form. Checked without it, {"flavour":"keycloak"} looked like
// "sign both" at queue time and "sign the response only" at login time.
func TestQueuedLoginIsCheckedWithTheFlavourDefaults(t *testing.T) {
	e := newEnv(t, envOpts{register: true}) // the SP's metadata has an encryption key
	for _, tc := range []struct {
		name                        string
		opts                        loginOptions
		signAssertion, signResponse bool
	}{
		{"keycloak signs the response only", loginOptions{Flavour: "keycloak"}, false, true},
		{"entra signs the assertion only", loginOptions{Flavour: "entra"}, true, false},
		{"a queued signWhat wins over the flavour", loginOptions{Flavour: "keycloak", SignWhat: "both"}, true, true},
		{"no flavour: generic", loginOptions{}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			queued, msg := e.idp.queuedOptions(tc.opts, testSPEntityID)
			if msg != "" {
				t.Fatalf("refused: %s", msg)
			}
			if queued.SignAssertion != tc.signAssertion || queued.SignResponse != tc.signResponse {
				t.Errorf("queue-time options sign assertion %v, response %v; want %v, %v", queued.SignAssertion, queued.SignResponse, tc.signAssertion, tc.signResponse)
			}
			// The login resolves the same options (login.go resolve).
			f := loginForm{Options: tc.opts}
			f.Options.Flavour = e.idp.spFlavour(testSPEntityID, f.Options.Flavour)
			f, _, _ = e.idp.applyFlavour(f)
			atLogin, _ := f.Options.resolve()
			if queued != atLogin {
				t.Errorf("queue time %+v, login time %+v", queued, atLogin)
			}
		})
	}

	// End to end: accepted when queued, the Keycloak login to an
	// encrypting SP is sent (not refused at the form) and logged as
	// response-only signing.
	wantJSON(t, e.api("PUT", queuePath("kc@example.com")+"?sp="+url.QueryEscape(testSPEntityID), `{"flavour":"keycloak"}`), 201, nil)
	a := e.signIn(t, url.Values{"persona": {""}, "username": {"kc@example.com"}})
	if a.Subject.NameID.Value != "kc@example.com" {
		t.Errorf("NameID %q", a.Subject.NameID.Value)
	}
	if l := lastLog(t, e.idp); l.Options == nil || l.Options.Sign != "response" || l.Options.Source != "queue" {
		t.Errorf("logged options %+v", l.Options)
	}
}
