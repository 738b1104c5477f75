package mockidp

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hmpconform/hmpconform/fixtures"
)

// Control characters and invalid UTF-8 in identity values are refused
// wherever they come in, rather than signed as U+FFFD (another user).
func TestControlCharactersAreRefused(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	for _, body := range []string{
		`{"id": "c1", "nameID": "a\u0000b"}`,
		`{"id": "c2", "nameID": "c@example.com", "firstName": "C\u0001"}`,
		`{"id": "c3", "nameID": "c@example.com", "groups": ["Sales\u001b"]}`,
		`{"id": "c4", "nameID": "c@example.com", "email": "c\u007f@example.com"}`,
	} {
		wantAPIError(t, e.api("POST", "/api/personas", body), 400, "control character")
	}
	wantAPIError(t, e.api("PUT", "/api/personas/c5", `{"nameID": "a\tb"}`), 400, "control character")
	if _, ok := e.idp.personas.get("c1"); ok {
		t.Error("a refused persona was stored")
	}

	next := "/api/users/" + url.PathEscape("q@example.com") + "/next-login"
	wantAPIError(t, e.api("PUT", next, `{"firstName": "Q\u0000"}`), 400, "control character")
	wantAPIError(t, e.api("PUT", next, `{"groups": ["a\u0002"]}`), 400, "control character")
	wantAPIError(t, e.api("PUT", next, `{"groupAttribute": "g\u0000"}`), 400, "control character")
	wantAPIError(t, e.api("PUT", "/api/users/"+url.PathEscape("q\x01@example.com")+"/next-login", `{}`), 400, "control character")

	action, form := parseLogin(t, e.loginPage(t))
	for field, v := range map[string]string{
		"username":  "a\x00b",
		"firstName": "x\x01",
		"groups":    "ok\nbad\x1f",
		"lastName":  "\xff\xfe",
	} {
		f := url.Values{}
		for k, vs := range form {
			f[k] = vs
		}
		f.Set("username", "u@example.com")
		f.Set(field, v)
		rec := e.post(idpBase+action, f)
		if body := rec.Body.String(); rec.Code != http.StatusBadRequest || !(strings.Contains(body, "control character") || strings.Contains(body, "not valid UTF-8")) {
			t.Errorf("form %s=%q: status %d, want 400 with a message", field, v, rec.Code)
		}
	}
	if n := len(e.idp.Log()); n != 0 {
		t.Errorf("%d logins sent", n)
	}
	// Printable non-ASCII is fine.
	if a := e.signIn(t, url.Values{"username": {"zoë@example.com"}, "groups": {"Ventes, Île-de-France"}}); a.Subject.NameID.Value != "zoë@example.com" {
		t.Errorf("NameID %q", a.Subject.NameID.Value)
	}
}

// The groups delimiter goes into the assertion: a control character in it
// is refused on the form and in a queued login.
func TestGroupsDelimiterIsChecked(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	wantAPIError(t, e.api("PUT", queuePath("q@example.com"), `{"groupsMode":"joined","groupsDelimiter":"\u0000"}`), 400, "control character")
	action, form := parseLogin(t, e.loginPage(t))
	form.Set("persona", "alice")
	form.Set("groupsMode", "joined")
	form.Set("groupsDelimiter", "\x01")
	if rec := e.post(idpBase+action, form); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "groups delimiter contains the control character") {
		t.Errorf("form: status %d, want 400 with a message:\n%.2000s", rec.Code, rec.Body)
	}
	if n := len(e.idp.Log()); n != 0 {
		t.Errorf("%d logins sent", n)
	}
}

