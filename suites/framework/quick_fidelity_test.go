package framework

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
)

// A quick run must fail wherever a rendered run fails against a broken SP
// (found by break-it passes; each case passed quick before its fix, see
// quick_rules.go). The browser (DevTools Fetch) rewrites the SP's user
// page in the admin's tab as a broken SP would serve it, and the same admin
// action runs in both modes: the rendered one shows the case is a real
// failure, the quick one must fail too.
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

	type rewrite func(h []*fetch.HeaderEntry, body string) ([]*fetch.HeaderEntry, string)
	withHeader := func(h []*fetch.HeaderEntry, name, value string) []*fetch.HeaderEntry {
		out := []*fetch.HeaderEntry{}
		for _, x := range h {
			if !strings.EqualFold(x.Name, name) {
				out = append(out, x)
			}
		}
		return append(out, &fetch.HeaderEntry{Name: name, Value: value})
	}
	inBody := func(old, new string) rewrite {
		return func(h []*fetch.HeaderEntry, b string) ([]*fetch.HeaderEntry, string) {
			return h, strings.Replace(b, old, new, 1)
		}
	}
	header := func(name, value string) rewrite {
		return func(h []*fetch.HeaderEntry, b string) ([]*fetch.HeaderEntry, string) {
			return withHeader(h, name, value), b
		}
	}
	open := func(a *Admin, userID string) error { _, err := a.User(userID); return err }
	press := func(button string) func(a *Admin, userID string) error {
		return func(a *Admin, userID string) error { return a.ClickUserAction(userID, button) }
	}
	endForm := `<form class="inline" method="post" action="/admin/users/`

	cases := []struct {
		name    string
		rewrite rewrite
		action  func(a *Admin, userID string) error
	}{
		// A person cannot press these; quick submitted the form anyway.
		{"disabled Delete user button", inBody(`id="delete-user"`, `id="delete-user" disabled`), press("delete-user")},
		{"hidden attribute on a button", inBody(`id="end-sessions"`, `id="end-sessions" hidden`), press("end-sessions")},
		{"inert form", inBody(endForm, `<form inert class="inline" method="post" action="/admin/users/`), press("end-sessions")},
		// The browser sends nothing, or not where the admin will see it.
		{"form target=_blank", inBody(endForm, `<form target="_blank" class="inline" method="post" action="/admin/users/`), press("end-sessions")},
		{"form method=dialog", inBody(endForm, `<form class="inline" method="dialog" action="/admin/users/`), press("end-sessions")},
		{"CSP form-action 'none'", header("Content-Security-Policy", "form-action 'none'"), press("end-sessions")},
		// No page to read, or not the page quick read.
		{"text/plain user page", header("Content-Type", "text/plain; charset=utf-8"), open},
		{"Content-Disposition attachment", header("Content-Disposition", `attachment; filename="user.html"`), open},
		{"XHTML that is not XML", header("Content-Type", "application/xhtml+xml; charset=utf-8"), open},
		{"meta charset windows-1252 over UTF-8 bytes", func(h []*fetch.HeaderEntry, b string) ([]*fetch.HeaderEntry, string) {
			b = strings.Replace(b, `<meta charset="utf-8">`, `<meta charset="windows-1252">`, 1)
			b = strings.Replace(b, `<td id="attr-identifier">`, `<td id="attr-identifier">Zoë-`, 1)
			return withHeader(h, "Content-Type", "text/html"), b
		}, func(a *Admin, userID string) error {
			d, err := a.User(userID)
			if err == nil && !strings.HasPrefix(d.Identifier, "Zoë-") {
				return fmt.Errorf("identifier read as %s", d.Identifier)
			}
			return err
		}},
	}
	// All cases at once (a rendered action that waits for a page that never
	// comes takes StepTimeout), each in its own tabs; the verdicts after.
	results := make([][]error, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		results[i] = make([]error, 2)
		wg.Go(func() {
			for m, mode := range []adminMode{modeRender, modeQuick} {
				results[i][m] = func() error {
					a, err := env.NewAdmin(context.Background())
					if err != nil {
						return fmt.Errorf("setup: %w", err)
					}
					defer a.Close()
					a.mode = mode
					rows, err := a.UsersNamed(id)
					if err != nil || len(rows) != 1 {
						return fmt.Errorf("setup: rows %+v %v", rows, err)
					}
					stop, err := rewriteUserPages(a, c.rewrite)
					if err != nil {
						return fmt.Errorf("setup: %w", err)
					}
					defer stop()
					return c.action(a, rows[0].ID)
				}()
			}
		})
	}
	wg.Wait()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			render, quick := results[i][0], results[i][1]
			t.Logf("render: %v", render)
			t.Logf("quick:  %v", quick)
			for _, err := range []error{render, quick} {
				if err != nil && strings.HasPrefix(err.Error(), "setup: ") {
					t.Fatal(err)
				}
			}
			if render == nil {
				t.Errorf("the rendered admin passed: the case no longer breaks the SP")
			}
			if quick == nil {
				t.Errorf("the rendered admin fails, the quick admin passes")
			}
		})
	}
}

// rewriteUserPages makes a's tab see every SP user page (GET
// /admin/users/...) as rewrite returns it, until stop is called.
func rewriteUserPages(a *Admin, rewrite func(h []*fetch.HeaderEntry, body string) ([]*fetch.HeaderEntry, string)) (stop func(), err error) {
	ctx, stop := context.WithCancel(a.Tab)
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
			h, body := rewrite(e.ResponseHeaders, string(res.Body)) // the body as cdproto decoded it
			_, _ = chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: e.RequestID,
				ResponseCode: e.ResponseStatusCode, ResponseHeaders: h, Body: []byte(body)})
		}()
	}); err != nil {
		stop()
		return nil, err
	}
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
		{URLPattern: "*/admin/users/*", RequestStage: fetch.RequestStageResponse}}}); err != nil {
		stop()
		return nil, err
	}
	return stop, nil
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
