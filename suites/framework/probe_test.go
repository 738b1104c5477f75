package framework

import (
	"context"
	"fmt"
	"testing"

	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

// TestProbeHomeTellsASessionFromNone: the probe the security suite uses
// for "no session" must see a session when there is one, and none when
// there is none; off the SP's origin it declines rather than guess.
func TestProbeHomeTellsASessionFromNone(t *testing.T) {
	env := startTestEnv(t, "probe")

	signedIn, err := env.NewUser(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("%s@example.com", env.Unique("probe"))
	if out, err := signedIn.SignInViaSP(Login{Username: id}); err != nil || !out.SignedIn {
		t.Fatalf("sign in: %v %+v", err, out)
	}
	p, ok, err := signedIn.ProbeHome()
	if err != nil || !ok {
		t.Fatalf("probe a signed-in tab: ok=%v err=%v", ok, err)
	}
	if !p.SignedIn || p.Redirected {
		t.Errorf("a signed-in tab probed as %+v, want the signed-in page", p)
	}

	stranger, err := env.NewUser(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stranger.Visit("/login"); err != nil { // an SP page that needs no session
		t.Fatal(err)
	}
	p, ok, err = stranger.ProbeHome()
	if err != nil || !ok {
		t.Fatalf("probe a tab with no session: ok=%v err=%v", ok, err)
	}
	if p.SignedIn || !p.Redirected {
		t.Errorf("a tab with no session probed as %+v, want a redirect", p)
	}

	if err := browser.Run(stranger.Tab, StepTimeout, Open(env.IdPURL("/"), "body")); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := stranger.ProbeHome(); err != nil || ok {
		t.Errorf("a tab on the IdP's site: ok=%v err=%v, want ok=false", ok, err)
	}
}
