package framework

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/chromedp/chromedp"

	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

// The admin's quick way (Env.quick: steps off, so no screenshot will show
// an admin page). Most admin pages are read only by the harness, and every
// document Chromium loads, lays out and paints costs it ~85 ms of CPU; the
// suites are CPU-bound. So instead of navigating its tab, the admin fetches
// each page from the tab's current SP document (a same-origin fetch with
// the tab's cookies), parses it with DOMParser into window.__hmpDoc and
// runs the same selectors on it: every reader in admin.go starts with
// docJS, which picks the parsed page when there is one and the tab's
// document otherwise. A navigation replaces the window, and with it
// __hmpDoc, so the render way (real navigations and clicks) reads the
// document the tab shows.
//
// Forms are submitted the way the browser would submit them: the body is
// built from the parsed form element (new FormData(form, submitter), after
// the field changes are applied to that form's own elements), encoded as
// the form's enctype says, sent with its method to its action resolved
// against the page's URL, and the page the answer ends on after redirects
// becomes the parsed page. The SP sees the requests a person's browser
// would send; Chromium only fetches and parses.
//
// What the quick way cannot do: a parsed document is inert. It has no
// layout, so there is no visibility check (WaitForVisible, or the check
// Click makes before it presses a button): an element that exists counts,
// whether or not it would be shown. It runs no page scripts, so a field
// change fires no input or change handlers. A target whose admin pages
// depend on either needs HMPCONFORM_RENDER=all.

// adminMode overrides Env.quick for one Admin (tests compare the two ways
// in one process).
type adminMode int

const (
	modeFromEnv adminMode = iota // Env.quick decides
	modeQuick                    // always fetch and parse
	modeRender                   // always navigate and click
)

// quick reports whether this admin fetches and parses pages instead of
// navigating its tab.
func (a *Admin) quick() bool {
	switch a.mode {
	case modeQuick:
		return true
	case modeRender:
		return false
	}
	return a.env.quick()
}

// step records a step screenshot, in the render way only: the tab does not
// show the pages the quick way reads.
func (a *Admin) step(what string) {
	if !a.quick() {
		a.env.Step(a.Tab, what)
	}
}

// docJS opens every reader's script: d is the page the quick way parsed,
// or the tab's document.
const docJS = `const d = window.__hmpDoc || document;`

// readerJS wraps a reader's body (which uses d) into an expression.
func readerJS(body string) string {
	return `(() => { ` + docJS + ` return ` + body + `; })()`
}

// adoptJS defines adopt(response, readyCSS): it parses the answer into
// window.__hmpDoc (keeping its URL in window.__hmpURL, with a <base> so
// that links resolve against it, not against the tab's page) and says
// what it was.
const adoptJS = pageRulesJS + `const adopt = async (r, ready) => {
	const a = await readAnswer(r);
	if (a.notPage) return {status: r.status, url: r.url, ready: false, login: false, notPage: true, message: a.notPage};
	const doc = a.doc;
	if (!doc.querySelector('base[href]')) {
		const b = doc.createElement('base');
		b.setAttribute('href', r.url);
		(doc.head || doc.documentElement).prepend(b);
	}
	window.__hmpDoc = doc;
	window.__hmpURL = r.url;
	window.__hmpCSP = a.csp;
	const m = doc.querySelector('[data-code], [role=alert], .error');
	return {status: r.status, url: r.url, ready: !!doc.querySelector(ready), login: !!doc.querySelector('#login-form'),
		message: m ? m.textContent.trim().slice(0, 300) : ''};
};`

// fetchedPage is what a quick fetch or form submission ended on.
type fetchedPage struct {
	// OffSite: the tab is not on the SP's origin, so it fetched nothing
	// (a fetch from there would be cross-origin, without the SP's cookies).
	OffSite bool   `json:"offSite"`
	Error   string `json:"error"` // no answer: the fetch failed, or nothing to submit
	Status  int    `json:"status"`
	URL     string `json:"url"`
	Ready   bool   `json:"ready"` // the page has the awaited element
	Login   bool   `json:"login"` // the page has the sign-in form
	// NotPage: a browser would show no page to read (readAnswer in
	// quick_rules.go); Message says why.
	NotPage bool   `json:"notPage"`
	Message string `json:"message"`
	// Action is the path a submitted form went to.
	Action string `json:"action"`
}

// signInPage reports whether the answer was the SP's sign-in page rather
// than the page asked for (the session ended): like the render way, by the
// URL the redirects ended at, or by a sign-in form in place of the page.
func (p fetchedPage) signInPage(loginPath string) bool {
	if p.Ready {
		return false
	}
	if u, err := url.Parse(p.URL); err == nil && strings.Contains(u.Path, loginPath) {
		return true
	}
	return p.Login
}

