package framework

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"

	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

// StepTimeout bounds one browser step (a page load, a form submit).
const StepTimeout = 20 * time.Second

// Admin is haiadmin signed in at the SP's local /login in a browser tab of
// its own, doing what an administrator does in the admin UI.
type Admin struct {
	env    *Env
	Tab    context.Context
	cancel context.CancelFunc
	// saved is the field set of the last save that succeeded, nil when
	// anything since may have changed the settings (see SettingsAre).
	saved map[string]string
	// mode overrides Env.quick (see admin_fetch.go); tests set it.
	mode adminMode
}

// UserRow is one row of the SP's Users page.
type UserRow struct {
	ID          string   `json:"id"`
	Identifier  string   `json:"identifier"`
	DisplayName string   `json:"displayName"`
	Email       string   `json:"email"`
	Groups      []string `json:"groups"`
}

// NewAdmin opens haiadmin's tab.
func (e *Env) NewAdmin(parent context.Context) (*Admin, error) {
	tab, cancel, err := e.Browser.NewTab(parent)
	if err != nil {
		return nil, err
	}
	// Signing in waits for the first admin page a spec opens: an SP whose
	// /login is broken then fails the specs that need it, not the suite.
	return &Admin{env: e, Tab: tab, cancel: cancel}, nil
}

// Close closes the admin's tab.
func (a *Admin) Close() { a.cancel() }

// SignIn signs in at /login with haiadmin's password.
func (a *Admin) SignIn() error {
	err := browser.Run(a.Tab, StepTimeout,
		Open(a.env.SPURL(a.env.Pages.Login), "#login-form"),
		SetFields([2]string{"username", "haiadmin"}, [2]string{"password", a.env.AdminPassword}),
		ClickAndWaitFor("login-submit", "#admin-nav"),
		WaitForVisible("admin-nav"),
	)
	if err != nil {
		return fmt.Errorf("sign in as haiadmin: %w", err)
	}
	return nil
}

// open navigates to an admin page, signing in again if the session ended.
// It waits for the page's element readyID, or for the sign-in form, not
// for the load event. The quick way fetches and parses the page instead
// (openQuick), and the readers read it there.
func (a *Admin) open(path, readyID string) error {
	if a.quick() {
		return a.openQuick(path, readyID)
	}
	ready := "#" + cssEscapeID(readyID)
	loc, err := browser.Get(a.Tab, StepTimeout, openAt(a.env.SPURL(path), ready+", #login-form"))
	if err != nil {
		return fmt.Errorf("open %s: no #%s: %w", path, readyID, err)
	}
	if strings.Contains(loc, a.env.Pages.Login) {
		if err := a.SignIn(); err != nil {
			return err
		}
		if err := browser.Run(a.Tab, StepTimeout, Open(a.env.SPURL(path), ready)); err != nil {
			return fmt.Errorf("open %s: no #%s: %w", path, readyID, err)
		}
	}
	if err := browser.Run(a.Tab, StepTimeout, WaitForVisible(readyID)); err != nil {
		return fmt.Errorf("open %s: no visible #%s: %w", path, readyID, err)
	}
	return nil
}

// evalJSON runs a JS expression that returns a JSON string and decodes it.
func evalJSON(tab context.Context, expr string, out any) error {
	s, err := browser.Get(tab, StepTimeout, chromedp.Evaluate[string](expr))
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(s), out)
}

// Users reads the Users page.
func (a *Admin) Users() ([]UserRow, error) {
	if err := a.open(a.env.Pages.Users, "users"); err != nil {
		return nil, err
	}
	var rows []UserRow
	err := evalJSON(a.Tab, readerJS(`JSON.stringify(Array.from(d.querySelectorAll('#users tr[data-user]')).map(tr => ({
		id: (tr.querySelector('td.identifier a')||{href:''}).href.split('/').pop(),
		identifier: tr.dataset.user,
		displayName: tr.querySelector('td.display-name').textContent.trim(),
		email: tr.querySelector('td.email').textContent.trim(),
		groups: tr.querySelector('td.groups').textContent.split(',').map(s => s.trim()).filter(s => s !== ''),
	})))`), &rows)
	if err != nil {
		return nil, fmt.Errorf("read users page: %w", err)
	}
	a.step(fmt.Sprintf("admin: Users page (%d users)", len(rows)))
	return rows, nil
}

