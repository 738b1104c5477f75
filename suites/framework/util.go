package framework

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/onsi/ginkgo/v2"

	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

func queryEscape(s string) string { return url.QueryEscape(s) }

// SetField sets an input's, textarea's or select's value by element ID and
// fails if the element is missing or did not take the value. (chromedp's
// SetValue refuses the empty string.)
func SetField(id, value string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		idJSON, _ := json.Marshal(id)
		valueJSON, _ := json.Marshal(value)
		expr := fmt.Sprintf(`(() => { const el = document.getElementById(%s); if (!el) return 'missing';
			el.value = %s; el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true}));
			return el.value === %s ? 'ok' : 'refused'; })()`, idJSON, valueJSON, valueJSON)
		res, err := chromedp.Evaluate[string](expr)(ctx, t)
		if err != nil {
			return chromedp.Void{}, err
		}
		if res != "ok" {
			return chromedp.Void{}, fmt.Errorf("set #%s: %s", id, res)
		}
		return chromedp.Void{}, nil
	}
}

// ClickAndWaitForLoad clicks a submit button by ID and waits until a new
// document has replaced the current one and finished loading. Waiting for
// an element instead races: the old page may have the same element. The
// wait is a promise in the page (see waits.go), not a poll.
func ClickAndWaitForLoad(id string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := chromedp.Evaluate[bool](`window.`+oldMark+` = true`)(ctx, t); err != nil {
			return chromedp.Void{}, fmt.Errorf("mark page: %w", err)
		}
		if _, err := Click(id)(ctx, t); err != nil {
			return chromedp.Void{}, err
		}
		if _, err := waitForLoad()(ctx, t); err != nil {
			return chromedp.Void{}, fmt.Errorf("wait for the page after #%s: %w", id, err)
		}
		return chromedp.Void{}, nil
	}
}

// evalJSONAsync is evalJSON for an expression that returns a promise.
func evalJSONAsync(tab context.Context, expr string, out any) error {
	s, err := browser.Get(tab, StepTimeout, chromedp.Evaluate[string](expr, func(p *runtime.EvaluateParams) { p.AwaitPromise = new(true) }))
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(s), out)
}

// GinkgoParallelProcessOrOne is the Ginkgo process number (1 outside Ginkgo).
func GinkgoParallelProcessOrOne() int {
	defer func() { _ = recover() }()
	if n := ginkgo.GinkgoParallelProcess(); n > 0 {
		return n
	}
	return 1
}
