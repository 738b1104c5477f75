package framework

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Event-driven browser steps. chromedp's element queries poll the DOM
// through the DevTools DOM domain and its Navigate waits for the load
// event; a login crosses four documents, so those round trips were most
// of a login's time (see the README's performance section). The steps
// below wait inside the page instead: one Runtime.evaluate whose promise
// resolves when the parsed document, or a MutationObserver after that,
// shows the awaited element, re-issued only when a navigation destroys
// the document it ran in.

// oldMark is set on a document that a click is about to replace, so a
// wait for the next document cannot be satisfied by the old one (which
// may well have the same element).
const oldMark = "__hmpconformOld"

// retryPause separates re-issued waits after an evaluation failed, for
// example while no document has committed yet after the old one went.
const retryPause = 1 * time.Millisecond

// waitScript is a promise that resolves, to the document's URL, once the
// document has finished parsing and has an element matching css
// (visible, when visible is set). With fresh set, a document carrying oldMark never resolves: the navigation
// away from it destroys the promise and the caller waits again in the
// next document.
func waitScript(css string, visible, fresh bool) string {
	return waitScriptFor(css, visible, fresh, "location.href")
}

// waitScriptFor is waitScript resolving to the value of the expression
// result, evaluated in the page once the element is there: a wait and the
// read that follows it in one round trip.
func waitScriptFor(css string, visible, fresh bool, result string) string {
	cssJSON, _ := json.Marshal(css)
	return fmt.Sprintf(`new Promise(resolve => {
		if (%[3]v && window.%[4]s === true) return;
		const ok = () => {
			const el = document.querySelector(%[1]s);
			if (!el) return false;
			if (!%[2]v) return true;
			const r = el.getBoundingClientRect(), st = getComputedStyle(el);
			return (r.width > 0 || r.height > 0) && st.visibility !== 'hidden' && st.display !== 'none';
		};
		// Nothing runs while the parser works: observing its every insertion
		// slowed parsing down badly. After it, watch for script changes.
		const done = () => resolve(%[5]s);
		const watch = () => {
			if (ok()) return done();
			const obs = new MutationObserver(() => { if (ok()) { obs.disconnect(); done(); } });
			obs.observe(document, {subtree: true, childList: true, attributes: true});
		};
		if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', watch);
		else watch();
	})`, cssJSON, visible, fresh, oldMark, result)
}

// waitInPage runs waitScript until it resolves, re-issuing it after each
// navigation; it ends with the context.
func waitInPage(css string, visible, fresh bool) chromedp.Action[chromedp.Void] {
	at := waitInPageAt(css, visible, fresh)
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := at(ctx, t)
		return chromedp.Void{}, err
	}
}

// waitInPageAt is waitInPage that returns the URL of the document the
// element was found in.
func waitInPageAt(css string, visible, fresh bool) chromedp.Action[string] {
	return waitInPageFor(css, visible, fresh, "location.href")
}

// waitInPageFor is waitInPage that returns the value (a string) of the
// expression result in the document the element was found in.
func waitInPageFor(css string, visible, fresh bool, result string) chromedp.Action[string] {
	expr := waitScriptFor(css, visible, fresh, result)
	return func(ctx context.Context, t *chromedp.Target) (string, error) {
		var last error
		for {
			href, err := chromedp.Evaluate[string](expr, awaitPromise)(ctx, t)
			if err == nil {
				return href, nil
			}
			// Expected while documents come and go: "Execution context
			// was destroyed", "Cannot find default execution context".
			last = err
			select {
			case <-ctx.Done():
				return "", fmt.Errorf("wait for %s: %w (last: %v)", css, ctx.Err(), last)
			case <-time.After(retryPause):
			}
		}
	}
}

// waitForLoad waits, without polling, until a document without oldMark
// has fired its load event.
func waitForLoad() chromedp.Action[chromedp.Void] {
	const expr = `new Promise(resolve => {
		if (window.` + oldMark + ` === true) return;
		if (document.readyState === 'complete') return resolve(true);
		window.addEventListener('load', () => resolve(true));
	})`
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		for {
			if _, err := chromedp.Evaluate[bool](expr, awaitPromise)(ctx, t); err == nil {
				return chromedp.Void{}, nil
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, ctx.Err()
			case <-time.After(retryPause):
			}
		}
	}
}

func awaitPromise(p *runtime.EvaluateParams) { p.AwaitPromise = new(true) }

// WaitForElement waits, without polling, until the tab's document has
// finished parsing and has an element matching css.
func WaitForElement(css string) chromedp.Action[chromedp.Void] {
	return waitInPage(css, false, false)
}

// WaitForVisible is WaitForElement for an element (by ID) that must also
// be rendered and not hidden.
func WaitForVisible(id string) chromedp.Action[chromedp.Void] {
	return waitInPage("#"+cssEscapeID(id), true, false)
}

// Open starts a navigation to url and waits until the document it ends on
// (after any redirects) has an element matching css. It does not wait for
// the load event. A navigation the browser refuses (a certificate error,
// a refused connection) fails with chromedp.LoadError.
func Open(url, css string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(startNavigation(url), waitInPage(css, false, true))
}

// openAt is Open that returns the URL of the document it ended on.
func openAt(url, css string) chromedp.Action[string] {
	return func(ctx context.Context, t *chromedp.Target) (string, error) {
		if _, err := startNavigation(url)(ctx, t); err != nil {
			return "", err
		}
		return waitInPageAt(css, false, true)(ctx, t)
	}
}