// U+FFFE and U+FFFF are valid UTF-8 but not XML characters: they would be
// sent as U+FFFD, another user. Refused wherever an identity value comes in.
func TestNonXMLCharactersAreRefused(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	const want = "which XML cannot carry"
	for _, body := range []string{
		`{"id": "x1", "nameID": "a\uFFFEb"}`,
		`{"id": "x2", "nameID": "x@example.com", "firstName": "X\uFFFF"}`,
		`{"id": "x3", "nameID": "x@example.com", "groups": ["Sales\uFFFE"]}`,
	} {
		wantAPIError(t, e.api("POST", "/api/personas", body), 400, want)
	}
	next := queuePath("q@example.com")
	wantAPIError(t, e.api("PUT", next, `{"lastName": "Q\uFFFF"}`), 400, want)
	wantAPIError(t, e.api("PUT", next, `{"groupAttribute": "g\uFFFE"}`), 400, want)
	wantAPIError(t, e.api("PUT", next, `{"groupsDelimiter": "\uFFFF"}`), 400, want)
	wantAPIError(t, e.api("PUT", queuePath("q\uFFFE@example.com"), `{}`), 400, want)

	action, form := parseLogin(t, e.loginPage(t))
	for _, tc := range []struct{ persona, field, v string }{
		{"", "username", "a\uFFFEb"},
		{"", "email", "x\uFFFF@example.com"},
		{"", "groups", "ok\nbad\uFFFE"},
		{"", "groupAttribute", "g\uFFFF"},
		{"alice", "groupAttribute", "g\uFFFE"},
	} {
		f := url.Values{}
		for k, vs := range form {
			f[k] = vs
		}
		f.Set("persona", tc.persona)
		f.Set("username", "u@example.com")
		f.Set(tc.field, tc.v)
		if rec := e.post(idpBase+action, f); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("form persona=%q %s=%q: status %d, want 400 with a message", tc.persona, tc.field, tc.v, rec.Code)
		}
	}
	if n := len(e.idp.Log()); n != 0 {
		t.Errorf("%d logins sent", n)
	}
	// Characters above U+FFFF are XML characters.
	if a := e.signIn(t, url.Values{"username": {"emoji\U0001F600@example.com"}}); a.Subject.NameID.Value != "emoji\U0001F600@example.com" {
		t.Errorf("NameID %q", a.Subject.NameID.Value)
	}
}

// encoding/json would turn invalid UTF-8 into U+FFFD before checkText
// sees it: the API refuses such a body.
func TestInvalidUTF8JSONBodyIsRefused(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	wantAPIError(t, e.api("POST", "/api/personas", "{\"id\":\"pu\",\"nameID\":\"x@e\",\"firstName\":\"a\xffb\"}"), 400, "not valid UTF-8")
	wantAPIError(t, e.api("PUT", "/api/personas/pu", "{\"nameID\":\"x\xc3@e\"}"), 400, "not valid UTF-8")
	wantAPIError(t, e.api("PUT", queuePath("q@example.com"), "{\"firstName\":\"\xfe\"}"), 400, "not valid UTF-8")
	if _, ok := e.idp.personas.get("pu"); ok {
		t.Error("a refused persona was stored")
	}
}

// Personas given to New get the scenario API's checks: a startup error
// naming the persona.
func TestConfigPersonasAreChecked(t *testing.T) {
	key, cert, err := LoadOrCreateKeyPair(t.TempDir(), time.Now(), "idp.mock.test")
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(idpBase)
	for _, tc := range []struct {
		p    fixtures.Persona
		want string
	}{
		{fixtures.Persona{ID: "ctl", NameID: "a\x00b"}, `persona "ctl": nameID contains the control character`},
		{fixtures.Persona{ID: "bad8", NameID: "x@e", FirstName: "a\xffb"}, `persona "bad8": firstName is not valid UTF-8`},
		{fixtures.Persona{ID: "nonxml", NameID: "x@e", Groups: []string{"G\uFFFE"}}, `persona "nonxml": a group name contains the character U+FFFE`},
		{fixtures.Persona{ID: "nonameid"}, `persona "nonameid": persona needs a nameID`},
	} {
		_, err := New(Config{BaseURL: base, Key: key, Certificate: cert, Personas: []fixtures.Persona{tc.p}, Logger: slog.New(slog.DiscardHandler)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.p.ID, err, tc.want)
		}
	}
	if _, err := New(Config{BaseURL: base, Key: key, Certificate: cert, Personas: testPersonas, Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Errorf("good personas: %v", err)
	}
}
