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
	"github.com/chromedp/chromedp"
)

// Opening a tab in a fresh browser context and closing it again costs
// Chromium about 0.6 CPU-seconds (~40% of a login's), paid by every
// person in every spec. With Options.ReuseTabs a closed tab is wiped instead
// and handed to the next NewTab: it leaves its page for about:blank, and
// every origin it showed loses its cookies, storage of every kind (local,
// session, IndexedDB, caches, service workers) and the tab its history and
// window.name; the HTTP cache goes too. recycle_test.go proves that nothing
// one user of a tab set is visible to the next.

// maxSpareTabs bounds the wiped tabs kept for reuse; a spec opens at most
// a handful of people at once.
const maxSpareTabs = 8

// resetTimeout bounds wiping a tab; a tab that cannot be wiped in time is
// closed instead.
const resetTimeout = 10 * time.Second

// pooledTab is a tab with its own browser context, and the origins its
// frames have shown since it was last wiped.
type pooledTab struct {
	ctx    context.Context // chromedp context of the tab; the tab lives as long as it
	cancel context.CancelFunc

	mu      sync.Mutex
	origins map[string]bool
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
	t := &pooledTab{ctx: ctx, cancel: cancel, origins: map[string]bool{}}
	if err := chromedp.Listen(ctx, t.record); err != nil {
		cancel()
		return nil, fmt.Errorf("new tab: %w", err)
	}
	return t, nil
}

// record notes the origin of every document a frame of the tab commits.
func (t *pooledTab) record(ev any) {
	nav, ok := ev.(*page.EventFrameNavigated)
	if !ok || nav.Frame == nil {
		return
	}
	if o := nav.Frame.SecurityOrigin; o != "" && o != "null" && o != "://" {
		t.mu.Lock()
		t.origins[o] = true
		t.mu.Unlock()
	}
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
	return nil
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
