package browser

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// Opening a tab in a fresh browser context and closing it again costs
// Chromium about 0.6 CPU-seconds (~40% of a login's), paid by every
// person in every spec. With Options.ReuseTabs a closed tab is wiped instead
// and handed to the next NewTab: it leaves its page for about:blank, and
// every origin it showed loses its cookies, storage of every kind (local,
// session, IndexedDB, caches, service workers) and the tab its history and
// window.name; the HTTP cache goes too. The wipe then checks, rather than
// assumes, that the context has no cookies left and the tab's history is
// one about:blank entry. A tab whose user opened anything else in its
// browser context (a popup, a cross-site iframe, a worker: targets the
// wipe cannot reach, or storage partitioned under another site) is not
// wiped but closed, which disposes of the whole context. recycle_test.go
// and recycle_strangers_test.go prove that nothing one user of a tab set
// is visible to the next.

// maxSpareTabs bounds the wiped tabs kept for reuse; a spec opens at most
// a handful of people at once.
const maxSpareTabs = 8

// resetTimeout bounds wiping a tab; a tab that cannot be wiped in time is
// closed instead.
const resetTimeout = 10 * time.Second

// pooledTab is a tab with its own browser context, and the origins its
// frames have shown since it was last wiped.
type pooledTab struct {
	ctx       context.Context // chromedp context of the tab; the tab lives as long as it
	cancel    context.CancelFunc
	id        target.ID
	browserCx cdp.BrowserContextID

	mu      sync.Mutex
	origins map[string]bool
	// stranger is a target other than the tab seen in its browser context
	// (a popup, a cross-site iframe, a worker), even one gone since.
	stranger string
}

// openTab opens a tab in a new browser context and starts recording the
// origins its frames navigate to.
func (b *Browser) openTab() (*pooledTab, error) {
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	// The first run binds the tab's event loop to ctx itself, so it must
	// have no deadline of its own: guard it with a watchdog instead.
	watchdog := time.AfterFunc(DefaultTimeout, cancel)
	err := chromedp.Do(ctx)
	watchdog.Stop()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("new tab: %w", err)
	}
	c := chromedp.FromContext(ctx)
	t := &pooledTab{ctx: ctx, cancel: cancel, id: c.Target.TargetID, browserCx: c.BrowserContextID, origins: map[string]bool{}}
	if t.browserCx == "" {
		cancel()
		return nil, fmt.Errorf("new tab: no browser context of its own")
	}
	if err := chromedp.Listen(ctx, t.record); err != nil {
		cancel()
		return nil, fmt.Errorf("new tab: %w", err)
	}
	return t, nil
}

// record notes the origin of every document a frame of the tab commits,
// and any other target that appears in the tab's browser context (the tab
// session discovers and auto-attaches targets: chromedp turns both on).
func (t *pooledTab) record(ev any) {
	var info *target.Info
	switch ev := ev.(type) {
	case *page.EventFrameNavigated:
		if ev.Frame == nil {
			return
		}
		if o := ev.Frame.SecurityOrigin; o != "" && o != "null" && o != "://" {
			t.mu.Lock()
			t.origins[o] = true
			t.mu.Unlock()
		}
		return
	case *target.EventTargetCreated:
		info = ev.TargetInfo
	case *target.EventAttachedToTarget:
		info = ev.TargetInfo
	default:
		return
	}
	if t.isStranger(info) {
		t.mu.Lock()
		if t.stranger == "" {
			t.stranger = info.Type + " " + info.URL
		}
		t.mu.Unlock()
	}
}

// isStranger reports whether info is a target in the tab's browser context
// other than the tab itself. Not counted: a "tab" target only wraps a page,
// which is listed on its own, and "browser_ui" targets are Chromium's own
// pages (the omnibox popup of the tab's window), out of a web page's reach.
// Any other type, known or not, counts.
func (t *pooledTab) isStranger(info *target.Info) bool {
	if info == nil || info.BrowserContextID != t.browserCx || info.TargetID == t.id {
		return false
	}
	switch info.Type {
	case "tab", "browser", "browser_ui":
		return false
	}
	return true
}