// UsersPageAddActions counts the links, buttons and forms of the Users
// page, outside its table's rows, whose text or action speaks of adding a
// user (add, new, create, invite). It fails when the page has no
// #page-users, so that a count of zero is never about another page.
func (a *Admin) UsersPageAddActions() (int, error) {
	if err := a.open(a.env.Pages.Users, "users"); err != nil {
		return 0, err
	}
	var n int
	if err := evalJSON(a.Tab, readerJS(`JSON.stringify(!d.querySelector('#page-users') ? -1 :
		Array.from(d.querySelectorAll('#page-users a, #page-users button, #page-users form')).filter(e => !e.closest('#users tbody')).filter(e => /add|new|create|invite/i.test(e.textContent + ' ' + (e.getAttribute('action')||''))).length)`), &n); err != nil {
		return 0, fmt.Errorf("read users page: %w", err)
	}
	if n < 0 {
		return 0, fmt.Errorf("the Users page has no #page-users")
	}
	return n, nil
}

// UsersNamed returns the Users-page rows whose identifier equals id,
// ignoring case (a conforming SP has at most one).
func (a *Admin) UsersNamed(id string) ([]UserRow, error) {
	rows, err := a.Users()
	if err != nil {
		return nil, err
	}
	var out []UserRow
	for _, r := range rows {
		if strings.EqualFold(r.Identifier, id) {
			out = append(out, r)
		}
	}
	return out, nil
}

// Groups reads the names on the Groups page.
func (a *Admin) Groups() ([]string, error) {
	if err := a.open(a.env.Pages.Groups, "groups"); err != nil {
		return nil, err
	}
	var names []string
	err := evalJSON(a.Tab, groupNamesJS, &names)
	return names, err
}

// groupNamesJS reads the group names on the Groups page.
const groupNamesJS = `(() => { ` + docJS + ` return JSON.stringify(Array.from(d.querySelectorAll('#groups tr[data-group]')).map(tr => tr.dataset.group)); })()`

// CreateGroup creates a group with a role through the Groups page.
func (a *Admin) CreateGroup(name, role string) error {
	return a.createGroup(name, role, true)
}

// CreateGroups creates groups with one role, opening the Groups page once:
// each creation ends on the Groups page, whose form takes the next.
func (a *Admin) CreateGroups(role string, names ...string) error {
	for i, name := range names {
		if err := a.createGroup(name, role, i == 0); err != nil {
			return err
		}
	}
	return nil
}

// createGroup fills and submits the create-group form, on the page the
// tab shows (or the quick way parsed) when open is false and that page has
// the form.
func (a *Admin) createGroup(name, role string, open bool) error {
	if !open {
		here, err := browser.Get(a.Tab, StepTimeout, chromedp.Evaluate[bool](readerJS(`!!d.getElementById('create-group') && !!d.getElementById('groups')`)))
		open = err != nil || !here
	}
	if open {
		if err := a.open(a.env.Pages.Groups, "create-group"); err != nil {
			return err
		}
	}
	var err error
	if a.quick() {
		err = a.applyQuick(fieldChanges{Values: [][2]string{{"group-name", name}, {"group-role", role}}})
		if err == nil {
			_, err = a.submitQuick("#create-group", "create-group-submit", "#groups")
		}
	} else {
		err = browser.Run(a.Tab, StepTimeout,
			SetFields([2]string{"group-name", name}, [2]string{"group-role", role}),
			ClickAndWaitFor("create-group-submit", "#groups"),
			WaitForVisible("groups"),
		)
	}
	if err != nil {
		return fmt.Errorf("create group %q: %w", name, err)
	}
	// The page the form led to is the Groups page: read it there.
	var names []string
	if err := evalJSON(a.Tab, groupNamesJS, &names); err != nil {
		return fmt.Errorf("create group %q: read the Groups page: %w", name, err)
	}
	for _, n := range names {
		if n == name {
			return nil
		}
	}
	msg, _ := evalString(a.Tab, readerJS(`(d.querySelector('#groups-error')||{textContent:''}).textContent`))
	return fmt.Errorf("create group %q: not listed afterwards %s", name, msg)
}

