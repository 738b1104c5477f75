package browser

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// strangerSites are a top-level site and a site of another registrable
// domain (so its iframe runs in its own process and its storage is
// partitioned under the top-level site). The other site's /leave page
// reports what the last user left in its local storage, then leaves a
// value of its own.
type strangerSites struct {
	top, other site
	seen       chan string // what each load of /leave found
}

func newStrangerSites(t *testing.T) strangerSites {
	t.Helper()
	ca := newCA(t)
	s := strangerSites{seen: make(chan string, 16)}
	other := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/leave":
			fmt.Fprint(w, `<!doctype html><p>leave</p><script>
				const was = localStorage.getItem('k');
				localStorage.setItem('k', 'left');
				fetch('/seen?v=' + encodeURIComponent(was === null ? 'none' : was)).then(() => {
					if (location.hash === '#close') window.close();
				});
			</script>`)
		case "/seen":
			s.seen <- r.URL.Query().Get("v")
		}
	})
	s.other = newSite(t, ca, "frame.other.test", other)
	top := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/frame":
			fmt.Fprintf(w, `<!doctype html><iframe src="%s"></iframe>`, s.other.url("/leave"))
		case "/popup":
			fmt.Fprintf(w, `<!doctype html><a id="open" target="_blank" href="%s">open</a>`, s.other.url("/leave"+r.URL.Query().Get("hash")))
		default:
			fmt.Fprint(w, `<!doctype html><p>top</p>`)
		}
	})
	s.top = newSite(t, ca, "top.example.test", top)
	return s
}

// awaitSeen is what the next load of /leave found.
func (s strangerSites) awaitSeen(t *testing.T, ctx context.Context) string {
	t.Helper()
	select {
	case v := <-s.seen:
		return v
	case <-ctx.Done():
		t.Fatal("the other site's /leave page did not report: ", ctx.Err())
		return ""
	}
}

// awaitGone waits until no target shows the other site.
func (s strangerSites) awaitGone(t *testing.T, ctx context.Context, b *Browser) {
	t.Helper()
	for {
		targets, err := chromedp.Targets(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		open := false
		for _, info := range targets {
			open = open || strings.HasPrefix(info.URL, s.other.url("/"))
		}
		if !open {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("the popup did not close itself: ", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// A user who opens a popup or shows a cross-site iframe reaches storage and
// targets a wipe of the tab cannot: the tab must be closed (its browser
// context disposed of), not handed to the next user, who sees nothing.
func TestStrangerTargetsAreNotHandedOn(t *testing.T) {
	if err := CheckExecPath(ResolveExecPath("")); err != nil {
		t.Skip(err)
	}
	s := newStrangerSites(t)
	b, err := Start(Options{
		HostResolverRules: "MAP *.test 127.0.0.1",
		TrustedSPKI:       []string{s.top.spki, s.other.spki},
		UserDataDir:       t.TempDir(),
		ReuseTabs:         true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)

	cases := []struct {
		name string
		// leave makes the first user open the other site somehow; the next
		// user then loads its page the same way, so the same storage
		// partition would be read.
		leave, again func(tab context.Context) error
		// thenAt, when set, is where the first user goes before leaving.
		thenAt string
		// gone: the other site's page closes itself before the tab is given back.
		gone bool
	}{{
		name: "a popup left open",
		leave: func(tab context.Context) error {
			return Run(tab, stepTimeout, chromedp.Navigate(s.top.url("/popup")), chromedp.Click(chromedp.ID("open")))
		},
		again: func(tab context.Context) error {
			return Run(tab, stepTimeout, chromedp.Navigate(s.other.url("/leave")))
		},
	}, {
		name: "a popup that closed itself",
		leave: func(tab context.Context) error {
			return Run(tab, stepTimeout, chromedp.Navigate(s.top.url("/popup?hash=%23close")), chromedp.Click(chromedp.ID("open")))
		},
		gone: true,
		again: func(tab context.Context) error {
			return Run(tab, stepTimeout, chromedp.Navigate(s.other.url("/leave")))
		},
	}, {
		// The iframe is gone by the time the tab is given back.
		name: "a cross-site iframe, then another page",
		leave: func(tab context.Context) error {
			return Run(tab, stepTimeout, chromedp.Navigate(s.top.url("/frame")))
		},
		again:  func(tab context.Context) error { return Run(tab, stepTimeout, chromedp.Navigate(s.top.url("/frame"))) },
		thenAt: s.top.url("/other"),
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), stepTimeout)
			defer cancel()
			first, closeFirst, err := b.NewTab(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			firstID := chromedp.FromContext(first).Target.TargetID
			if err := c.leave(first); err != nil {
				t.Fatal(err)
			}
			if got := s.awaitSeen(t, ctx); got != "none" {
				t.Fatalf("the first user found %q: an earlier case leaked, so this one proves nothing", got)
			}
			if c.thenAt != "" {
				if err := Run(first, stepTimeout, chromedp.Navigate(c.thenAt)); err != nil {
					t.Fatal(err)
				}
			}
			if c.gone {
				s.awaitGone(t, ctx, b)
			}
			closeFirst()

			targets, err := chromedp.Targets(b.ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, info := range targets {
				if info.TargetID == firstID || strings.HasPrefix(info.URL, s.other.url("/")) {
					t.Errorf("the first user's %s %s is still open", info.Type, info.URL)
				}
			}

			second, closeSecond, err := b.NewTab(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer closeSecond()
			if id := chromedp.FromContext(second).Target.TargetID; id == firstID {
				t.Errorf("the tab was handed to the next user")
			}
			if err := c.again(second); err != nil {
				t.Fatal(err)
			}
			if got := s.awaitSeen(t, ctx); got != "none" {
				t.Errorf("the next user sees the last one's storage on the other site: %q", got)
			}
		})
	}
}
