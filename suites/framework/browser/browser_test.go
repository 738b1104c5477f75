package browser

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"html"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hmpconform/hmpconform/internal/tlsutil"
)

const stepTimeout = 20 * time.Second

// site is an HTTPS test server for one host name, with a certificate issued
// by ca, listening on 127.0.0.1:0.
type site struct {
	srv  *httptest.Server
	host string
	spki string
}

func (s site) url(path string) string {
	_, port, _ := net.SplitHostPort(s.srv.Listener.Addr().String())
	return "https://" + net.JoinHostPort(s.host, port) + path
}

func newSite(t *testing.T, ca *tlsutil.CA, host string, h http.Handler) site {
	t.Helper()
	cert, err := ca.IssueServer([]string{host}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	// Chromium's refusals of untrusted certificates are expected here.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return site{srv: srv, host: host, spki: tlsutil.SPKIHash(cert.Leaf)}
}

func newCA(t *testing.T) *tlsutil.CA {
	t.Helper()
	ca, err := tlsutil.NewCA("browser test CA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func startBrowser(t *testing.T, spki ...string) *Browser {
	t.Helper()
	if err := CheckExecPath(ResolveExecPath("")); err != nil {
		t.Skip(err)
	}
	b, err := Start(Options{
		HostResolverRules: "MAP *.test 127.0.0.1",
		TrustedSPKI:       spki,
		UserDataDir:       t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

func newTab(t *testing.T, b *Browser) context.Context {
	t.Helper()
	tab, cancel, err := b.NewTab(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	return tab
}

func TestFlags(t *testing.T) {
	got := map[string]any{}
	for _, f := range flags(Options{
		HostResolverRules: "MAP *.test 127.0.0.1",
		TrustedSPKI:       []string{"a", "b"},
		UserDataDir:       "/tmp/x",
	}) {
		got[f.name] = f.value
	}
	want := map[string]any{
		"headless": true, "no-sandbox": true, "disable-gpu": true,
		"disable-background-networking": true, "disable-component-update": true,
		"disable-sync": true, "no-first-run": true, "user-data-dir": "/tmp/x",
		"host-resolver-rules":                 "MAP *.test 127.0.0.1",
		"ignore-certificate-errors-spki-list": "a,b",
		"disable-quic":                        true, "window-size": "1280,900",
		"disable-features": "RenderDocument,BackForwardCache,WebUIOmniboxPopup,WebUIOmniboxAimPopup",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("flags:\n got %v\nwant %v", got, want)
	}
	for _, f := range flags(Options{UserDataDir: "/tmp/x", Headless: new(false)}) {
		if f.name == "headless" || f.name == "host-resolver-rules" || f.name == "ignore-certificate-errors-spki-list" {
			t.Fatalf("unexpected flag %s", f.name)
		}
	}
}

func TestCheckExecPath(t *testing.T) {
	err := CheckExecPath("/nonexistent/chromium")
	want := "chromium not found at /nonexistent/chromium: run `apt-get install -y chromium` (or set HMPCONFORM_CHROMIUM)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v", err)
	}
	t.Setenv(ExecPathEnv, "/opt/chrome")
	if p := ResolveExecPath(""); p != "/opt/chrome" {
		t.Fatalf("ResolveExecPath with env = %s", p)
	}
	if p := ResolveExecPath("/x"); p != "/x" {
		t.Fatalf("ResolveExecPath explicit = %s", p)
	}
	if _, err := Start(Options{UserDataDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "/opt/chrome") {
		t.Fatalf("Start with a missing binary: %v", err)
	}
}

func TestTrustedSite(t *testing.T) {
	ca := newCA(t)
	s := newSite(t, ca, "site.example.test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><title>t</title><p id="greeting">hello from %s</p>`, html.EscapeString(r.Host))
	}))
	b := startBrowser(t, s.spki)
	tab := newTab(t, b)

	if err := Run(tab, stepTimeout, chromedp.Navigate(s.url("/"))); err != nil {
		t.Fatal(err)
	}
	text, err := Get(tab, stepTimeout, chromedp.Text(chromedp.ID("greeting")))
	if err != nil {
		t.Fatal(err)
	}
	if want := "hello from " + strings.TrimPrefix(s.url(""), "https://"); text != want {
		t.Fatalf("text = %q, want %q", text, want)
	}
	loc, err := Location(tab)
	if err != nil || loc != s.url("/") {
		t.Fatalf("Location = %q, %v", loc, err)
	}
	page, err := HTML(tab)
	if err != nil || !strings.Contains(page, `<p id="greeting">`) {
		t.Fatalf("HTML = %q, %v", page, err)
	}
	png, err := Screenshot(tab)
	if err != nil || !strings.HasPrefix(string(png), "\x89PNG") {
		t.Fatalf("Screenshot: %d bytes, %v", len(png), err)
	}
}

func TestUntrustedSiteFails(t *testing.T) {
	ca := newCA(t)
	s := newSite(t, ca, "site.example.test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<p id="greeting">hello</p>`)
	}))
	other := newSite(t, ca, "other.example.test", http.NotFoundHandler())
	b := startBrowser(t, other.spki) // trusts a different key only
	tab := newTab(t, b)

	err := Run(tab, stepTimeout, chromedp.Navigate(s.url("/")))
	var le *chromedp.LoadError
	if !errors.As(err, &le) || !strings.Contains(le.ErrorText, "ERR_CERT") {
		t.Fatalf("navigate to an untrusted site: want a certificate load error, got %v", err)
	}
}

// TestCASPKITrustsIssuedSites records a Chromium behaviour the suites rely
// on: the SPKI list is matched against every certificate of the verified
// chain, so the CA's own SPKI trusts every server certificate it issues.
func TestCASPKITrustsIssuedSites(t *testing.T) {
	ca := newCA(t)
	s := newSite(t, ca, "site.example.test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<p id="greeting">hello</p>`)
	}))
	b := startBrowser(t, tlsutil.SPKIHash(ca.Cert))
	tab := newTab(t, b)
	if err := Run(tab, stepTimeout, chromedp.Navigate(s.url("/"))); err != nil {
		t.Fatal(err)
	}
	if text, err := Get(tab, stepTimeout, chromedp.Text(chromedp.ID("greeting"))); err != nil || text != "hello" {
		t.Fatalf("text = %q, %v", text, err)
	}
}

