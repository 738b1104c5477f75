package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// leaveState is what one user of a tab does to it on a site: a cookie
// from the server, local and session storage, an IndexedDB database, a
// Cache Storage entry, window.name, and a fetch the HTTP cache may keep.
const leaveState = `(async () => {
	localStorage.setItem('k', 'left');
	sessionStorage.setItem('k', 'left');
	await new Promise((ok, fail) => { const r = indexedDB.open('leftdb'); r.onsuccess = () => { r.result.close(); ok(); }; r.onerror = fail; });
	await (await caches.open('leftcache')).put('/x', new Response('left'));
	window.name = 'left';
	await fetch('/cached');
	return 'ok';
})()`

// readState is what the next user of the tab can see of it.
const readState = `(async () => JSON.stringify({
	cookie: document.getElementById('sid').textContent,
	local: localStorage.getItem('k'),
	session: sessionStorage.getItem('k'),
	idb: (await indexedDB.databases()).map(d => d.name),
	caches: await caches.keys(),
	name: window.name,
	history: history.length,
}))()`

type tabState struct {
	Cookie  string   `json:"cookie"`
	Local   *string  `json:"local"`
	Session *string  `json:"session"`
	IDB     []string `json:"idb"`
	Caches  []string `json:"caches"`
	Name    string   `json:"name"`
	History int      `json:"history"`
}

func awaitJS(p *runtime.EvaluateParams) { p.AwaitPromise = new(true) }

func TestReusedTabKeepsNothingOfItsLastUser(t *testing.T) {
	ca := newCA(t)
	var cachedHits atomic.Int64
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/set":
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: "left", Path: "/", Secure: true, HttpOnly: true})
		case "/cached":
			cachedHits.Add(1)
			w.Header().Set("Cache-Control", "max-age=3600")
			fmt.Fprint(w, "cached")
			return
		}
		v := "none"
		if c, err := r.Cookie("sid"); err == nil {
			v = c.Value
		}
		fmt.Fprintf(w, `<!doctype html><p id="sid">%s</p>`, v)
	})
	one := newSite(t, ca, "one.example.test", handler)
	two := newSite(t, ca, "two.example.test", handler)
	if err := CheckExecPath(ResolveExecPath("")); err != nil {
		t.Skip(err)
	}
	b, err := Start(Options{
		HostResolverRules: "MAP *.test 127.0.0.1",
		TrustedSPKI:       []string{one.spki, two.spki},
		UserDataDir:       t.TempDir(),
		ReuseTabs:         true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)

	read := func(tab context.Context, s site) tabState {
		t.Helper()
		if err := Run(tab, stepTimeout, chromedp.Navigate(s.url("/read"))); err != nil {
			t.Fatal(err)
		}
		// chromedp's Navigate can return while the tab still shows the
		// page before (a wiped tab's about:blank): read only once the
		// /read document is the one shown.
		var raw string
		for try := 0; ; try++ {
			var err error
			raw, err = Get(tab, stepTimeout, chromedp.Evaluate[string](`document.getElementById('sid') ? `+readState+` : ""`, awaitJS))
			if err == nil && raw != "" {
				break
			}
			if try == 100 {
				t.Fatalf("read %s: the page never showed #sid (%v)", s.url("/read"), err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		var st tabState
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}

	// The first user: what a brand-new tab shows, then state on two sites.
	first, closeFirst, err := b.NewTab(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	firstID := chromedp.FromContext(first).Target.TargetID
	fresh := read(first, one)
	for _, s := range []site{one, two} {
		if err := Run(first, stepTimeout, chromedp.Navigate(s.url("/set"))); err != nil {
			t.Fatal(err)
		}
		if res, err := Get(first, stepTimeout, chromedp.Evaluate[string](leaveState, awaitJS)); err != nil || res != "ok" {
			t.Fatalf("leave state on %s: %q %v", s.host, res, err)
		}
	}
	if left := read(first, one); left.Cookie != "left" || left.Local == nil || left.Session == nil || left.Name != "left" || len(left.IDB) == 0 || len(left.Caches) == 0 {
		t.Fatalf("the first user's state did not stick, so the test proves nothing: %+v", left)
	}
	hits := cachedHits.Load()
	closeFirst()
	if err := Run(first, stepTimeout, chromedp.Navigate("about:blank")); err == nil {
		t.Fatal("the first user's context still drives the tab after it was given back")
	}

	// The next user gets the same tab, wiped.
	second, closeSecond, err := b.NewTab(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer closeSecond()
	if id := chromedp.FromContext(second).Target.TargetID; id != firstID {
		t.Fatalf("the tab was not reused (%s, then %s), so the test proves nothing", firstID, id)
	}
	for i, s := range []site{one, two} {
		got := read(second, s)
		if got.Cookie != "none" || got.Local != nil || got.Session != nil || got.Name != "" || len(got.IDB) != 0 || len(got.Caches) != 0 {
			t.Errorf("%s: the next user sees the last one's state: %+v", s.host, got)
		}
		// The first page in the tab: as long a history as a new tab's.
		if i == 0 && got.History != fresh.History {
			t.Errorf("%s: history.length %d, a fresh tab has %d", s.host, got.History, fresh.History)
		}
	}
	if _, err := Get(second, stepTimeout, chromedp.Evaluate[string](`fetch('/cached').then(r => r.text())`, awaitJS)); err != nil {
		t.Fatal(err)
	}
	if cachedHits.Load() != hits+1 {
		t.Errorf("the next user's fetch came from the last user's HTTP cache (server hits %d, then %d)", hits, cachedHits.Load())
	}
}