// SettingsResult is what the settings page said after Save Settings.
type SettingsResult struct {
	Saved       bool              `json:"saved"`
	Flash       string            `json:"flash"`
	FieldErrors map[string]string `json:"fieldErrors"`
}

// SaveSettings sets the given fields of the User Provisioning/SSO form (by
// element ID; checkboxes take "on"/"off", radios the value's element ID
// such as "mode-jit") and presses Save Settings.
func (a *Admin) SaveSettings(fields map[string]string) (SettingsResult, error) {
	if !a.env.Target.Capabilities().SettingsWritable {
		// Saving signs every user of a live deployment out.
		Skip("safe mode: this spec needs to save the SP's settings")
	}
	a.saved = nil
	if err := a.open(a.env.Pages.Settings, "settings-form"); err != nil {
		return SettingsResult{}, err
	}
	// One evaluation for the text fields and one for the checkboxes,
	// instead of a round trip per field.
	var values [][2]string
	var radios []string
	checks := map[string]bool{}
	for id, v := range fields {
		switch {
		case id == "mode":
			if a.quick() {
				radios = append(radios, "mode-"+v)
			} else if err := browser.Run(a.Tab, StepTimeout, Click("mode-"+v)); err != nil {
				return SettingsResult{}, fmt.Errorf("set %s: %w", id, err)
			}
		case v == "on" || v == "off":
			checks[id] = v == "on"
		default:
			values = append(values, [2]string{id, v})
		}
	}
	if a.quick() {
		if err := a.applyQuick(fieldChanges{Radios: radios, Values: values, Checks: checks}); err != nil {
			return SettingsResult{}, fmt.Errorf("set fields: %w", err)
		}
		if _, err := a.submitQuick("#settings-form", "save-settings", "#settings-form"); err != nil {
			return SettingsResult{}, fmt.Errorf("save settings: %w", err)
		}
	} else {
		if err := browser.Run(a.Tab, StepTimeout, SetFields(values...), setChecked(checks)); err != nil {
			return SettingsResult{}, fmt.Errorf("set fields: %w", err)
		}
		if err := browser.Run(a.Tab, StepTimeout,
			ClickAndWaitFor("save-settings", "#settings-form"),
			WaitForVisible("settings-form"),
		); err != nil {
			return SettingsResult{}, fmt.Errorf("save settings: %w", err)
		}
	}
	var res SettingsResult
	err := evalJSON(a.Tab, readerJS(`JSON.stringify({
		saved: !!d.querySelector('#flash'),
		flash: (d.querySelector('#flash')||{textContent:''}).textContent.trim(),
		fieldErrors: Object.fromEntries(Array.from(d.querySelectorAll('.field-error')).map(p => [p.dataset.field, p.textContent.trim()])),
	})`), &res)
	if err == nil && res.Saved {
		a.saved = maps.Clone(fields)
	}
	return res, err
}

// SettingsAre reports whether the settings are known to hold exactly these
// fields: the last save through this tab set them, and nothing this tab
// did since could have changed them. Only on the bundled SP, which no one
// else administers; a spec that needs a save to happen calls SaveSettings.
func (a *Admin) SettingsAre(fields map[string]string) bool {
	_, bundled := a.env.Target.(bundledTarget)
	return bundled && a.saved != nil && maps.Equal(a.saved, fields)
}

// MustSaveSettings is SaveSettings that fails unless the settings saved.
func (a *Admin) MustSaveSettings(fields map[string]string) error {
	res, err := a.SaveSettings(fields)
	if err != nil {
		return err
	}
	if !res.Saved {
		return fmt.Errorf("settings not saved: %v", res.FieldErrors)
	}
	return nil
}