// failed is the error for an answer that is no page at all: no answer, or
// an HTTP status of 500 or more. what names the request.
func (p fetchedPage) failed(what string) error {
	switch {
	case p.Error != "":
		return fmt.Errorf("%s: %s", what, p.Error)
	case p.NotPage:
		return fmt.Errorf("%s: HTTP %d at %s: %s", what, p.Status, p.URL, p.Message)
	case p.Status >= 500:
		msg := ""
		if p.Message != "" {
			msg = ": " + p.Message
		}
		return fmt.Errorf("%s: HTTP %d at %s%s", what, p.Status, p.URL, msg)
	}
	return nil
}

// fetchPage fetches an SP path from the tab's current document and makes
// the answer the parsed page.
func (a *Admin) fetchPage(path, readyCSS string) (fetchedPage, error) {
	targetJSON, _ := json.Marshal(a.env.SPURL(path))
	readyJSON, _ := json.Marshal(readyCSS)
	var p fetchedPage
	err := evalJSONAsync(a.Tab, fmt.Sprintf(`(async () => { %[1]s
		if (location.origin !== new URL(%[2]s).origin) return JSON.stringify({offSite: true});
		try {
			const r = await fetch(%[2]s, {credentials: 'same-origin', cache: 'no-store'});
			return JSON.stringify(await adopt(r, %[3]s));
		} catch (e) { return JSON.stringify({error: 'fetch failed: ' + String(e)}); }
	})()`, adoptJS, targetJSON, readyJSON), &p)
	if err != nil {
		return p, fmt.Errorf("fetch %s: %w", path, err)
	}
	return p, nil
}

// openQuick is open the quick way: the page is fetched and parsed, not
// shown. It signs in (a real navigation, it is rare) when the tab is not on
// the SP's site or the SP answered with its sign-in page.
func (a *Admin) openQuick(path, readyID string) error {
	ready := "#" + cssEscapeID(readyID)
	p, err := a.fetchPage(path, ready)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if p.OffSite || p.signInPage(a.env.Pages.Login) {
		if err := a.SignIn(); err != nil {
			return err
		}
		if p, err = a.fetchPage(path, ready); err != nil {
			return fmt.Errorf("open %s: %w", path, err)
		}
	}
	if err := p.failed("open " + path); err != nil {
		return err
	}
	if p.OffSite {
		return fmt.Errorf("open %s: no #%s: the tab is still not on the SP after signing in", path, readyID)
	}
	if !p.Ready {
		return fmt.Errorf("open %s: no #%s (HTTP %d at %s)", path, readyID, p.Status, p.URL)
	}
	return nil
}

// fieldChanges are what a person would do to a form before submitting it,
// by element ID: click radios, type into fields, tick or clear checkboxes.
type fieldChanges struct {
	Radios []string        `json:"radios"`
	Values [][2]string     `json:"values"`
	Checks map[string]bool `json:"checks"`
}

// applyQuick makes the changes on the parsed page's elements, with the
// render way's checks (SetFields, setChecked, Click): it fails naming the
// first element that is missing or a value a field refused (a select
// without that option).
func (a *Admin) applyQuick(c fieldChanges) error {
	if c.Checks == nil {
		c.Checks = map[string]bool{}
	}
	cJSON, _ := json.Marshal(c)
	res, err := evalString(a.Tab, fmt.Sprintf(`(() => { `+submitRulesJS+` const d = window.__hmpDoc; if (!d) return 'no fetched page';
		const c = %s;
		// control finds the element, or says why a person could not change it:
		// missing, disabled or not shown (quick_rules.go). No page script runs
		// here that could have enabled it: such a target needs HMPCONFORM_RENDER=all.
		const control = (what, id) => { const el = d.getElementById(id); if (!el) return {why: what + ' #' + id + ': missing'};
			const b = whyBlocked(el); return b ? {why: what + ' #' + id + ': ' + b + ' (a person cannot change it)'} : {el}; };
		for (const id of c.radios || []) { const {el, why} = control('click', id); if (why) return why; el.checked = true; }
		for (const [id, v] of c.values || []) { const {el, why} = control('set', id); if (why) return why;
			el.value = v; if (el.value !== v) return 'set #' + id + ': refused'; }
		for (const [id, v] of Object.entries(c.checks)) { const {el, why} = control('set', id); if (why) return why; el.checked = v; }
		return 'ok'; })()`, cJSON))
	if err != nil {
		return err
	}
	if res != "ok" {
		return fmt.Errorf("%s", res)
	}
	return nil
}

