package framework

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hmpconform/hmpconform/internal/tlsutil"
	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

// waitsSite serves the pages the wait tests need over TLS on
// waits.example.test, and returns a tab in a Chromium that trusts it.
func waitsSite(t *testing.T) (base string, tab context.Context) {
	t.Helper()
	if err := browser.CheckExecPath(browser.ResolveExecPath("")); err != nil {
		t.Skip(err)
	}
	ca, err := tlsutil.NewCA("waits test CA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	const host = "waits.example.test"
	cert, err := ca.IssueServer([]string{host}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	page := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `<!doctype html><title>t</title>%s`, body)
		}
	}
	// The same element on both sides of a form post: a wait for it must
	// not be satisfied by the page the click leaves.
	mux.HandleFunc("GET /form", page(`<p id="result">old</p><form method="post" action="/next"><button id="go">go</button></form>`))
	mux.HandleFunc("POST /next", func(w http.ResponseWriter, r *http.Request) {
		// An answer that takes a while, like an SP's ACS on a busy machine.
		time.Sleep(300 * time.Millisecond)
		page(`<p id="result">new</p>`)(w, r)
	})
	// Passes through an auto-posting page, as a SAML login does.
	mux.HandleFunc("GET /autopost", page(`<form id="f" method="post" action="/next"></form><script>document.getElementById('f').submit()</script>`))
	mux.HandleFunc("GET /late", page(`<p>wait</p><script>setTimeout(() => { const p = document.createElement('p'); p.id = 'late'; document.body.appendChild(p); }, 200)</script>`))
	mux.HandleFunc("GET /hidden", page(`<p id="hidden" style="display:none">x</p><p><input id="a"><input id="b"></p>`))
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	b, err := browser.Start(browser.Options{
		HostResolverRules: "MAP *.test 127.0.0.1",
		TrustedSPKI:       []string{tlsutil.SPKIHash(ca.Cert)},
		UserDataDir:       t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	tab, cancel, err := b.NewTab(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	return "https://" + net.JoinHostPort(host, port), tab
}

func resultText(t *testing.T, tab context.Context) string {
	t.Helper()
	s, err := browser.Get(tab, StepTimeout, chromedp.Evaluate[string](`document.getElementById('result').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWaits(t *testing.T) {
	base, tab := waitsSite(t)

	t.Run("ClickAndWaitFor waits for the next document, not the old one", func(t *testing.T) {
		if err := browser.Run(tab, StepTimeout, Open(base+"/form", "#go"), ClickAndWaitFor("go", "#result")); err != nil {
			t.Fatal(err)
		}
		if got := resultText(t, tab); got != "new" {
			t.Fatalf("#result = %q after the click, want the next page's %q", got, "new")
		}
	})

	t.Run("ClickAndWaitForLoad waits for the next document", func(t *testing.T) {
		if err := browser.Run(tab, StepTimeout, Open(base+"/form", "#go"), ClickAndWaitForLoad("go")); err != nil {
			t.Fatal(err)
		}
		if got := resultText(t, tab); got != "new" {
			t.Fatalf("#result = %q, want %q", got, "new")
		}
	})

	t.Run("Open follows an auto-posting page to the element", func(t *testing.T) {
		if err := browser.Run(tab, StepTimeout, Open(base+"/autopost", "#result")); err != nil {
			t.Fatal(err)
		}
		if got := resultText(t, tab); got != "new" {
			t.Fatalf("#result = %q, want %q", got, "new")
		}
	})

	t.Run("WaitForElement sees an element a script adds later", func(t *testing.T) {
		if err := browser.Run(tab, StepTimeout, Open(base+"/late", "p"), WaitForElement("#late")); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("waits end with their timeout when the element never comes", func(t *testing.T) {
		err := browser.Run(tab, 500*time.Millisecond, Open(base+"/hidden", "#nothing-like-this"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("want a deadline error, got %v", err)
		}
		err = browser.Run(tab, 500*time.Millisecond, WaitForVisible("hidden"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WaitForVisible on a display:none element: want a deadline error, got %v", err)
		}
		// The tab is still usable after a timeout.
		if err := browser.Run(tab, StepTimeout, WaitForElement("#hidden")); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("SetFields sets every field and names a missing one", func(t *testing.T) {
		if err := browser.Run(tab, StepTimeout, Open(base+"/hidden", "#a"), SetFields([2]string{"a", "one"}, [2]string{"b", ""})); err != nil {
			t.Fatal(err)
		}
		got, err := browser.Get(tab, StepTimeout, chromedp.Evaluate[string](`document.getElementById('a').value + '|' + document.getElementById('b').value`))
		if err != nil || got != "one|" {
			t.Fatalf("values = %q, %v; want %q", got, err, "one|")
		}
		err = browser.Run(tab, StepTimeout, SetFields([2]string{"a", "two"}, [2]string{"nope", "x"}))
		if err == nil || !strings.Contains(err.Error(), "set #nope: missing") {
			t.Fatalf("want an error naming #nope, got %v", err)
		}
	})

	t.Run("Click refuses a missing element", func(t *testing.T) {
		err := browser.Run(tab, 500*time.Millisecond, Click("nope"))
		if err == nil {
			t.Fatal("Click on a missing element succeeded")
		}
	})
}

func TestCSSEscapeID(t *testing.T) {
	for id, want := range map[string]string{
		"login":      "login",
		"save-user":  "save-user",
		"a_b9":       "a_b9",
		"9lives":     `\39 lives`,
		"x.y":        `x\2e y`,
		"persona-01": "persona-01",
	} {
		if got := cssEscapeID(id); got != want {
			t.Errorf("cssEscapeID(%q) = %q, want %q", id, got, want)
		}
	}
}