// SetUserGroups ticks exactly the named groups on a user's page and saves.
func (a *Admin) SetUserGroups(userID string, groups []string) error {
	if err := a.open(a.env.Pages.UserPath(userID), "user-groups-form"); err != nil {
		return err
	}
	if groups == nil {
		groups = []string{}
	}
	want, _ := json.Marshal(groups)
	tick := chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { %s const want = %s.map(s => s.toLowerCase());
			d.querySelectorAll('#user-groups-form input[name=group]').forEach(cb => {
				cb.checked = want.includes(cb.parentElement.textContent.trim().toLowerCase()); }); })()`, docJS, want))
	if a.quick() {
		err := browser.Run(a.Tab, StepTimeout, tick)
		if err == nil {
			_, err = a.submitQuick("#user-groups-form", "save-user-groups", "#user-title")
		}
		if err != nil {
			return fmt.Errorf("set user groups: %w", err)
		}
		return nil
	}
	if err := browser.Run(a.Tab, StepTimeout,
		tick,
		ClickAndWaitFor("save-user-groups", "#user-title"),
		WaitForVisible("user-title"),
	); err != nil {
		return fmt.Errorf("set user groups: %w", err)
	}
	return nil
}

// PostResult is what the SP answered to a scripted admin POST.
type PostResult struct {
	Status int    `json:"status"`
	Code   string `json:"code"` // data-code of the error paragraph, if any
	URL    string `json:"url"`  // where fetch ended after redirects
}

// Post sends a form POST from the admin's tab (with the admin's cookie and
// a valid CSRF token taken from an admin page), the way a script driving
// the admin UI's endpoints would, and reads the answer. The admin page is
// the Groups page, shown or (the quick way) fetched; the answer is read,
// not shown, either way.
func (a *Admin) Post(path string, fields map[string][]string) (PostResult, error) {
	a.saved = nil // path may be the settings page
	if err := a.open(a.env.Pages.Groups, "create-group"); err != nil {
		return PostResult{}, err
	}
	if fields == nil {
		fields = map[string][]string{}
	}
	body, _ := json.Marshal(fields)
	pathJSON, _ := json.Marshal(path)
	var res PostResult
	err := evalJSONAsync(a.Tab, fmt.Sprintf(`(async () => {
		const p = new URLSearchParams();
		%s
		p.append('csrf', d.querySelector('input[name=csrf]').value);
		for (const [k, vs] of Object.entries(%s)) for (const v of vs) p.append(k, v);
		const r = await fetch(%s, {method: 'POST', body: p});
		const doc = new DOMParser().parseFromString(await r.text(), 'text/html');
		const e = doc.querySelector('[data-code]');
		return JSON.stringify({status: r.status, code: e ? e.dataset.code : '', url: r.url});
	})()`, docJS, body, pathJSON), &res)
	return res, err
}

// User reads one user's detail page (by the ID in the Users page link).
func (a *Admin) User(userID string) (UserDetail, error) {
	if err := a.open(a.env.Pages.UserPath(userID), "user-title"); err != nil {
		return UserDetail{}, err
	}
	var d UserDetail
	err := evalJSON(a.Tab, readerJS(`JSON.stringify({
		title: d.querySelector('#user-title').textContent.trim(),
		identifier: d.querySelector('#attr-identifier').textContent.trim(),
		firstName: d.querySelector('#attr-first-name').textContent.trim(),
		lastName: d.querySelector('#attr-last-name').textContent.trim(),
		email: d.querySelector('#attr-email').textContent.trim(),
		shortName: d.querySelector('#attr-short-name').textContent.trim(),
		sessions: parseInt(d.querySelector('#session-count').textContent, 10),
		groupsEditable: !!d.querySelector('#user-groups-form'),
		groupsReadOnly: !!d.querySelector('#groups-readonly'),
		editableInputs: d.querySelectorAll('#page-user input[type=text], #page-user textarea').length,
	})`), &d)
	if err == nil {
		a.step("admin: user page of " + d.Identifier)
	}
	return d, err
}

// UserDetail is what the admin sees on a user's page.
type UserDetail struct {
	Title          string `json:"title"`
	Identifier     string `json:"identifier"`
	FirstName      string `json:"firstName"`
	LastName       string `json:"lastName"`
	Email          string `json:"email"`
	ShortName      string `json:"shortName"`
	Sessions       int    `json:"sessions"`
	GroupsEditable bool   `json:"groupsEditable"`
	GroupsReadOnly bool   `json:"groupsReadOnly"`
	EditableInputs int    `json:"editableInputs"`
}

// ClickUserAction presses a button (e.g. "delete-user", "end-sessions") on
// a user's page and waits for the page that follows (the quick way: submits
// the button's form and parses the page the answer ends on).
func (a *Admin) ClickUserAction(userID, buttonID string) error {
	if err := a.open(a.env.Pages.UserPath(userID), buttonID); err != nil {
		return err
	}
	if a.quick() {
		_, err := a.submitQuick("", buttonID, "body")
		return err
	}
	return browser.Run(a.Tab, StepTimeout, ClickAndWaitForLoad(buttonID))
}

// SignedIn reports whether the admin's session is still alive, without
// signing in again.
func (a *Admin) SignedIn() (bool, error) {
	fetched := false
	if a.quick() {
		p, err := a.fetchPage(a.env.Pages.Users, "#users")
		if err != nil {
			return false, err
		}
		if err := p.failed("open " + a.env.Pages.Users); err != nil {
			return false, err
		}
		// Off the SP's site a fetch would not carry its cookies: look the
		// render way.
		fetched = !p.OffSite
	}
	if !fetched {
		if err := browser.Run(a.Tab, StepTimeout, Open(a.env.SPURL(a.env.Pages.Users), "body")); err != nil {
			return false, err
		}
	}
	return browser.Get(a.Tab, StepTimeout, chromedp.Evaluate[bool](readerJS(`!!d.querySelector('#users') && !!d.querySelector('#admin-nav')`)))
}

// SettingsForm reads the current values of the settings form.
func (a *Admin) SettingsForm() (map[string]string, error) {
	if err := a.open(a.env.Pages.Settings, "settings-form"); err != nil {
		return nil, err
	}
	var f map[string]string
	err := evalJSON(a.Tab, readerJS(`JSON.stringify(Object.fromEntries(Array.from(d.querySelectorAll('#settings-form input, #settings-form textarea, #settings-form select'))
		.filter(el => el.name && el.name !== 'csrf' && (el.type !== 'radio' || el.checked))
		.map(el => [el.name, el.type === 'checkbox' ? (el.checked ? 'on' : 'off') : el.value])))`), &f)
	return f, err
}

// CleanUp deletes the users and groups whose names carry marker, and
// nothing else: on a live deployment the harness touches only what it made.
func (a *Admin) CleanUp(marker string) (users, groups int, err error) {
	rows, err := a.Users()
	if err != nil {
		return 0, 0, err
	}
	for _, r := range rows {
		if strings.Contains(r.Identifier, marker) && r.ID != "" {
			if _, err := a.Post(a.env.Pages.UserPath(r.ID)+"/delete", nil); err != nil {
				return users, groups, err
			}
			users++
		}
	}
	if err := a.open(a.env.Pages.Groups, "groups"); err != nil {
		return users, groups, err
	}
	var actions []string
	markerJSON, _ := json.Marshal(marker)
	if err := evalJSON(a.Tab, readerJS(fmt.Sprintf(`JSON.stringify(Array.from(d.querySelectorAll('#groups tr[data-group]'))
		.filter(tr => tr.dataset.group.includes(%s))
		.map(tr => Array.from(tr.querySelectorAll('form')).map(f => f.getAttribute('action')).find(a => a.endsWith('/delete'))).filter(Boolean))`, markerJSON)), &actions); err != nil {
		return users, groups, err
	}
	for _, action := range actions {
		if _, err := a.Post(action, nil); err != nil {
			return users, groups, err
		}
		groups++
	}
	return users, groups, nil
}
