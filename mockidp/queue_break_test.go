package mockidp

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// A queued value that no login to this IdP can honour is refused when it
// is queued: otherwise every login of that user is refused (and the entry
// put back, its values winning over the form's) until it expires.
func TestQueuedLoginThatCannotSucceedIsRefused(t *testing.T) {
	e := newEnv(t, envOpts{register: true}) // no rollover
	wantAPIError(t, e.api("PUT", queuePath("stuck@example.com"), `{"signKey":"next"}`), 400, "next signing key")

	// Scoped to an SP whose metadata has no certificate at all: encryption
	// is impossible there.
	md := spMetadata(t, "https://nocert.example/sp", "https://nocert.example/acs")
	wantJSON(t, e.api("POST", "/api/sps", md, "Content-Type", "application/xml"), 201, nil)
	wantAPIError(t, e.api("PUT", queuePath("stuck@example.com")+"?sp="+url.QueryEscape("https://nocert.example/sp"), `{"encrypt":"always"}`), 400, "Encryption")
	if n := len(e.idp.queue.entries); n != 0 {
		t.Errorf("%d entries queued", n)
	}
	// Scoped to the test SP, which has a certificate: fine.
	wantJSON(t, e.api("PUT", queuePath("ok@example.com")+"?sp="+url.QueryEscape(testSPEntityID), `{"encrypt":"always"}`), 201, nil)
}

// TestQueueConcurrentUse queues, reads, replaces and deletes entries of
// many users while logins take them; run with -race it checks the locking,
// and every login must get its own user's entry exactly once.
func TestQueueConcurrentUse(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	e.sp.AllowIDPInitiated = true
	var wg sync.WaitGroup
	var taken atomic.Int32
	for i := range 4 {
		user := fmt.Sprintf("c%d@example.com", i)
		wg.Go(func() {
			for j := range 5 {
				g := fmt.Sprintf("G-%d-%d", i, j)
				if rec := e.api("PUT", queuePath(user), `{"groups":["`+g+`"]}`); rec.Code != 201 {
					t.Errorf("PUT %s: %d %s", user, rec.Code, rec.Body)
					return
				}
				a := e.signIn(t, url.Values{"persona": {""}, "username": {user}, "groups": {"Form"}})
				if got := attrValues(a, "groups"); !slices.Equal(got, []string{g}) {
					t.Errorf("%s login %d got groups %q, want [%s]", user, j, got, g)
				} else {
					taken.Add(1)
				}
			}
		})
		// A second writer churns another user's entry alongside.
		other := fmt.Sprintf("churn%d@example.com", i)
		wg.Go(func() {
			for range 20 {
				e.api("PUT", queuePath(other), `{"firstName":"X"}`)
				e.api("GET", queuePath(other), "")
				e.api("DELETE", queuePath(other), "")
				e.api("GET", "/api/log", "")
			}
		})
	}
	wg.Wait()
	if taken.Load() != 20 {
		t.Errorf("%d of 20 logins got their queued entry", taken.Load())
	}
}

// A login refused because of a queued value is refused again however the
// form is corrected (the queued values win), so the page must say where
// the value comes from and how to drop it.
func TestRefusedQueuedLoginSaysTheQueueCausedIt(t *testing.T) {
	e := newEnv(t, envOpts{register: true, plaintext: true}) // the SP has no certificate
	wantJSON(t, e.api("PUT", queuePath("q@example.com"), `{"encrypt":"always"}`), 201, nil)
	for _, encrypt := range []string{"", "never"} { // as queued; then "corrected" on the form
		action, form := parseLogin(t, e.loginPage(t))
		form.Set("persona", "")
		form.Set("username", "q@example.com")
		form.Set("encrypt", encrypt)
		rec := e.post(idpBase+action, form)
		body := rec.Body.String()
		if rec.Code != 400 || !strings.Contains(body, "Encryption") {
			t.Fatalf("encrypt=%q: status %d, want the encryption refusal", encrypt, rec.Code)
		}
		if !strings.Contains(body, "queued") || !strings.Contains(body, "DELETE") {
			t.Errorf("encrypt=%q: the refusal does not say a queued login supplied the value, or how to drop it", encrypt)
		}
	}
}

// A JSON body that is not an object (null, a number, a string) is refused,
// not taken for an empty object.
func TestAPIBodyMustBeAnObject(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	for _, body := range []string{`null`, ` null `, `1`, `"x"`, `true`} {
		wantAPIError(t, e.api("PUT", queuePath("n@example.com"), body), 400, "JSON object")
		wantAPIError(t, e.api("POST", "/api/personas", body), 400, "JSON object")
	}
	if n := len(e.idp.queue.entries); n != 0 {
		t.Errorf("%d entries queued", n)
	}
}