// checkAlone fails when the tab's browser context holds, or has held since
// the last wipe, a target other than the tab: the wipe reaches neither it
// nor storage it keeps under another top-level site.
func (t *pooledTab) checkAlone(ctx context.Context) error {
	t.mu.Lock()
	seen := t.stranger
	t.mu.Unlock()
	if seen != "" {
		return fmt.Errorf("the tab's user opened another target (%s)", seen)
	}
	res, err := chromedp.CallBrowser(ctx, target.GetTargets, target.GetTargetsParams{
		Filter: target.Filter{{Exclude: true, Type: "browser"}, {Exclude: true, Type: "tab"}, {}},
	})
	if err != nil {
		return fmt.Errorf("list targets: %w", err)
	}
	for _, info := range res.TargetInfos {
		if t.isStranger(info) {
			return fmt.Errorf("the tab's browser context has another target (%s %s)", info.Type, info.URL)
		}
	}
	return nil
}

// checkWiped verifies the wipe: no cookie in the tab's browser context and
// a history of one about:blank entry.
func (t *pooledTab) checkWiped(ctx context.Context) error {
	cookies, err := chromedp.CallBrowser(ctx, storage.GetCookies, storage.GetCookiesParams{BrowserContextID: t.browserCx})
	if err != nil {
		return fmt.Errorf("read the cookies: %w", err)
	}
	if n := len(cookies.Cookies); n > 0 {
		return fmt.Errorf("%d cookies survived the wipe (one for %s)", n, cookies.Cookies[0].Domain)
	}
	hist, err := chromedp.Call(ctx, page.GetNavigationHistory, cdp.Empty{})
	if err != nil {
		return fmt.Errorf("read the history: %w", err)
	}
	if len(hist.Entries) != 1 || hist.Entries[0].URL != "about:blank" {
		return fmt.Errorf("the history is not one about:blank entry: %d entries", len(hist.Entries))
	}
	return nil
}

func (t *pooledTab) takeOrigins() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for o := range t.origins {
		out = append(out, o)
	}
	t.origins = map[string]bool{}
	return out
}

// wipe removes everything the tab's last user left behind; see the top of
// this file.
func (t *pooledTab) wipe() error {
	ctx, cancel := context.WithTimeout(t.ctx, resetTimeout)
	defer cancel()
	if err := t.checkAlone(ctx); err != nil {
		return err
	}
	// Leave the page, so none of its scripts runs on, or writes again,
	// while its storage is cleared.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		return fmt.Errorf("leave the page: %w", err)
	}
	// about:blank keeps the browsing context, and with it window.name.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.name = ""`)); err != nil {
		return fmt.Errorf("clear window.name: %w", err)
	}
	// "all" includes the tab's session storage of the origin
	// (recycle_test.go checks each kind).
	for _, o := range t.takeOrigins() {
		if _, err := chromedp.Call(ctx, storage.ClearDataForOrigin, storage.ClearDataForOriginParams{Origin: o, StorageTypes: "all"}); err != nil {
			return fmt.Errorf("clear the storage of %s: %w", o, err)
		}
	}
	steps := []struct {
		what string
		cmd  cdp.Command[cdp.Empty, cdp.Empty]
	}{
		{"cookies", network.ClearBrowserCookies},
		{"cache", network.ClearBrowserCache},
		{"history", page.ResetNavigationHistory},
	}
	for _, s := range steps {
		if _, err := chromedp.Call(ctx, s.cmd, cdp.Empty{}); err != nil {
			return fmt.Errorf("clear the %s: %w", s.what, err)
		}
	}
	if err := t.checkWiped(ctx); err != nil {
		return err
	}
	// Again: a script of the page left may have opened something meanwhile.
	return t.checkAlone(ctx)
}

// takeSpare returns a wiped tab, or nil when there is none.
func (b *Browser) takeSpare() *pooledTab {
	b.spareMu.Lock()
	defer b.spareMu.Unlock()
	for len(b.spare) > 0 {
		t := b.spare[len(b.spare)-1]
		b.spare = b.spare[:len(b.spare)-1]
		if t.ctx.Err() == nil {
			return t
		}
	}
	return nil
}

// release wipes t and keeps it for the next NewTab, or closes it when tabs
// are not reused, when the wipe fails, or when enough are kept.
func (b *Browser) release(t *pooledTab) {
	if !b.reuseTabs || t.ctx.Err() != nil {
		t.cancel()
		return
	}
	if err := t.wipe(); err != nil {
		t.cancel()
		return
	}
	b.spareMu.Lock()
	keep := len(b.spare) < maxSpareTabs
	if keep {
		b.spare = append(b.spare, t)
	}
	b.spareMu.Unlock()
	if !keep {
		t.cancel()
	}
}
