package mockidp

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func queuePath(nameID string) string { return "/api/users/" + url.PathEscape(nameID) + "/next-login" }

func TestQueuedLoginsAreKeptPerUserAndConsumedOnce(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	var q QueuedLogin
	wantJSON(t, e.api("PUT", queuePath("u1@example.com"), `{"firstName":"Queued","groups":["One","Sales, EMEA"]}`), 201, &q)
	if q.NameID != "u1@example.com" || q.SP != "" || !q.ExpiresAt.Equal(q.QueuedAt.Add(queueTTL)) || *q.Login.FirstName != "Queued" {
		t.Errorf("queued %+v", q)
	}
	wantJSON(t, e.api("POST", queuePath("u2@example.com"), `{"groups":["Two"],"groupAttribute":"memberOf"}`), 201, nil)
	wantJSON(t, e.api("GET", queuePath("U1@Example.com"), ""), 200, &q) // the match ignores case
	if !slices.Equal(q.Login.Groups, []string{"One", "Sales, EMEA"}) {
		t.Errorf("GET %+v", q)
	}

	// u2 signs in first (typed in another case): u2's login, not u1's.
	a := e.signIn(t, url.Values{"persona": {""}, "username": {"U2@example.com"}, "firstName": {"Typed"}, "groups": {"Typed group"}})
	if a.Subject.NameID.Value != "U2@example.com" || !slices.Equal(attrValues(a, "memberOf"), []string{"Two"}) || attrValues(a, "groups") != nil {
		t.Errorf("u2 got NameID %q, memberOf %q, groups %q", a.Subject.NameID.Value, attrValues(a, "memberOf"), attrValues(a, "groups"))
	}
	if got := attrValues(a, "firstName"); !slices.Equal(got, []string{"Typed"}) {
		t.Errorf("a field the queue does not set keeps the form's value: firstName %q", got)
	}
	if l := lastLog(t, e.idp); l.Options == nil || l.Options.Source != "queue" || l.User != "U2@example.com" {
		t.Errorf("log %+v", l)
	}
	a = e.signIn(t, url.Values{"persona": {""}, "username": {"u1@example.com"}, "firstName": {"Typed"}})
	if !slices.Equal(attrValues(a, "groups"), []string{"One", "Sales, EMEA"}) || !slices.Equal(attrValues(a, "firstName"), []string{"Queued"}) {
		t.Errorf("u1 got groups %q firstName %q", attrValues(a, "groups"), attrValues(a, "firstName"))
	}
	// Consumed: the next login of u1 is the form's.
	wantAPIError(t, e.api("GET", queuePath("u1@example.com"), ""), 404, "no login is queued")
	a = e.signIn(t, url.Values{"persona": {""}, "username": {"u1@example.com"}, "groups": {"Typed group"}})
	if !slices.Equal(attrValues(a, "groups"), []string{"Typed group"}) {
		t.Errorf("second login of u1 got groups %q; the queue entry was used twice", attrValues(a, "groups"))
	}
	if l := lastLog(t, e.idp); l.Options == nil || l.Options.Source != "form" {
		t.Errorf("log %+v", l.Options)
	}
}

