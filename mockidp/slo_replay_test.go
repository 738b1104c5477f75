package mockidp

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"
)

// A signed LogoutRequest is answered once: the same request again (a
// captured URL replayed) gets a 409 page naming the replay, and no second
// logout entry. A new request for the same user is answered.
func TestSLOReplayedLogoutRequestIsRefused(t *testing.T) {
	e := newSLOEnv(t, true)
	req, err := e.sp.MakeLogoutRequest(e.idp.SLOURL(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.sp.RedirectLogoutRequestURL(req, "rs-1")
	if err != nil {
		t.Fatal(err)
	}
	if rec := e.get(u.String()); rec.Code != http.StatusFound {
		t.Fatalf("first request: %d %s", rec.Code, rec.Body)
	}
	rec := e.get(u.String())
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "already answered") || !strings.Contains(rec.Body.String(), req.ID) {
		t.Fatalf("replay: %d, want 409 naming the replay:\n%s", rec.Code, rec.Body)
	}
	if n := len(logoutEntries(e.idp)); n != 1 {
		t.Errorf("%d logout entries, want 1", n)
	}
	if rec, _ := e.redirectLogout(t, "bob"); rec.Code != http.StatusFound {
		t.Errorf("a new LogoutRequest after a replay: %d %s", rec.Code, rec.Body)
	}
}

// The cache keys IDs by SP, forgets them at the request's deadline on the
// injected clock, and stays bounded.
func TestLogoutReplayCache(t *testing.T) {
	c := newLogoutReplayCache()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	exp := t0.Add(time.Minute)
	if !c.consume("sp1", "id-1", exp, t0) {
		t.Fatal("first use refused")
	}
	if c.consume("sp1", "id-1", exp, t0.Add(59*time.Second)) {
		t.Error("a replay before the deadline was accepted")
	}
	if !c.consume("sp2", "id-1", exp, t0) {
		t.Error("the same ID from another SP was refused")
	}
	if !c.consume("sp1", "id-1", exp.Add(time.Minute), exp) {
		t.Error("an ID past its deadline is still remembered")
	}
	for i := range maxLogoutReplayEntries + 10 {
		c.consume("sp3", fmt.Sprint("bulk-", i), t0.Add(time.Hour+time.Duration(i)*time.Second), t0)
	}
	if n := len(c.expires); n > maxLogoutReplayEntries {
		t.Errorf("%d entries, bound %d", n, maxLogoutReplayEntries)
	}
	// The latest IDs are the ones kept when the cache is full.
	if c.consume("sp3", fmt.Sprint("bulk-", maxLogoutReplayEntries+9), t0.Add(2*time.Hour), t0) {
		t.Error("the newest ID was dropped from a full cache")
	}
}

func TestLogoutRequestDeadline(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if got := logoutRequestDeadline(&saml.LogoutRequest{IssueInstant: t0}); !got.Equal(t0.Add(saml.MaxIssueDelay)) {
		t.Errorf("deadline %v", got)
	}
	early := t0.Add(-saml.MaxClockSkew + time.Second)
	if got := logoutRequestDeadline(&saml.LogoutRequest{IssueInstant: t0, NotOnOrAfter: &early}); !got.Equal(t0.Add(time.Second)) {
		t.Errorf("deadline with an earlier NotOnOrAfter %v", got)
	}
}
