// Package browser is the suites' small wrapper around chromedp: one headless
// Chromium per process, a tab per person with its own cookies and storage
// (new, or wiped and reused: see recycle.go), and a per-call timeout that
// never kills the tab or the browser.
//
// chromedp binds the life of a browser to the context of the first Run on
// the browser's context, and the life of a tab to the context of the first
// Run on the tab's context. Start and NewTab therefore make that first run
// themselves, on contexts with no deadline; every later call goes through
// Run or Get, which derive a timeout context per call. A timeout that expires
// there fails the call with context.DeadlineExceeded and leaves the tab
// usable.
package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/chromedp"
)

const (
	// DefaultExecPath is where Debian's chromium package installs the browser.
	DefaultExecPath = "/usr/bin/chromium"
	// ExecPathEnv names the environment variable that replaces DefaultExecPath.
	ExecPathEnv = "HMPCONFORM_CHROMIUM"
	// DefaultTimeout bounds the helpers that take no timeout (Screenshot,
	// HTML, Location) and the start of the browser and of a tab.
	DefaultTimeout = 30 * time.Second

	windowWidth  = 1280
	windowHeight = 900
)

// Options configure Start.
type Options struct {
	// ExecPath is the Chromium binary. Empty means $HMPCONFORM_CHROMIUM, or
	// DefaultExecPath when that is unset.
	ExecPath string
	// HostResolverRules is passed as --host-resolver-rules, for example
	// "MAP *.test 127.0.0.1". Empty leaves the flag out.
	HostResolverRules string
	// TrustedSPKI holds base64 SHA-256 hashes of certificates' public keys
	// (tlsutil.SPKIHash of each server's leaf) that Chromium accepts
	// whatever their issuer. Joined with commas into
	// --ignore-certificate-errors-spki-list.
	TrustedSPKI []string
	// UserDataDir is the profile directory. Required; give a fresh temporary
	// directory (Chromium honours TrustedSPKI only with an explicit one).
	UserDataDir string
	// Headless runs Chromium without a window. Nil means true; a visible
	// window (new(false)) needs a display.
	Headless *bool
	// ReuseTabs wipes a closed tab and hands it to the next NewTab instead
	// of opening a new one (see recycle.go).
	ReuseTabs bool
}

// Browser is a running Chromium.
type Browser struct {
	ctx         context.Context // the chromedp context of the browser's first tab
	cancel      context.CancelFunc
	allocCancel context.CancelFunc
	execPath    string
	closeOnce   sync.Once
	reuseTabs   bool

	spareMu sync.Mutex
	spare   []*pooledTab // wiped tabs, ready for NewTab
}

// ResolveExecPath returns the Chromium binary that Start would use for
// explicit: explicit itself, else $HMPCONFORM_CHROMIUM, else DefaultExecPath.
func ResolveExecPath(explicit string) string {
	if explicit != "" {
		return explicit
	}
	if p := os.Getenv(ExecPathEnv); p != "" {
		return p
	}
	return DefaultExecPath
}

// CheckExecPath reports, in one line a person can act on, when path is not
// an executable file.
func CheckExecPath(path string) error {
	fi, err := os.Stat(path)
	if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("chromium not found at %s: run `apt-get install -y chromium` (or set %s)", path, ExecPathEnv)
	}
	return nil
}

// flag is one Chromium command-line switch; a bool true value is a bare
// switch, a string value is --name=value.
type flag struct {
	name  string
	value any
}

// flags returns the switches Start passes, in order. chromedp itself adds
// --remote-debugging-pipe and the first URL, about:blank.
func flags(opts Options) []flag {
	fs := []flag{}
	if opts.Headless == nil || *opts.Headless {
		fs = append(fs, flag{"headless", true})
	}
	fs = append(fs,
		flag{"no-sandbox", true},
		flag{"disable-gpu", true},
		flag{"disable-background-networking", true},
		flag{"disable-component-update", true},
		flag{"disable-sync", true},
		flag{"no-first-run", true},
		flag{"user-data-dir", opts.UserDataDir},
	)
	if opts.HostResolverRules != "" {
		fs = append(fs, flag{"host-resolver-rules", opts.HostResolverRules})
	}
	if len(opts.TrustedSPKI) > 0 {
		fs = append(fs, flag{"ignore-certificate-errors-spki-list", strings.Join(opts.TrustedSPKI, ",")})
	}
	fs = append(fs,
		flag{"disable-quic", true},
		flag{"window-size", fmt.Sprintf("%d,%d", windowWidth, windowHeight)},
		// Features a harness pays for and never uses: the back-forward
		// cache keeps every page a person leaves alive in its renderer (the
		// specs never go back), and RenderDocument builds a new frame host
		// for every document (off: the JIT suite's Chromium CPU fell ~18%
		// and its wall time ~12%). The WebUI omnibox popups are two
		// renderers per browser context (each person's tab has its own)
		// that run script on every navigation, for a popup nobody opens
		// (off: Chromium's CPU per login fell ~20%; README, "Performance").
		// Pages, cookies and the protocol are unchanged.
		flag{"disable-features", "RenderDocument,BackForwardCache,WebUIOmniboxPopup,WebUIOmniboxAimPopup"},
	)
	return fs
}