func TestQueuedLoginOptionsPersonaAndFault(t *testing.T) {
	e := newEnv(t, envOpts{register: true, plaintext: true})
	// Options queued for alice apply when her persona button is clicked.
	wantJSON(t, e.api("PUT", queuePath("alice@example.com"), `{"nameIDFormat":"emailAddress","groupsMode":"joined","groupsDelimiter":";","groupNameFormat":"uri","signWhat":"assertion","signAlg":"sha512"}`), 201, nil)
	e.sp.AllowIDPInitiated = true
	action, form := parseLogin(t, e.loginPage(t))
	form.Set("persona", "alice")
	raw := samlResponse(t, e.post(idpBase+action, form))
	a, err := e.sp.ParseXMLResponse(raw, nil, e.sp.AcsURL)
	if err != nil {
		t.Fatal(err)
	}
	if r, as := sigMethods(t, raw); r != "" || !strings.HasSuffix(as, "rsa-sha512") {
		t.Errorf("signatures: response %q assertion %q", r, as)
	}
	if a.Subject.NameID.Format != "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" || !slices.Equal(attrValues(a, "groups"), []string{"Engineering;Sales, EMEA"}) {
		t.Errorf("NameID format %q, groups %q", a.Subject.NameID.Format, attrValues(a, "groups"))
	}
	l := lastLog(t, e.idp)
	want := AppliedOptions{NameIDFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", GroupsMode: "joined", GroupsDelimiter: ";",
		GroupNameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:uri", Sign: "assertion", SignatureMethod: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512", Source: "queue"}
	if l.Options == nil || *l.Options != want || l.Persona != "alice" {
		t.Errorf("logged options %+v, persona %q", l.Options, l.Persona)
	}

	// A queued login may start from a persona, under the queued user's NameID.
	wantJSON(t, e.api("PUT", queuePath("x@example.com"), `{"persona":"alice","lastName":"Override","email":""}`), 201, nil)
	a = e.signIn(t, url.Values{"persona": {""}, "username": {"x@example.com"}})
	if a.Subject.NameID.Value != "x@example.com" || !slices.Equal(attrValues(a, "firstName"), []string{"Alice"}) ||
		!slices.Equal(attrValues(a, "lastName"), []string{"Override"}) || attrValues(a, "email") != nil ||
		!slices.Equal(attrValues(a, "groups"), []string{"Engineering", "Sales, EMEA"}) {
		t.Errorf("from persona: %q %q", a.Subject.NameID.Value, attrNames(a))
	}
	if l := lastLog(t, e.idp); l.Persona != "alice" || l.Options.Source != "queue" {
		t.Errorf("log persona %q", l.Persona)
	}

	// A queued fault is sent.
	fault := faultList[0].Name
	wantJSON(t, e.api("PUT", queuePath("f@example.com"), `{"fault":"`+fault+`"}`), 201, nil)
	action, form = parseLogin(t, e.loginPage(t))
	form.Set("persona", "")
	form.Set("username", "f@example.com")
	samlResponse(t, e.post(idpBase+action, form))
	if l := lastLog(t, e.idp); l.Fault != fault || l.Options == nil || l.Options.Source != "queue" {
		t.Errorf("fault %q, options %+v", l.Fault, l.Options)
	}
}

func TestQueuedLoginScopedToAnSP(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	if err := e.idp.RegisterSPMetadataXML([]byte(spMetadata(t, "https://other.test/md", "https://other.test/acs"))); err != nil {
		t.Fatal(err)
	}
	u := "scoped@example.com"
	wantJSON(t, e.api("PUT", queuePath(u)+"?sp="+url.QueryEscape("https://other.test/md"), `{"groups":["Other"]}`), 201, nil)
	wantJSON(t, e.api("PUT", queuePath(u)+"?sp="+url.QueryEscape(testSPEntityID), `{"groups":["Scoped"]}`), 201, nil)
	wantJSON(t, e.api("PUT", queuePath(u), `{"groups":["Any"]}`), 201, nil)
	wantJSON(t, e.api("PUT", queuePath(u), `{"groups":["Any SP"]}`), 200, nil) // replaces
	for _, want := range []string{"Scoped", "Any SP", ""} {
		a := e.signIn(t, url.Values{"persona": {""}, "username": {u}})
		if got := strings.Join(attrValues(a, "groups"), ","); got != want {
			t.Errorf("groups %q, want %q", got, want)
		}
	}
	var q QueuedLogin
	wantJSON(t, e.api("GET", queuePath(u)+"?sp="+url.QueryEscape("https://other.test/md"), ""), 200, &q)
	if q.SP != "https://other.test/md" {
		t.Errorf("the other SP's entry: %+v", q)
	}
	if rec := e.api("DELETE", queuePath(u)+"?sp="+url.QueryEscape("https://other.test/md"), ""); rec.Code != 204 {
		t.Errorf("DELETE: %d", rec.Code)
	}
	wantAPIError(t, e.api("DELETE", queuePath(u)+"?sp="+url.QueryEscape("https://other.test/md"), ""), 404, "other.test")
	wantAPIError(t, e.api("PUT", queuePath(u)+"?sp="+url.QueryEscape("https://unknown.test/md"), `{}`), 400, "unknown.test")
}

