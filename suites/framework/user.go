package framework

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

// Login is what a person types on the mock IdP's login page.
type Login struct {
	Username       string
	FirstName      string
	LastName       string
	Email          string
	ShortName      string
	Groups         []string // one attribute value each
	GroupAttribute string   // blank keeps the IdP's default
}

// Outcome is where the browser ended after the IdP posted to the SP.
type Outcome struct {
	SignedIn      bool     `json:"signedIn"`
	Identifier    string   `json:"identifier"`
	NoPermissions bool     `json:"noPermissions"`
	Groups        []string `json:"groups"`
	// RefusalCode is the data-code of the SP's refusal page or of its
	// generic error page; RefusalPage and ErrorPage say which it was.
	RefusalCode string `json:"refusalCode"`
	// RefusalPage: the SP's SAML refusal page (#sso-error), the page a
	// refused response must end on.
	RefusalPage bool `json:"refusalPage"`
	// ErrorPage: the SP's generic error page (#error), e.g. a 500
	// "unavailable"; a broken SP shows it, so it never counts as a refusal.
	ErrorPage bool `json:"errorPage"`
	// Status is the HTTP status of the page's document, 0 when the browser
	// does not say (Navigation Timing's responseStatus).
	Status   int    `json:"status"`
	Text     string `json:"text"`
	Location string `json:"location"`
}

// User is a person in a browser tab of their own (own cookies).
type User struct {
	env    *Env
	Tab    context.Context
	cancel context.CancelFunc
}

// NewUser opens a fresh tab for a person.
func (e *Env) NewUser(parent context.Context) (*User, error) {
	tab, cancel, err := e.Browser.NewTab(parent)
	if err != nil {
		return nil, err
	}
	return &User{env: e, Tab: tab, cancel: cancel}, nil
}

// Close closes the tab.
func (u *User) Close() { u.cancel() }

// SignInViaSP opens the SP, which sends the browser to the IdP
// (SP-initiated); the person fills the IdP's form and signs in.
func (u *User) SignInViaSP(l Login) (Outcome, error) {
	if err := browser.Run(u.Tab, StepTimeout, startNavigation(u.env.SPURL("/"))); err != nil {
		return Outcome{}, fmt.Errorf("open the SP: %w", err)
	}
	return u.fillIdPForm(l)
}

// SignInViaIdP starts at the IdP's IdP-initiated entry for this SP.
func (u *User) SignInViaIdP(l Login, relayState string) (Outcome, error) {
	cfgAudience := u.env.Target.EntityID()
	url := u.env.IdPURL("/idp/initiate?sp=" + queryEscape(cfgAudience) + "&RelayState=" + queryEscape(relayState))
	if err := browser.Run(u.Tab, StepTimeout, startNavigation(url)); err != nil {
		return Outcome{}, fmt.Errorf("open the IdP: %w", err)
	}
	return u.fillIdPForm(l)
}

// fillIdPForm waits for the IdP's login form in the document that the
// navigation started by startNavigation ends on, fills it and signs in.
func (u *User) fillIdPForm(l Login) (Outcome, error) {
	if err := browser.Run(u.Tab, StepTimeout, waitInPage("#login", true, true)); err != nil {
		loc, _ := browser.Location(u.Tab)
		return Outcome{}, fmt.Errorf("no IdP login form at %s: %w", loc, err)
	}
	fields := [][2]string{
		{"username", l.Username},
		{"firstName", l.FirstName},
		{"lastName", l.LastName},
		{"email", l.Email},
		{"shortName", l.ShortName},
		{"groups", strings.Join(l.Groups, "\n")},
	}
	if l.GroupAttribute != "" {
		fields = append(fields, [2]string{"groupAttribute", l.GroupAttribute})
	}
	if err := browser.Run(u.Tab, StepTimeout, SetFields(fields...)); err != nil {
		return Outcome{}, fmt.Errorf("fill the IdP form: %w", err)
	}
	u.env.Step(u.Tab, "IdP login page, filled in for "+l.Username)
	// Straight on to the SP page that ends the login: no wait for the
	// load of the IdP's auto-posting page in between.
	if err := browser.Run(u.Tab, StepTimeout, ClickAndWaitFor("signin", spEndCSS)); err != nil {
		loc, _ := browser.Location(u.Tab)
		return Outcome{}, fmt.Errorf("submit the IdP form: the login did not end on an SP page (at %s): %w", loc, err)
	}
	return u.WaitForSP()
}

