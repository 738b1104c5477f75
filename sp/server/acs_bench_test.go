package server_test

// Benchmarks for issue 8: the reference SP's Assertion Consumer Service as a
// browser reaches it (POST /sso/callback through the SP's HTTP handler):
// verify the signed response, apply the JIT rules, write the account to
// SQLite and start a session. The responses are real ones from the mock IdP,
// issued with the benchmark timer stopped. No timed assertions: figures only.

import (
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hmpconform/hmpconform/internal/keypair"
	"github.com/hmpconform/hmpconform/internal/stack"
	"github.com/hmpconform/hmpconform/mockidp"
	"github.com/hmpconform/hmpconform/sp/refsp"
)

var benchSAMLResponseRe = regexp.MustCompile(`name="SAMLResponse" value="([^"]*)"`)

// benchACSEnv is a reference SP on SQLite in JIT mode trusting a mock IdP,
// both driven in-process through their HTTP handlers.
type benchACSEnv struct {
	app   *refsp.App
	sp    http.Handler
	idp   http.Handler
	spID  string
	batch int // responses issued per refill
}

func newBenchACSEnv(b *testing.B) *benchACSEnv {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	discard := slog.New(slog.NewTextHandler(io.Discard, nil)) // formatted, then dropped
	pair, err := keypair.New(nil, "bench idp", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	idpBase, _ := url.Parse("https://idp.mock.test:7443")
	idp, err := mockidp.New(mockidp.Config{BaseURL: idpBase, Key: pair.Key, Certificate: pair.Certificate, Logger: discard})
	if err != nil {
		b.Fatal(err)
	}
	spBase, _ := url.Parse("https://hmp.sp.test:8443")
	app, err := refsp.Open(ctx, refsp.Options{
		DataDir: filepath.Join(dir, "refsp"), BaseURL: spBase, AdminPassword: "bench admin password", Logger: discard,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = app.Close() })
	for _, name := range []string{"Engineering", "Sales", "Support"} {
		if _, err := app.Store.CreateGroup(ctx, name, stack.ExampleGroupRole); err != nil {
			b.Fatal(err)
		}
	}
	cfg := stack.JITSettings(idp, app.Server.SAML().DefaultEntityID())
	if _, err := app.Store.SaveSettings(ctx, cfg); err != nil {
		b.Fatal(err)
	}
	md, err := app.Server.SAML().Metadata(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := idp.RegisterSPMetadataXML(md); err != nil {
		b.Fatal(err)
	}
	return &benchACSEnv{app: app, sp: app.Handler(), idp: idp.Handler(), spID: cfg.AudienceURI, batch: 64}
}

// issue has the mock IdP sign an IdP-initiated response for nameID, through
// its login form, and returns the SAMLResponse form value.
func (e *benchACSEnv) issue(nameID string) (string, error) {
	form := url.Values{
		"mockidp_login": {"1"}, "sp": {e.spID}, "RelayState": {"/"},
		"username": {nameID}, "firstName": {"Bench"}, "lastName": {"User"}, "email": {nameID},
		"groups": {"Engineering\nsales\nNo Such Group"},
	}
	req := httptest.NewRequest(http.MethodPost, "https://idp.mock.test:7443/idp/initiate", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	e.idp.ServeHTTP(rec, req)
	m := benchSAMLResponseRe.FindStringSubmatch(rec.Body.String())
	if rec.Code != http.StatusOK || m == nil {
		return "", fmt.Errorf("mock IdP: no SAMLResponse (status %d):\n%s", rec.Code, rec.Body)
	}
	return html.UnescapeString(m[1]), nil
}

// issueBatch issues one response per name, on two goroutines.
func (e *benchACSEnv) issueBatch(b *testing.B, names []string) []string {
	out := make([]string, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := w; i < len(names); i += 2 {
				out[i], errs[i] = e.issue(names[i])
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return out
}

// acs posts one response to the ACS and checks that it signed the user in.
func (e *benchACSEnv) acs(b *testing.B, samlResponse string) {
	form := url.Values{"SAMLResponse": {samlResponse}, "RelayState": {"/"}}
	req := httptest.NewRequest(http.MethodPost, "https://hmp.sp.test:8443/sso/callback", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	e.sp.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/" || len(rec.Result().Cookies()) == 0 {
		b.Fatalf("ACS refused the response (status %d):\n%s", rec.Code, rec.Body)
	}
}

// run measures the ACS over responses for names(i), refilled in batches
// with the timer stopped.
// cpu-ns/op is the CPU time of the benchmark's OS thread per login (the
// goroutine is locked to it; the handler and SQLite, pure Go, run on it).
func (e *benchACSEnv) run(b *testing.B, names func(i int) string) {
	var pending []string
	var cpu time.Duration
	i := 0
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	for b.Loop() {
		if len(pending) == 0 {
			b.StopTimer()
			batch := make([]string, e.batch)
			for j := range batch {
				batch[j] = names(i + j)
			}
			pending = e.issueBatch(b, batch)
			b.StartTimer()
		}
		c0 := threadCPU()
		e.acs(b, pending[0])
		cpu += threadCPU() - c0
		pending = pending[1:]
		i++
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkACS: one login at the ACS (verify + JIT rules + SQLite write +
// session), for a user's first login (account created) and for a returning
// user (account refreshed, groups replaced).
func BenchmarkACS(b *testing.B) {
	b.Run("first-login", func(b *testing.B) {
		e := newBenchACSEnv(b)
		e.run(b, func(i int) string { return fmt.Sprintf("new%07d@example.com", i) })
	})
	b.Run("returning", func(b *testing.B) {
		e := newBenchACSEnv(b)
		const users = 64
		names := make([]string, users)
		for i := range names {
			names[i] = fmt.Sprintf("user%03d@example.com", i)
		}
		for _, r := range e.issueBatch(b, names) { // first logins, not measured
			e.acs(b, r)
		}
		e.run(b, func(i int) string { return names[i%users] })
	})
}
