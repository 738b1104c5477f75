package framework

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/hmpconform/hmpconform/sp/store"
	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

// TestAdminQuickAgreesWithRender: the admin's quick way (fetch and parse,
// admin_fetch.go) must do and read what the render way (navigate and
// click) does, against the same SP: what one way writes the other reads,
// and both read the same. Each admin has a tab (and a session) of its own.
func TestAdminQuickAgreesWithRender(t *testing.T) {
	env := startTestEnv(t, "adminfetch")
	newAdmin := func(mode adminMode) *Admin {
		t.Helper()
		a, err := env.NewAdmin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		a.mode = mode
		t.Cleanup(a.Close)
		return a
	}
	q, r := newAdmin(modeQuick), newAdmin(modeRender)
	both := map[string]*Admin{"quick": q, "render": r}

	signIn := func(l Login) string {
		t.Helper()
		u, err := env.NewUser(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close()
		if out, err := u.SignInViaSP(l); err != nil || !out.SignedIn {
			t.Fatalf("sign in %s: %v %+v", l.Username, err, out)
		}
		return l.Username
	}
	userRow := func(a *Admin, id string) UserRow {
		t.Helper()
		rows, err := a.UsersNamed(id)
		if err != nil || len(rows) != 1 {
			t.Fatalf("users named %s: %v %+v", id, err, rows)
		}
		return rows[0]
	}
	mustGroups := func(a *Admin) []string {
		t.Helper()
		names, err := a.Groups()
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	// diff names the fields where two settings forms differ.
	diff := func(got, want map[string]string) string {
		var out []string
		for k := range maps.Keys(want) {
			if got[k] != want[k] {
				out = append(out, fmt.Sprintf("%s: %q, want %q", k, got[k], want[k]))
			}
		}
		for k := range maps.Keys(got) {
			if _, ok := want[k]; !ok {
				out = append(out, fmt.Sprintf("%s: %q, want none", k, got[k]))
			}
		}
		slices.Sort(out)
		return strings.Join(out, "; ")
	}
	settingsForm := func(a *Admin) map[string]string {
		t.Helper()
		f, err := a.SettingsForm()
		if err != nil {
			t.Fatal(err)
		}
		return f
	}

	// The settings every subtest starts from and goes back to.
	original := settingsForm(r)
	if !maps.Equal(original, settingsForm(q)) {
		t.Fatalf("settings form: quick and render differ: %s", diff(settingsForm(q), original))
	}
	restore := func(t *testing.T) {
		t.Helper()
		if err := r.MustSaveSettings(original); err != nil {
			t.Fatal(err)
		}
	}

	// The quick admin's tab shows the page its sign-in ended on; a mark on
	// that document tells whether anything since navigated it.
	const markJS = `window.__adminFetchTestMark`
	if err := browser.Run(q.Tab, StepTimeout, chromedp.Evaluate[chromedp.Void](markJS+` = true`)); err != nil {
		t.Fatal(err)
	}
	unmoved := func(t *testing.T) {
		t.Helper()
		if still, err := browser.Get(q.Tab, StepTimeout, chromedp.Evaluate[bool](`!!`+markJS)); err != nil || !still {
			t.Errorf("the quick admin's tab navigated (%v)", err)
		}
	}

	var g []string
	t.Run("groups", func(t *testing.T) {
		g = []string{env.Unique("QuickA"), env.Unique("QuickB"), env.Unique("RenderC")}
		if err := q.CreateGroups(store.RoleViewer, g[0], g[1]); err != nil {
			t.Fatal(err)
		}
		if err := r.CreateGroup(g[2], store.RoleViewer); err != nil {
			t.Fatal(err)
		}
		qg, rg := mustGroups(q), mustGroups(r)
		for _, name := range g {
			if !slices.Contains(rg, name) || !slices.Contains(qg, name) {
				t.Errorf("group %s: quick lists %v, render %v", name, qg, rg)
			}
		}
		if !slices.Equal(qg, rg) {
			t.Errorf("groups: quick %v, render %v", qg, rg)
		}
		// What the SP refuses, and what the form itself refuses, fail alike.
		for mode, a := range both {
			err := a.CreateGroup(strings.ToUpper(g[2]), store.RoleViewer)
			if err == nil || !strings.Contains(err.Error(), "not listed afterwards") || !strings.Contains(err.Error(), "already exists") {
				t.Errorf("%s: a duplicate group: %v, want not listed with the SP's message", mode, err)
			}
			err = a.CreateGroup(env.Unique("norole"), "no-such-role")
			if err == nil || !strings.Contains(err.Error(), "set #group-role: refused") {
				t.Errorf("%s: a role the form does not offer: %v, want refused", mode, err)
			}
		}
		// A browser would not submit a required field left empty.
		if err := q.CreateGroup("", store.RoleViewer); err == nil || !strings.Contains(err.Error(), "would not submit it: #group-name") {
			t.Errorf("quick: a group without a name: %v", err)
		}
	})
	if len(g) != 3 {
		t.Fatal("no groups to go on with")
	}

	var ada string
	t.Run("users, a user's page and the settings read alike", func(t *testing.T) {
		ada = signIn(Login{Username: strings.ToLower(env.Unique("ada")) + "@example.com",
			FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.org", ShortName: "ada", Groups: []string{g[0], g[2]}})
		qu, err := q.Users()
		if err != nil {
			t.Fatal(err)
		}
		ru, err := r.Users()
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(qu) != fmt.Sprint(ru) {
			t.Errorf("users: quick %+v\nrender %+v", qu, ru)
		}
		row := userRow(q, ada)
		if row.ID == "" || row.DisplayName != "Ada Lovelace" || !slices.Equal(row.Groups, []string{g[0], g[2]}) {
			t.Errorf("quick row %+v", row)
		}
		qd, err := q.User(row.ID)
		if err != nil {
			t.Fatal(err)
		}
		rd, err := r.User(row.ID)
		if err != nil {
			t.Fatal(err)
		}
		if qd != rd || qd.FirstName != "Ada" || qd.Email != "ada@example.org" || qd.Sessions != 1 || !qd.GroupsReadOnly {
			t.Errorf("user page: quick %+v, render %+v", qd, rd)
		}
		if qf, rf := settingsForm(q), settingsForm(r); !maps.Equal(qf, rf) {
			t.Errorf("settings form: quick and render differ: %s", diff(qf, rf))
		}
	})

	t.Run("user actions", func(t *testing.T) {
		id := signIn(Login{Username: strings.ToLower(env.Unique("acted")) + "@example.com"})
		row := userRow(r, id)
		if err := q.ClickUserAction(row.ID, "end-sessions"); err != nil {
			t.Fatal(err)
		}
		if d, err := r.User(row.ID); err != nil || d.Sessions != 0 {
			t.Errorf("after End sessions the quick way: %v %+v, want no session", err, d)
		}
		if err := q.ClickUserAction(row.ID, "delete-user"); err != nil {
			t.Fatal(err)
		}
		if rows, err := r.UsersNamed(id); err != nil || len(rows) != 0 {
			t.Errorf("after Delete user the quick way: %v %+v", err, rows)
		}
		for mode, a := range both {
			res, err := a.Post(env.Pages.Users, map[string][]string{"identifier": {id}, "email": {id}})
			if err != nil || res.Status != 403 || res.Code != "users-not-addable" {
				t.Errorf("%s: a scripted add: %v %+v", mode, err, res)
			}
		}
		// A page that is not there is an error at once, not an empty read.
		_, err := q.User(row.ID)
		if err == nil || !strings.Contains(err.Error(), "open "+env.Pages.UserPath(row.ID)+": no #user-title") || !strings.Contains(err.Error(), "HTTP 404") {
			t.Errorf("a deleted user's page: %v", err)
		}
	})

	t.Run("a refused save reads alike and changes nothing", func(t *testing.T) {
		bad := maps.Clone(original)
		bad["ssoURL"] = "not a url"
		bad["firstNameAttr"] = "changedFirstName"
		bad["signRequest"] = "on"
		var errs []map[string]string
		for _, mode := range []string{"quick", "render"} {
			res, err := both[mode].SaveSettings(bad)
			if err != nil {
				t.Fatal(err)
			}
			if res.Saved || res.FieldErrors["ssoURL"] == "" {
				t.Errorf("%s: %+v, want refused with an ssoURL error", mode, res)
			}
			if both[mode].SettingsAre(bad) {
				t.Errorf("%s: a refused save counts as saved", mode)
			}
			errs = append(errs, res.FieldErrors)
			if f := settingsForm(both[mode]); !maps.Equal(f, original) {
				t.Errorf("%s: a refused save changed the settings: %s", mode, diff(f, original))
			}
		}
		if !maps.Equal(errs[0], errs[1]) {
			t.Errorf("field errors: quick %v, render %v", errs[0], errs[1])
		}
		// An option the select does not have is refused before any save.
		for mode, a := range both {
			f := maps.Clone(original)
			f["signatureAlgorithm"] = "sha1"
			if _, err := a.SaveSettings(f); err == nil || !strings.Contains(err.Error(), "set #signatureAlgorithm: refused") {
				t.Errorf("%s: an algorithm the form does not offer: %v", mode, err)
			}
		}
	})

	t.Run("what one way saves the other reads", func(t *testing.T) {
		defer restore(t)
		changed := maps.Clone(original)
		changed["mode"] = "local"
		changed["firstNameAttr"] = "givenNameQuick"
		changed["signRequest"] = "on"
		changed["signatureAlgorithm"] = "sha512"
		changed["defaultUserGroups"] = g[1]
		// The SP trims it.
		changed["idpCertificatePEM"] = strings.TrimSpace(original["idpCertificatePEM"])
		res, err := q.SaveSettings(changed)
		if err != nil || !res.Saved {
			t.Fatalf("quick save: %v %+v", err, res)
		}
		if !q.SettingsAre(changed) {
			t.Error("a quick save is not remembered")
		}
		if f := settingsForm(r); !maps.Equal(f, changed) {
			t.Errorf("after a quick save the render way reads %s", diff(f, changed))
		}
		back := maps.Clone(changed)
		back["mode"] = "jit"
		back["signRequest"] = "off"
		back["firstNameAttr"] = "givenNameRender"
		if err := r.MustSaveSettings(back); err != nil {
			t.Fatal(err)
		}
		if f := settingsForm(q); !maps.Equal(f, back) {
			t.Errorf("after a render save the quick way reads %s", diff(f, back))
		}
		// And the quick way clears what it ticked and picks the other radio.
		back["signRequest"], back["mode"] = "on", "local"
		if err := q.MustSaveSettings(back); err != nil {
			t.Fatal(err)
		}
		back["signRequest"], back["mode"] = "off", "jit"
		if err := q.MustSaveSettings(back); err != nil {
			t.Fatal(err)
		}
		if f := settingsForm(r); !maps.Equal(f, back) {
			t.Errorf("after quick saves the render way reads %s", diff(f, back))
		}
	})

	t.Run("user groups set one way show the other", func(t *testing.T) {
		if ada == "" {
			t.Skip("no signed-in user")
		}
		defer restore(t)
		editable := maps.Clone(original)
		editable["groupMembershipAttr"] = ""
		if err := q.MustSaveSettings(editable); err != nil {
			t.Fatal(err)
		}
		row := userRow(r, ada)
		if err := q.SetUserGroups(row.ID, []string{g[1], strings.ToUpper(g[2])}); err != nil {
			t.Fatal(err)
		}
		if got := userRow(r, ada).Groups; !slices.Equal(got, []string{g[1], g[2]}) {
			t.Errorf("after the quick way set groups the render way reads %v", got)
		}
		if err := r.SetUserGroups(row.ID, []string{g[0]}); err != nil {
			t.Fatal(err)
		}
		if got := userRow(q, ada).Groups; !slices.Equal(got, []string{g[0]}) {
			t.Errorf("after the render way set groups the quick way reads %v", got)
		}
		if err := q.SetUserGroups(row.ID, []string{}); err != nil {
			t.Fatal(err)
		}
		if got := userRow(r, ada).Groups; len(got) != 0 {
			t.Errorf("after the quick way cleared the groups the render way reads %v", got)
		}
	})

	t.Run("clean up removes only marked things", func(t *testing.T) {
		marker := "cleanme" + env.Unique("")
		keepGroup, goneGroup := env.Unique("Keep"), "Gone-"+marker
		if err := q.CreateGroups(store.RoleViewer, keepGroup, goneGroup); err != nil {
			t.Fatal(err)
		}
		keepUser := signIn(Login{Username: strings.ToLower(env.Unique("keep")) + "@example.com"})
		goneUser := signIn(Login{Username: "gone-" + marker + "@example.com"})
		users, groups, err := q.CleanUp(marker)
		if err != nil || users != 1 || groups != 1 {
			t.Fatalf("clean up: %d users, %d groups, %v; want 1, 1", users, groups, err)
		}
		rg := mustGroups(r)
		if slices.Contains(rg, goneGroup) || !slices.Contains(rg, keepGroup) || !slices.Contains(rg, g[0]) {
			t.Errorf("groups after clean up: %v", rg)
		}
		if rows, _ := r.UsersNamed(goneUser); len(rows) != 0 {
			t.Errorf("the marked user is still there: %+v", rows)
		}
		userRow(r, keepUser)
		userRow(r, ada)
		unmoved(t)
	})

	t.Run("signs in again when the session ended", func(t *testing.T) {
		// Cookies gone.
		if err := browser.Run(q.Tab, StepTimeout, func(ctx context.Context, _ *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{})
			return chromedp.Void{}, err
		}); err != nil {
			t.Fatal(err)
		}
		if in, err := q.SignedIn(); err != nil || in {
			t.Errorf("signed in without cookies: %v %v", in, err)
		}
		if _, err := q.Users(); err != nil {
			t.Errorf("users without cookies: %v", err)
		}
		if in, err := q.SignedIn(); err != nil || !in {
			t.Errorf("not signed in again: %v %v", in, err)
		}
		// Signed out with the page's own Sign out button.
		if _, err := q.submitQuick("", "logout", "body"); err != nil {
			t.Fatal(err)
		}
		if in, err := q.SignedIn(); err != nil || in {
			t.Errorf("signed in after signing out: %v %v", in, err)
		}
		if names := mustGroups(q); !slices.Contains(names, g[0]) {
			t.Errorf("groups after signing out: %v", names)
		}
		// A fresh tab is not on the SP's site at all.
		fresh := newAdmin(modeQuick)
		if in, err := fresh.SignedIn(); err != nil || in {
			t.Errorf("a fresh tab: signed in %v %v", in, err)
		}
		fresh2 := newAdmin(modeQuick)
		if names := mustGroups(fresh2); !slices.Contains(names, g[0]) {
			t.Errorf("groups from a fresh tab: %v", names)
		}
	})

	// Last: these break the SP.
	t.Run("a broken SP is an error naming the path and the status", func(t *testing.T) {
		b := newAdmin(modeQuick)
		if _, err := b.Groups(); err != nil {
			t.Fatal(err)
		}
		// The browser answers for the SP: 503 for the Users page.
		ctx, stop := context.WithCancel(b.Tab)
		defer stop()
		if err := chromedp.Listen(ctx, func(ev any) {
			if e, ok := ev.(*fetch.EventRequestPaused); ok {
				go func() {
					_, _ = chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: e.RequestID, ResponseCode: 503,
						Body: []byte(`<p id="error" data-code="unavailable">Users could not be read.</p>`)})
				}()
			}
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*" + env.Pages.Users}}}); err != nil {
			t.Fatal(err)
		}
		_, err := b.Users()
		if err == nil || !strings.Contains(err.Error(), "open "+env.Pages.Users) || !strings.Contains(err.Error(), "HTTP 503") ||
			!strings.Contains(err.Error(), "Users could not be read") {
			t.Errorf("users answered with 503: %v", err)
		}
		if in, err := b.SignedIn(); err == nil || !strings.Contains(err.Error(), "HTTP 503") {
			t.Errorf("signed in, answered with 503: %v %v", in, err)
		}
		if _, err := chromedp.Call(ctx, fetch.Disable, cdp.Empty{}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Users(); err != nil {
			t.Errorf("users, answered by the SP again: %v", err)
		}
		// No answer at all.
		if err := env.Stack.Close(); err != nil {
			t.Log(err)
		}
		_, err = b.Groups()
		if err == nil || !strings.Contains(err.Error(), "open "+env.Pages.Groups) || !strings.Contains(err.Error(), "fetch failed") {
			t.Errorf("groups with the SP down: %v", err)
		}
	})
}

// TestFetchedPageVerdicts: what the quick way makes of an answer, without
// a browser.
func TestFetchedPageVerdicts(t *testing.T) {
	for _, c := range []struct {
		p      fetchedPage
		signIn bool
		failed string // "" = no error
	}{
		{fetchedPage{Status: 200, URL: "https://sp.test/admin/users", Ready: true}, false, ""},
		{fetchedPage{Status: 200, URL: "https://sp.test/login?next=%2Fadmin%2Fusers", Login: true}, true, ""},
		{fetchedPage{Status: 200, URL: "https://sp.test/admin/users", Login: true}, true, ""},
		{fetchedPage{Status: 404, URL: "https://sp.test/admin/users/9"}, false, ""},
		{fetchedPage{Status: 500, URL: "https://sp.test/admin/users", Message: "Users could not be read."}, false,
			"open /admin/users: HTTP 500 at https://sp.test/admin/users: Users could not be read."},
		{fetchedPage{Error: "fetch failed: TypeError: Failed to fetch"}, false, "open /admin/users: fetch failed: TypeError: Failed to fetch"},
		{fetchedPage{Status: 200, URL: "https://sp.test/admin/users", NotPage: true, Message: "not an HTML page: Content-Type text/plain"}, false,
			"open /admin/users: HTTP 200 at https://sp.test/admin/users: not an HTML page: Content-Type text/plain"},
	} {
		if got := c.p.signInPage("/login"); got != c.signIn {
			t.Errorf("%+v: sign-in page %v, want %v", c.p, got, c.signIn)
		}
		err := c.p.failed("open /admin/users")
		if (err == nil) != (c.failed == "") || (err != nil && err.Error() != c.failed) {
			t.Errorf("%+v: failed %v, want %q", c.p, err, c.failed)
		}
	}
}