func TestTimeoutKeepsTab(t *testing.T) {
	ca := newCA(t)
	s := newSite(t, ca, "site.example.test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<p id="path">%s</p>`, html.EscapeString(r.URL.Path))
	}))
	b := startBrowser(t, s.spki)
	tab := newTab(t, b)

	if err := Run(tab, stepTimeout, chromedp.Navigate(s.url("/one"))); err != nil {
		t.Fatal(err)
	}
	err := Run(tab, 300*time.Millisecond, chromedp.WaitVisible(chromedp.ID("never")))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want a deadline error, got %v", err)
	}
	if err := Run(tab, stepTimeout, chromedp.Navigate(s.url("/two"))); err != nil {
		t.Fatalf("tab unusable after a timeout: %v", err)
	}
	if text, err := Get(tab, stepTimeout, chromedp.Text(chromedp.ID("path"))); err != nil || text != "/two" {
		t.Fatalf("after the timeout: %q, %v", text, err)
	}
}

func TestTabsHaveOwnCookies(t *testing.T) {
	ca := newCA(t)
	s := newSite(t, ca, "site.example.test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/set" {
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: "tab1", Path: "/", Secure: true})
		}
		c, _ := r.Cookie("sid")
		v := "none"
		if c != nil {
			v = c.Value
		}
		fmt.Fprintf(w, `<p id="sid">%s</p>`, html.EscapeString(v))
	}))
	b := startBrowser(t, s.spki)
	tab1, tab2 := newTab(t, b), newTab(t, b)

	if err := Run(tab1, stepTimeout, chromedp.Navigate(s.url("/set")), chromedp.Navigate(s.url("/"))); err != nil {
		t.Fatal(err)
	}
	if v, err := Get(tab1, stepTimeout, chromedp.Text(chromedp.ID("sid"))); err != nil || v != "tab1" {
		t.Fatalf("tab1 cookie = %q, %v", v, err)
	}
	if err := Run(tab2, stepTimeout, chromedp.Navigate(s.url("/"))); err != nil {
		t.Fatal(err)
	}
	if v, err := Get(tab2, stepTimeout, chromedp.Text(chromedp.ID("sid"))); err != nil || v != "none" {
		t.Fatalf("tab2 sees cookie %q, %v", v, err)
	}
}