// startNavigation marks the current document as old and starts a
// navigation to url without waiting for it to load; a wait with fresh set
// then waits in the document the navigation ends on.
func startNavigation(url string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := chromedp.Evaluate[bool](`window.`+oldMark+` = true`)(ctx, t); err != nil {
			return chromedp.Void{}, fmt.Errorf("mark page: %w", err)
		}
		res, err := chromedp.Call(ctx, page.Navigate, page.NavigateParams{URL: url})
		if err != nil {
			return chromedp.Void{}, fmt.Errorf("navigate to %s: %w", url, err)
		}
		if res.ErrorText != "" {
			return chromedp.Void{}, &chromedp.LoadError{ErrorText: res.ErrorText}
		}
		return chromedp.Void{}, nil
	}
}

// Click presses the left mouse button on the centre of the element with
// this ID, as a person would: trusted input events at its position after
// scrolling it into view. It fails when the element is missing or not
// rendered. Like chromedp.Click it first waits for the element to be
// visible; then one evaluation and two input events, instead of
// chromedp's DOM-domain query, box model and scroll round trips.
func Click(id string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := WaitForVisible(id)(ctx, t); err != nil {
			return chromedp.Void{}, fmt.Errorf("click #%s: %w", id, err)
		}
		idJSON, _ := json.Marshal(id)
		type point struct {
			X, Y  float64
			Error string
		}
		p, err := chromedp.Evaluate[point](fmt.Sprintf(`(() => {
			const el = document.getElementById(%s);
			if (!el) return {Error: 'missing'};
			el.scrollIntoView({block: 'center', inline: 'center'});
			const r = el.getBoundingClientRect(), st = getComputedStyle(el);
			if (r.width === 0 || r.height === 0 || st.visibility === 'hidden') return {Error: 'not visible'};
			// A disabled button takes no click: say so rather than wait for a page that never comes.
			if (el.matches(':disabled')) return {Error: 'disabled: a person cannot press it'};
			return {X: r.left + r.width / 2, Y: r.top + r.height / 2};
		})()`, idJSON))(ctx, t)
		if err != nil {
			return chromedp.Void{}, fmt.Errorf("click #%s: %w", id, err)
		}
		if p.Error != "" {
			return chromedp.Void{}, fmt.Errorf("click #%s: %s", id, p.Error)
		}
		if _, err := chromedp.MouseClickXY(p.X, p.Y)(ctx, t); err != nil {
			return chromedp.Void{}, fmt.Errorf("click #%s: %w", id, err)
		}
		return chromedp.Void{}, nil
	}
}

// ClickAndWaitFor clicks a button by ID and waits until a new document
// (not the one clicked in, nor any other that only passes through, such
// as an auto-posting form) has finished parsing and has an element
// matching css.
func ClickAndWaitFor(id, css string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := chromedp.Evaluate[bool](`window.`+oldMark+` = true`)(ctx, t); err != nil {
			return chromedp.Void{}, fmt.Errorf("mark page: %w", err)
		}
		if _, err := Click(id)(ctx, t); err != nil {
			return chromedp.Void{}, err
		}
		if _, err := waitInPage(css, false, true)(ctx, t); err != nil {
			return chromedp.Void{}, fmt.Errorf("after #%s: %w", id, err)
		}
		return chromedp.Void{}, nil
	}
}

// SetFields sets several inputs' values (ID, value pairs, in order) in
// one evaluation, with SetField's checks: it fails naming the first field
// that is missing or did not take its value.
func SetFields(pairs ...[2]string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		pairsJSON, _ := json.Marshal(pairs)
		res, err := chromedp.Evaluate[string](fmt.Sprintf(`(() => { for (const [id, v] of %s) {
			const el = document.getElementById(id); if (!el) return 'set #' + id + ': missing';
			if (el.matches(':disabled')) return 'set #' + id + ': disabled (a person cannot change it)';
			el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true}));
			if (el.value !== v) return 'set #' + id + ': refused'; } return 'ok'; })()`, pairsJSON))(ctx, t)
		if err != nil {
			return chromedp.Void{}, err
		}
		if res != "ok" {
			return chromedp.Void{}, fmt.Errorf("%s", res)
		}
		return chromedp.Void{}, nil
	}
}

// setChecked ticks (true) or clears (false) checkboxes by element ID in
// one evaluation; it fails naming the first one that is missing.
func setChecked(checked map[string]bool) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if len(checked) == 0 {
			return chromedp.Void{}, nil
		}
		checkedJSON, _ := json.Marshal(checked)
		res, err := chromedp.Evaluate[string](fmt.Sprintf(`(() => { for (const [id, v] of Object.entries(%s)) {
			const el = document.getElementById(id); if (!el) return 'set #' + id + ': missing';
			if (el.matches(':disabled')) return 'set #' + id + ': disabled (a person cannot change it)';
			el.checked = v; } return 'ok'; })()`, checkedJSON))(ctx, t)
		if err != nil {
			return chromedp.Void{}, err
		}
		if res != "ok" {
			return chromedp.Void{}, fmt.Errorf("%s", res)
		}
		return chromedp.Void{}, nil
	}
}

// cssEscapeID makes an element ID safe in a CSS selector (the IDs the
// framework uses are plain words; anything else is escaped).
func cssEscapeID(id string) string {
	out := make([]byte, 0, len(id))
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-', c == '_', c >= '0' && c <= '9' && i > 0:
			out = append(out, c)
		default:
			out = append(out, fmt.Sprintf(`\%x `, c)...)
		}
	}
	return string(out)
}
