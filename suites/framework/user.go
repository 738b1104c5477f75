package framework

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/hmpconform/hmpconform/mockidp"
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
	Fault          string   // a mock IdP fault (mockidp.Faults); blank: none
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
// (SP-initiated); the person fills the IdP's form and signs in. In quick
// mode (Env.quick) the IdP already knows the person (an IdP session made
// for this one login) and answers the SP's AuthnRequest without its form.
func (u *User) SignInViaSP(l Login) (Outcome, error) {
	return u.signIn(l, u.env.SPURL("/"), "open the SP")
}

// SignInViaIdP starts at the IdP's IdP-initiated entry for this SP.
func (u *User) SignInViaIdP(l Login, relayState string) (Outcome, error) {
	cfgAudience := u.env.Target.EntityID()
	url := u.env.IdPURL("/idp/initiate?sp=" + queryEscape(cfgAudience) + "&RelayState=" + queryEscape(relayState))
	return u.signIn(l, url, "open the IdP")
}

// signIn opens start, which leads to the IdP, and signs in as l there.
func (u *User) signIn(l Login, start, what string) (Outcome, error) {
	if u.env.quick() {
		return u.signInWithIdPSession(l, start, what)
	}
	if err := browser.Run(u.Tab, StepTimeout, startNavigation(start)); err != nil {
		return Outcome{}, fmt.Errorf("%s: %w", what, err)
	}
	return u.fillIdPForm(l)
}

// idpPageCSS matches the mock IdP pages a login may stop on: its login
// form (drawn again with #login-error when it refuses the values) and its
// error page.
const idpPageCSS = "#login, #error-status"

// signInWithIdPSession gives the tab an IdP session for this one login
// (the cookie a real IdP would have set at an earlier sign-in) and opens
// start: the IdP answers the AuthnRequest at once, with the values the form
// would have carried, and the browser posts the response to the SP. The
// SP's part of the login (its redirect, AuthnRequest, ACS and session) is
// the same as after the form; the IdP's form is tested in suites/mockidp.
func (u *User) signInWithIdPSession(l Login, start, what string) (Outcome, error) {
	first, last, email, short := l.FirstName, l.LastName, l.Email, l.ShortName
	sess, err := u.env.IdP.StartSession(mockidp.SessionLogin{
		User:   l.Username,
		Logins: 1,
		NextLogin: mockidp.NextLogin{
			FirstName: &first, LastName: &last, Email: &email, ShortName: &short,
			Groups: append([]string{}, l.Groups...), GroupAttribute: l.GroupAttribute, Fault: l.Fault,
		},
	})
	if err != nil {
		return Outcome{}, fmt.Errorf("IdP session for %s: %w", l.Username, err)
	}
	defer u.env.IdP.EndSession(sess.ID) // used up, unless the login never reached the IdP
	if err := browser.Run(u.Tab, StepTimeout, setIdPSessionCookie(u.env.IdPURL("/"), sess.Cookie, sess.ID)); err != nil {
		return Outcome{}, fmt.Errorf("IdP session cookie: %w", err)
	}
	// One evaluation waits for the page the login ends on and reads it.
	idpOrigin := strings.TrimSuffix(u.env.IdPURL("/"), "/")
	originJSON, _ := json.Marshal(idpOrigin)
	res, err := browser.Get(u.Tab, StepTimeout, func(ctx context.Context, t *chromedp.Target) (string, error) {
		if _, err := startNavigation(start)(ctx, t); err != nil {
			return "", err
		}
		return waitInPageFor(spEndCSS+", "+idpPageCSS, false, true, `location.origin === `+string(originJSON)+
			` ? JSON.stringify({idp: true, form: !!document.querySelector('#login'), error: (document.querySelector('#login-error, #error-message')||{textContent:''}).textContent.trim(), href: location.href})`+
			` : `+outcomeJS)(ctx, t)
	})
	if err != nil {
		loc, _ := browser.Location(u.Tab)
		return Outcome{}, fmt.Errorf("%s: the login did not end on an SP page (at %s): %w", what, loc, err)
	}
	var page struct {
		IdP   bool   `json:"idp"`
		Form  bool   `json:"form"`
		Error string `json:"error"`
		Href  string `json:"href"`
	}
	if err := json.Unmarshal([]byte(res), &page); err != nil {
		return Outcome{}, fmt.Errorf("%s: read the page the login ended on: %w", what, err)
	}
	if !page.IdP {
		var out Outcome
		if err := json.Unmarshal([]byte(res), &out); err != nil {
			return Outcome{}, fmt.Errorf("%s: read the SP page: %w", what, err)
		}
		// The IdP ends a one-login session as it answers with it. One still
		// there means the login never reached the IdP: the SP showed this
		// page on its own (say, signing a stranger in), which the form way
		// would fail on for want of the IdP's form; so does this way.
		if u.env.IdP.EndSession(sess.ID) {
			return Outcome{}, fmt.Errorf("%s: the browser ended on an SP page (%s) without the IdP's answer: the login never reached the IdP (its one-login session is unused)", what, out.Location)
		}
		u.atSP(out)
		return out, nil
	}
	if page.Form && page.Error == "" {
		// The IdP wants the person to sign in (the SP sent ForceAuthn):
		// as a person would, with the form.
		return u.fillIdPForm(l)
	}
	return Outcome{}, fmt.Errorf("%s: the IdP did not answer with its session but showed %s: %s", what, page.Href, page.Error)
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
	if l.Fault != "" {
		fields = append(fields, [2]string{"fault", l.Fault})
	}
	for _, g := range l.Groups {
		if strings.TrimSpace(g) == "" {
			// The form drops blank lines, so it cannot send a blank value:
			// the groups go with the login through the scenario API.
			if err := u.env.IdP.QueueLogin(l.Username, "", mockidp.NextLogin{Groups: append([]string{}, l.Groups...)}); err != nil {
				return Outcome{}, fmt.Errorf("queue the groups of %s: %w", l.Username, err)
			}
			break
		}
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
	out, err := u.Read()
	if err == nil {
		u.atSP(out)
	}
	return out, err
}

// atSP records a login's end at the SP: the SAML responses and a step.
func (u *User) atSP(out Outcome) {
	u.env.recordSAML()
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

// outcomeJS is a JSON string of the current SP page as an Outcome.
const outcomeJS = `JSON.stringify({
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
	})`

// Read reads the current SP page.
func (u *User) Read() (Outcome, error) {
	var o Outcome
	err := evalJSON(u.Tab, outcomeJS, &o)
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

// setIdPSessionCookie sets the IdP's session cookie in the tab's browser
// context as the IdP itself would: host-only, HttpOnly, and, over HTTPS,
// Secure with SameSite=None, so that an HTTP-POST AuthnRequest from the
// SP's site carries it too.
func setIdPSessionCookie(idpURL, name, value string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		p := network.SetCookieParams{Name: name, Value: value, URL: idpURL, Path: "/", HTTPOnly: new(true)}
		if strings.HasPrefix(idpURL, "https://") {
			p.Secure, p.SameSite = new(true), network.CookieSameSiteNone
		} else {
			p.SameSite = network.CookieSameSiteLax
		}
		_, err := chromedp.Call(ctx, network.SetCookie, p)
		return chromedp.Void{}, err
	}
}