func TestQueuedLoginsExpire(t *testing.T) {
	var mu sync.Mutex
	clock := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	e := newEnv(t, envOpts{register: true, now: now})
	wantJSON(t, e.api("PUT", queuePath("late@example.com"), `{"groups":["Queued"]}`), 201, nil)
	mu.Lock()
	clock = clock.Add(queueTTL - time.Second)
	mu.Unlock()
	wantJSON(t, e.api("GET", queuePath("late@example.com"), ""), 200, nil)
	mu.Lock()
	clock = clock.Add(time.Second)
	mu.Unlock()
	wantAPIError(t, e.api("GET", queuePath("late@example.com"), ""), 404, "no login is queued")
	a := e.signIn(t, url.Values{"persona": {""}, "username": {"late@example.com"}, "groups": {"Form"}})
	if got := attrValues(a, "groups"); !slices.Equal(got, []string{"Form"}) {
		t.Errorf("an expired entry was used: groups %q", got)
	}
}

func TestQueueIsBounded(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	for i := range maxQueued {
		if rec := e.api("PUT", queuePath(fmt.Sprintf("u%d@example.com", i)), `{}`); rec.Code != 201 {
			t.Fatalf("entry %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	wantAPIError(t, e.api("PUT", queuePath("one-too-many"), `{}`), 429, "too many")
	wantJSON(t, e.api("PUT", queuePath("u0@example.com"), `{"groups":["G"]}`), 200, nil) // replacing is fine
	if rec := e.api("DELETE", queuePath("u0@example.com"), ""); rec.Code != 204 {
		t.Fatalf("DELETE: %d", rec.Code)
	}
	wantJSON(t, e.api("PUT", queuePath("one-too-many"), `{}`), 201, nil)
}

func TestQueuedLoginBadInput(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"unknown option value", "PUT", queuePath("a@e"), `{"nameIDFormat":"bogus"}`, 400, "NameID format"},
		{"unknown field", "PUT", queuePath("a@e"), `{"nameIdFormat2":"x"}`, 400, "unknown field"},
		{"unknown persona", "PUT", queuePath("a@e"), `{"persona":"nobody"}`, 400, "unknown persona"},
		{"unknown fault", "PUT", queuePath("a@e"), `{"fault":"nope"}`, 400, "unknown fault"},
		{"groups not a list", "PUT", queuePath("a@e"), `{"groups":"A"}`, 400, "bad JSON"},
		{"blank user", "PUT", queuePath(" "), `{}`, 400, "blank"},
		{"long user", "PUT", queuePath(strings.Repeat("u", maxScopeLen+1)), `{}`, 400, "at most"},
		{"empty body", "PUT", queuePath("a@e"), ``, 400, "empty"},
		{"oversized", "PUT", queuePath("a@e"), `{"groups":["` + strings.Repeat("g", maxAPIBody) + `"]}`, 413, "larger than"},
		{"wrong method", "PATCH", queuePath("a@e"), `{}`, 405, "PATCH"},
		{"nothing queued", "GET", queuePath("a@e"), ``, 404, "no login is queued"},
		{"nothing to delete", "DELETE", queuePath("a@e"), ``, 404, "no login is queued"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantAPIError(t, e.api(tc.method, tc.path, tc.body), tc.status, tc.want)
		})
	}
	if len(e.idp.queue.entries) != 0 {
		t.Errorf("bad requests queued %d logins", len(e.idp.queue.entries))
	}
}

func TestRefusedLoginKeepsItsQueuedEntry(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	wantJSON(t, e.api("PUT", "/api/personas/carol", `{"nameID":"carol@example.com","groups":["C"]}`), 201, nil)
	wantJSON(t, e.api("PUT", queuePath("r@example.com"), `{"persona":"carol"}`), 201, nil)
	if rec := e.api("DELETE", "/api/personas/carol", ""); rec.Code != 204 {
		t.Fatal(rec.Code)
	}
	action, form := parseLogin(t, e.loginPage(t))
	form.Set("persona", "")
	form.Set("username", "r@example.com")
	if rec := e.post(idpBase+action, form); rec.Code != 400 || !strings.Contains(rec.Body.String(), "Unknown persona carol") {
		t.Fatalf("login with a queued persona deleted since: %d", rec.Code)
	}
	wantJSON(t, e.api("GET", queuePath("r@example.com"), ""), 200, nil)
}