// spEndCSS matches the SP pages that end a login: signed in, or refused.
const spEndCSS = "#whoami, #sso-error, #error"

// WaitForSP waits until the browser shows an SP page that ends a login
// (signed in, or refused) and reads it.
func (u *User) WaitForSP() (Outcome, error) {
	if err := browser.Run(u.Tab, StepTimeout, WaitForElement(spEndCSS)); err != nil {
		loc, _ := browser.Location(u.Tab)
		return Outcome{}, fmt.Errorf("the login did not end on an SP page (at %s): %w", loc, err)
	}
	u.env.recordSAML()
	out, err := u.Read()
	if err == nil {
		what := "back at the SP: signed in as " + out.Identifier
		switch {
		case out.SignedIn:
		case out.RefusalPage:
			what = "back at the SP: refused (" + out.RefusalCode + ")"
		default:
			what = fmt.Sprintf("back at the SP: an error page (%s, HTTP %d)", out.RefusalCode, out.Status)
		}
		u.env.Step(u.Tab, what)
	}
	return out, err
}

// Read reads the current SP page.
func (u *User) Read() (Outcome, error) {
	var o Outcome
	err := evalJSON(u.Tab, `JSON.stringify({
		signedIn: !!document.querySelector('#whoami'),
		identifier: (document.querySelector('#whoami')||{textContent:''}).textContent.trim(),
		noPermissions: !!document.querySelector('#no-permissions'),
		groups: Array.from(document.querySelectorAll('#my-groups li:not(.hint)')).map(li => li.textContent.trim()),
		refusalCode: ((document.querySelector('#sso-error, #error')||{dataset:{}}).dataset.code)||'',
		refusalPage: !!document.querySelector('#sso-error'),
		errorPage: !!document.querySelector('#error'),
		status: ((performance.getEntriesByType('navigation')[0]||{}).responseStatus)||0,
		text: document.body ? document.body.innerText.slice(0, 2000) : '',
		location: location.href,
	})`, &o)
	return o, err
}

// Visit opens an SP path and reads the page.
func (u *User) Visit(path string) (Outcome, error) {
	if err := browser.Run(u.Tab, StepTimeout, Open(u.env.SPURL(path), "body")); err != nil {
		return Outcome{}, err
	}
	return u.Read()
}

// HomeProbe is how the SP's home page answered a fetch with the tab's
// cookies (see ProbeHome).
type HomeProbe struct {
	// Redirected: the SP answered with a redirect (to sign in), not a page.
	Redirected bool   `json:"redirected"`
	Status     int    `json:"status"`
	SignedIn   bool   `json:"signedIn"` // the answer is the signed-in page (#whoami)
	Text       string `json:"text"`
}

// ProbeHome asks the SP for its home page from the tab's current document,
// with the tab's cookies, without following a redirect: whether the tab
// holds an SP session, at the cost of one request instead of the two page
// loads of a visit (the SP's redirect, then the IdP's login page). It needs
// the tab to be on the SP's origin (a same-origin fetch carries the
// session cookie whatever its SameSite); ok is false when it is not.
func (u *User) ProbeHome() (p HomeProbe, ok bool, err error) {
	loc, err := browser.Location(u.Tab)
	if err != nil {
		return p, false, err
	}
	home := u.env.SPURL("/")
	if !strings.HasPrefix(loc, strings.TrimSuffix(home, "/")+"/") {
		return p, false, nil
	}
	homeJSON, _ := json.Marshal(home)
	err = evalJSONAsync(u.Tab, `fetch(`+string(homeJSON)+`, {redirect: 'manual', credentials: 'same-origin', cache: 'no-store'}).then(async r => {
		if (r.type === 'opaqueredirect') return JSON.stringify({redirected: true, status: 0, signedIn: false, text: ''});
		const d = new DOMParser().parseFromString(await r.text(), 'text/html');
		return JSON.stringify({redirected: false, status: r.status, signedIn: !!d.querySelector('#whoami'), text: (d.body ? d.body.textContent : '').trim().slice(0, 1000)});
	})`, &p)
	return p, err == nil, err
}