func TestParentEndClosesTab(t *testing.T) {
	b := startBrowser(t)
	parent, cancelParent := context.WithCancel(t.Context())
	tab, cancel, err := b.NewTab(parent)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	cancelParent()
	select {
	case <-tab.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("tab still open after its parent ended")
	}
	if err := Run(tab, time.Second, chromedp.Navigate("about:blank")); err == nil {
		t.Fatal("a closed tab still runs actions")
	}
}

// TestCrossSiteFormPost is the SAML HTTP-POST binding in miniature: a page on
// one site auto-submits a form to another site, and the second site gets the
// field and a cross-site Origin.
func TestCrossSiteFormPost(t *testing.T) {
	ca := newCA(t)
	type got struct{ method, value, origin string }
	received := make(chan got, 1)
	bSite := newSite(t, ca, "b.site.test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := got{r.Method, r.PostFormValue("SAMLResponse"), r.Header.Get("Origin")}
		select {
		case received <- g:
		default:
		}
		fmt.Fprintf(w, `<p id="result">%s %s</p>`, html.EscapeString(g.method), html.EscapeString(g.value))
	}))
	aSite := newSite(t, ca, "a.site.test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html>
<form id="f" method="post" action="%s"><input type="hidden" name="SAMLResponse" value="PHNhbWw+"></form>
<script>document.getElementById("f").submit();</script>`, html.EscapeString(bSite.url("/acs")))
	}))
	b := startBrowser(t, aSite.spki, bSite.spki)
	tab := newTab(t, b)

	if err := Run(tab, stepTimeout, chromedp.Navigate(aSite.url("/"))); err != nil {
		t.Fatal(err)
	}
	// Wait for an element that exists only on the final page.
	text, err := Get(tab, stepTimeout, chromedp.Text(chromedp.ID("result")))
	if err != nil {
		t.Fatal(err)
	}
	if text != "POST PHNhbWw+" {
		t.Fatalf("result = %q", text)
	}
	g := <-received
	if g.origin != strings.TrimSuffix(aSite.url(""), "/") {
		t.Fatalf("Origin = %q, want %q", g.origin, aSite.url(""))
	}
	if loc, err := Location(tab); err != nil || loc != bSite.url("/acs") {
		t.Fatalf("Location = %q, %v", loc, err)
	}
}

func TestCPUTimeGrows(t *testing.T) {
	ca := newCA(t)
	s := newSite(t, ca, "site.example.test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<p id="greeting">hello</p>`)
	}))
	b := startBrowser(t, s.spki)
	before, err := b.CPUTime()
	if runtime.GOOS != "linux" {
		if err == nil {
			t.Fatal("CPUTime outside Linux: want an error")
		}
		return
	}
	if err != nil || before <= 0 {
		t.Fatalf("CPUTime after start = %v, %v; want > 0 (starting Chromium takes CPU)", before, err)
	}
	tab := newTab(t, b)
	for i := 0; i < 3; i++ {
		if err := Run(tab, stepTimeout, chromedp.Navigate(s.url("/"))); err != nil {
			t.Fatal(err)
		}
	}
	after, err := b.CPUTime()
	if err != nil || after <= before {
		t.Fatalf("CPUTime after a tab and three page loads = %v (was %v), %v; want more", after, before, err)
	}
}