// Start launches Chromium and waits until it answers. Close it with Close.
func Start(opts Options) (*Browser, error) {
	path := ResolveExecPath(opts.ExecPath)
	if err := CheckExecPath(path); err != nil {
		return nil, err
	}
	if opts.UserDataDir == "" {
		return nil, errors.New("start chromium: Options.UserDataDir is required (use a fresh temporary directory)")
	}
	if err := os.MkdirAll(opts.UserDataDir, 0o700); err != nil {
		return nil, fmt.Errorf("start chromium: %w", err)
	}

	// Not chromedp.DefaultExecAllocatorOptions: the switch list is exactly
	// the one flags returns.
	ao := []chromedp.ExecAllocatorOption{chromedp.ExecPath(path)}
	for _, f := range flags(opts) {
		ao = append(ao, chromedp.Flag(f.name, f.value))
	}
	// No deadline on these contexts: the browser lives as long as the
	// context of its first run.
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), ao...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b := &Browser{ctx: ctx, cancel: cancel, allocCancel: allocCancel, execPath: path, reuseTabs: opts.ReuseTabs}

	// A watchdog instead of a deadline: if the first run hangs, cancel the
	// whole browser.
	watchdog := time.AfterFunc(DefaultTimeout, cancel)
	err := chromedp.Do(ctx)
	stopped := watchdog.Stop()
	if err != nil {
		b.Close()
		if !stopped {
			err = fmt.Errorf("no answer within %s: %w", DefaultTimeout, err)
		}
		return nil, fmt.Errorf("start chromium %s: %w", path, err)
	}
	return b, nil
}

// ExecPath returns the binary the browser runs.
func (b *Browser) ExecPath() string { return b.execPath }

// Close stops the browser and every tab. It is safe to call more than once.
func (b *Browser) Close() {
	b.closeOnce.Do(func() {
		b.cancel() // waits for the browser process to exit
		b.allocCancel()
	})
}

// NewTab opens a tab in a browser context of its own (its own cookies and
// storage, like a fresh incognito window), so specs never see each other's
// sessions. The tab closes (with ReuseTabs: is wiped and kept for the next
// NewTab) when cancel is called, when parent ends, or when the browser
// closes; either way the returned context ends then. parent may carry a
// deadline; it only bounds the tab's life, it is not used to run anything.
//
// A wiped tab keeps its browser context, and with it what the wipe does not
// reset (recycle.go says what it does): the HTTP authentication cache, HSTS
// and other network state of the context, permission grants, and DevTools
// overrides set on the tab (emulation, user agent, extra headers, scripts
// added with Page.addScriptToEvaluateOnNewDocument). A user who needs any of
// those clean, or sets them, must not rely on ReuseTabs.
//
// Run actions in the tab with Run or Get (per-call timeouts); chromedp.Do or
// chromedp.Run on the tab itself are fine too but have no timeout.
func (b *Browser) NewTab(parent context.Context) (context.Context, context.CancelFunc, error) {
	if parent == nil {
		parent = context.Background()
	}
	if err := parent.Err(); err != nil {
		return nil, nil, fmt.Errorf("new tab: %w", err)
	}
	t := b.takeSpare()
	if t == nil {
		var err error
		if t, err = b.openTab(); err != nil {
			return nil, nil, err
		}
	}
	// The caller's context ends when the tab is given back, so nothing it
	// still runs reaches the tab's next user.
	tab, cancelTab := context.WithCancel(t.ctx)
	var once sync.Once
	giveBack := func() {
		once.Do(func() {
			cancelTab()
			b.release(t)
		})
	}
	stop := context.AfterFunc(parent, giveBack)
	cancel := func() {
		stop()
		giveBack()
	}
	return tab, cancel, nil
}

// Run runs actions in order in tab, failing with an error that wraps
// context.DeadlineExceeded when they take longer than timeout. The tab stays
// open and usable after a timeout.
func Run(tab context.Context, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(tab, timeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// Get runs one action that returns a value, with the same timeout rule as
// Run. For example:
//
//	text, err := browser.Get(tab, 5*time.Second, chromedp.Text(chromedp.ID("status")))
func Get[T any](tab context.Context, timeout time.Duration, action chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(tab, timeout)
	defer cancel()
	return chromedp.Run(ctx, action)
}

// Screenshot returns a PNG of the whole page, beyond the viewport.
func Screenshot(tab context.Context) ([]byte, error) {
	b, err := Get(tab, DefaultTimeout, chromedp.FullScreenshot(100))
	if err != nil {
		return nil, fmt.Errorf("screenshot: %w", err)
	}
	return b, nil
}

// HTML returns the outerHTML of the document element, as the page is now
// (after scripts ran), not as it was served.
func HTML(tab context.Context) (string, error) {
	s, err := Get(tab, DefaultTimeout, chromedp.Evaluate[string](`document.documentElement ? document.documentElement.outerHTML : ""`))
	if err != nil {
		return "", fmt.Errorf("page html: %w", err)
	}
	return s, nil
}

// Location returns the URL of the document in the tab.
func Location(tab context.Context) (string, error) {
	s, err := Get(tab, DefaultTimeout, chromedp.Location())
	if err != nil {
		return "", fmt.Errorf("page location: %w", err)
	}
	return s, nil
}