// submitQuick submits a form of the parsed page as the browser would when
// the button submitterID is pressed (formCSS "" means the button's own
// form), and makes the page the answer ends on the parsed page. It fails
// when there is no answer, on an HTTP status of 500 or more, and when that
// page has no element matching readyCSS.
func (a *Admin) submitQuick(formCSS, submitterID, readyCSS string) (fetchedPage, error) {
	formJSON, _ := json.Marshal(formCSS)
	subJSON, _ := json.Marshal(submitterID)
	readyJSON, _ := json.Marshal(readyCSS)
	var p fetchedPage
	err := evalJSONAsync(a.Tab, fmt.Sprintf(`(async () => { %s `+submitRulesJS+`
		const d = window.__hmpDoc, base = window.__hmpURL;
		if (!d) return JSON.stringify({error: 'no fetched page'});
		const sub = d.getElementById(%[3]s);
		if (!sub) return JSON.stringify({error: 'no #' + %[3]s});
		const form = %[2]s ? d.querySelector(%[2]s) : sub.form;
		if (!form) return JSON.stringify({error: 'no form ' + (%[2]s || 'for #' + %[3]s)});
		if (sub.form !== form) return JSON.stringify({error: '#' + %[3]s + ' does not submit ' + %[2]s});
		// A browser does not submit a form that fails its constraints.
		if (!form.noValidate && !sub.formNoValidate && !form.checkValidity()) {
			const bad = Array.from(form.elements).filter(el => el.willValidate && !el.checkValidity());
			return JSON.stringify({error: 'the browser would not submit it: ' + bad.map(el => '#' + (el.id || el.name) + ': ' + el.validationMessage).join('; ')});
		}
		// The submitter's formaction, formmethod, formenctype win over the form's.
		const attr = (name) => sub.hasAttribute('form' + name) ? sub.getAttribute('form' + name) : form.getAttribute(name);
		let method = (attr('method') || 'get').toLowerCase();
		if (method !== 'post') method = 'get';
		let enctype = (attr('enctype') || '').toLowerCase();
		if (enctype !== 'multipart/form-data' && enctype !== 'text/plain') enctype = 'application/x-www-form-urlencoded';
		const action = new URL(attr('action') || base, base);
		action.hash = '';
		const why = whySubmitFails(form, sub, action, base, window.__hmpCSP || '');
		if (why) return JSON.stringify({error: '#' + %[3]s + ': ' + why});
		// Submission normalises line breaks in names and values to CRLF.
		const crlf = s => s.replace(/\r\n|\r|\n/g, '\r\n');
		const entries = Array.from(new FormData(form, sub)).map(([k, v]) => [crlf(k), typeof v === 'string' ? crlf(v) : v]);
		const init = {method: method.toUpperCase(), credentials: 'same-origin', cache: 'no-store', redirect: 'follow'};
		const strings = () => entries.map(([k, v]) => [k, typeof v === 'string' ? v : v.name]);
		if (method === 'get') {
			action.search = new URLSearchParams(strings()).toString();
		} else if (enctype === 'multipart/form-data') {
			const fd = new FormData();
			for (const [k, v] of entries) fd.append(k, v);
			init.body = fd;
		} else if (enctype === 'text/plain') {
			init.body = strings().map(([k, v]) => k + '=' + v + '\r\n').join('');
			init.headers = {'Content-Type': 'text/plain'};
		} else {
			init.body = new URLSearchParams(strings());
		}
		try {
			const r = await fetch(action.href, init);
			const p = await adopt(r, %[4]s);
			p.action = action.pathname;
			return JSON.stringify(p);
		} catch (e) { return JSON.stringify({error: 'fetch failed: ' + String(e), action: action.pathname}); }
	})()`, adoptJS, formJSON, subJSON, readyJSON), &p)
	if err != nil {
		return p, fmt.Errorf("submit #%s: %w", submitterID, err)
	}
	what := "submit #" + submitterID
	if p.Action != "" {
		what += " to " + p.Action
	}
	if err := p.failed(what); err != nil {
		return p, err
	}
	if !p.Ready {
		return p, fmt.Errorf("after #%s: no %s on the page the form led to (HTTP %d at %s)", submitterID, readyCSS, p.Status, p.URL)
	}
	return p, nil
}

// evalString evaluates a JS expression that returns a string.
func evalString(tab context.Context, expr string) (string, error) {
	return browser.Get(tab, StepTimeout, chromedp.Evaluate[string](expr))
}
