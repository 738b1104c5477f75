package framework

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
)

// A quick run must fail wherever a rendered run fails against a broken SP
// (found by a break-it pass; each case passed quick before its fix). Here
// the browser (DevTools Fetch) rewrites the SP's user page as a broken SP
// would serve it, and both admins must fail on it:
//   - the Delete user button is disabled (a person cannot press it): the
//     quick admin submitted its form anyway and the user was deleted;
//   - the page is served as text/plain (a browser shows its source, there
//     is no #user-title): the quick admin parsed it as HTML and read it.
func TestAdminQuickFailsWhereRenderFails(t *testing.T) {
	env := startTestEnv(t, "fidelity")
	u, err := env.NewUser(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	id := "victim-" + env.Unique("x") + "@example.com"
	if out, err := u.SignInViaSP(Login{Username: id}); err != nil || !out.SignedIn {
		t.Fatalf("sign in: %v %+v", err, out)
	}
	u.Close()

	// breakUserPage makes a's tab see every user page rewritten by mutate.
	breakUserPage := func(t *testing.T, a *Admin, mutate func(headers []*fetch.HeaderEntry, body string) ([]*fetch.HeaderEntry, string)) {
		ctx, stop := context.WithCancel(a.Tab)
		t.Cleanup(stop)
		if err := chromedp.Listen(ctx, func(ev any) {
			e, ok := ev.(*fetch.EventRequestPaused)
			if !ok {
				return
			}
			go func() {
				if e.Request.Method != "GET" || e.ResponseStatusCode == 0 {
					_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: e.RequestID})
					return
				}
				res, err := chromedp.Call(ctx, fetch.GetResponseBody, fetch.GetResponseBodyParams{RequestID: e.RequestID})
				if err != nil {
					_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: e.RequestID})
					return
				}
				body := string(res.Body) // decoded by cdproto
				h, body := mutate(e.ResponseHeaders, body)
				_, _ = chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: e.RequestID,
					ResponseCode: e.ResponseStatusCode, ResponseHeaders: h, Body: []byte(body)})
			}()
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
			{URLPattern: "*/admin/users/*", RequestStage: fetch.RequestStageResponse}}}); err != nil {
			t.Fatal(err)
		}
	}
	rowOf := func(a *Admin) []UserRow {
		t.Helper()
		rows, err := a.UsersNamed(id)
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}

	t.Run("text/plain user page", func(t *testing.T) {
		for _, mode := range []adminMode{modeRender, modeQuick} {
			a, err := env.NewAdmin(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			a.mode = mode
			rows := rowOf(a)
			breakUserPage(t, a, func(h []*fetch.HeaderEntry, body string) ([]*fetch.HeaderEntry, string) {
				out := []*fetch.HeaderEntry{}
				for _, x := range h {
					if !strings.EqualFold(x.Name, "Content-Type") {
						out = append(out, x)
					}
				}
				return append(out, &fetch.HeaderEntry{Name: "Content-Type", Value: "text/plain; charset=utf-8"}), body
			})
			_, err = a.User(rows[0].ID)
			t.Logf("mode %d (1 quick, 2 render): Admin.User on a text/plain page: err=%v", mode, err)
			if err == nil {
				t.Errorf("mode %d: the user page served as text/plain was read as a page", mode)
			}
		}
	})

	t.Run("disabled delete button", func(t *testing.T) {
		for _, mode := range []adminMode{modeRender, modeQuick} {
			a, err := env.NewAdmin(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			a.mode = mode
			rows := rowOf(a)
			if len(rows) != 1 {
				t.Fatalf("rows %+v", rows)
			}
			breakUserPage(t, a, func(h []*fetch.HeaderEntry, body string) ([]*fetch.HeaderEntry, string) {
				return h, strings.Replace(body, `id="delete-user"`, `id="delete-user" disabled`, 1)
			})
			err = a.ClickUserAction(rows[0].ID, "delete-user")
			t.Logf("mode %d (1 quick, 2 render): pressing a disabled Delete user: err=%v", mode, err)
			if err == nil {
				t.Errorf("mode %d: pressed a disabled button", mode)
			}
		}
	})
}

// An SP that shows its signed-in page without any SSO round trip (here the
// browser answers the SP's home with a signed-in page, as an SP that signs
// an anonymous visitor in as someone would) fails the render way's login
// (no IdP form), so the quick way's login must fail too: it reported a
// sign-in before, though the one-login IdP session it made was never used.
func TestQuickSignInNeedsTheIdP(t *testing.T) {
	env := startTestEnv(t, "fidelity-idp")
	id := "nobody-" + env.Unique("x") + "@example.com"
	for _, render := range []bool{true, false} {
		if render {
			t.Setenv(RenderEnv, "all")
		} else {
			t.Setenv(RenderEnv, "")
		}
		u, err := env.NewUser(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ctx, stop := context.WithCancel(u.Tab)
		if err := chromedp.Listen(ctx, func(ev any) {
			if e, ok := ev.(*fetch.EventRequestPaused); ok {
				go func() {
					_, _ = chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: e.RequestID, ResponseCode: 200,
						ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/html; charset=utf-8"}},
						Body:            []byte(`<!doctype html><h1>Welcome</h1><p>Signed in as <strong id="whoami">` + id + `</strong>.</p>`)})
				}()
			}
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: env.SPURL("/")}}}); err != nil {
			t.Fatal(err)
		}
		out, err := u.SignInViaSP(Login{Username: id})
		t.Logf("render=%v: err=%v signedIn=%v identifier=%q", render, err, out.SignedIn, out.Identifier)
		if err == nil && out.SignedIn {
			t.Errorf("render=%v: a login that never reached the IdP counts as signed in as %s", render, out.Identifier)
		}
		stop()
		u.Close()
	}
}
