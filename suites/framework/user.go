package framework

import (
	"context"
	"fmt"
	"strings"

	"github.com/chromedp/chromedp"

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
	RefusalCode   string   `json:"refusalCode"`
	Text          string   `json:"text"`
	Location      string   `json:"location"`
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
	if err := browser.Run(u.Tab, StepTimeout, chromedp.Navigate(u.env.SPURL("/"))); err != nil {
		return Outcome{}, fmt.Errorf("open the SP: %w", err)
	}
	return u.fillIdPForm(l)
}

// SignInViaIdP starts at the IdP's IdP-initiated entry for this SP.
func (u *User) SignInViaIdP(l Login, relayState string) (Outcome, error) {
	cfgAudience := u.env.Target.EntityID()
	url := u.env.IdPURL("/idp/initiate?sp=" + queryEscape(cfgAudience) + "&RelayState=" + queryEscape(relayState))
	if err := browser.Run(u.Tab, StepTimeout, chromedp.Navigate(url)); err != nil {
		return Outcome{}, fmt.Errorf("open the IdP: %w", err)
	}
	return u.fillIdPForm(l)
}

func (u *User) fillIdPForm(l Login) (Outcome, error) {
	if err := browser.Run(u.Tab, StepTimeout, chromedp.WaitVisible(chromedp.ID("login"))); err != nil {
		loc, _ := browser.Location(u.Tab)
		return Outcome{}, fmt.Errorf("no IdP login form at %s: %w", loc, err)
	}
	steps := []chromedp.Action[chromedp.Void]{
		SetField("username", l.Username),
		SetField("firstName", l.FirstName),
		SetField("lastName", l.LastName),
		SetField("email", l.Email),
		SetField("shortName", l.ShortName),
		SetField("groups", strings.Join(l.Groups, "\n")),
	}
	if l.GroupAttribute != "" {
		steps = append(steps, SetField("groupAttribute", l.GroupAttribute))
	}
	if err := browser.Run(u.Tab, StepTimeout, steps...); err != nil {
		return Outcome{}, fmt.Errorf("fill the IdP form: %w", err)
	}
	u.env.Step(u.Tab, "IdP login page, filled in for "+l.Username)
	if err := browser.Run(u.Tab, StepTimeout, ClickAndWaitForLoad("signin")); err != nil {
		return Outcome{}, fmt.Errorf("submit the IdP form: %w", err)
	}
	return u.WaitForSP()
}

// WaitForSP waits until the browser shows an SP page that ends a login
// (signed in, or refused) and reads it.
func (u *User) WaitForSP() (Outcome, error) {
	if err := browser.Run(u.Tab, StepTimeout, chromedp.WaitReady(chromedp.CSS("#whoami, #sso-error, #error"))); err != nil {
		loc, _ := browser.Location(u.Tab)
		return Outcome{}, fmt.Errorf("the login did not end on an SP page (at %s): %w", loc, err)
	}
	u.env.recordSAML()
	out, err := u.Read()
	if err == nil {
		what := "back at the SP: signed in as " + out.Identifier
		if !out.SignedIn {
			what = "back at the SP: refused (" + out.RefusalCode + ")"
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
		text: document.body ? document.body.innerText.slice(0, 2000) : '',
		location: location.href,
	})`, &o)
	return o, err
}

// Visit opens an SP path and reads the page.
func (u *User) Visit(path string) (Outcome, error) {
	if err := browser.Run(u.Tab, StepTimeout, chromedp.Navigate(u.env.SPURL(path))); err != nil {
		return Outcome{}, err
	}
	return u.Read()
}
