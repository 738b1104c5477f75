package concurrencytest_test

// JIT-CONCURRENT at the HTTP level: an in-process reference SP (refsp.Open
// on a fresh data directory, behind an httptest TLS server) trusting an
// in-process mock IdP receives 50 distinct, genuine IdP-initiated responses
// for one identifier, all posted at the same moment (a start barrier, with
// the connections opened beforehand). Every login must succeed or fail
// cleanly (an HTML error page, no panic, no broken connection), and exactly
// one account must exist afterwards, with the right groups and one session
// per success.

import (
	"context"
	"fmt"
	"github.com/hmpconform/hmpconform/internal/samltest"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hmpconform/hmpconform/internal/keypair"
	"github.com/hmpconform/hmpconform/internal/stack"
	"github.com/hmpconform/hmpconform/mockidp"
	"github.com/hmpconform/hmpconform/sp/jit"
	"github.com/hmpconform/hmpconform/sp/refsp"
	"github.com/hmpconform/hmpconform/sp/store"
	"github.com/hmpconform/hmpconform/sp/store/sqlite"
)

const (
	simultaneous  = 50
	sessionCookie = "hmp_session"
)

var (
	ssoErrorRe = regexp.MustCompile(`id="(?:sso-error|error)"[^>]*data-code="([^"]*)"`)
)

type env struct {
	t      *testing.T
	app    *refsp.App
	spURL  string
	idp    *mockidp.Server
	idpURL string
	client *http.Client
	log    *samltest.SyncBuffer
}

// groups are created in the SP before the logins.
var groups = map[string]string{
	"Engineering": store.RoleViewer,
	"Sales":       store.RoleContentCreator,
	"Operators":   store.RoleAdministrator,
}

// keys are made once per test: RSA key generation and bcrypt at its real
// cost are slow, very slow under -race.
type keys struct {
	idp, sp   keypair.Pair
	adminHash []byte
}

func newKeys(t *testing.T) keys {
	t.Helper()
	var k keys
	var err error
	if k.idp, err = keypair.New(nil, "concurrency idp", time.Now()); err != nil {
		t.Fatal(err)
	}
	if k.sp, err = keypair.New(nil, "concurrency sp", time.Now()); err != nil {
		t.Fatal(err)
	}
	if k.adminHash, err = bcrypt.GenerateFromPassword([]byte("concurrency-test"), bcrypt.MinCost); err != nil {
		t.Fatal(err)
	}
	return k
}

// spDataDir is a fresh SP data directory holding k's SP key pair and
// haiadmin password hash, so that refsp.Open neither generates a key nor
// hashes a password.
func spDataDir(t *testing.T, k keys) string {
	t.Helper()
	dir := t.TempDir()
	keyPEM, certPEM := k.sp.PEM()
	if err := os.WriteFile(filepath.Join(dir, "sp-signing-key.pem"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sp-signing-cert.pem"), certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(dir, "hmp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SetAdminPasswordHash(context.Background(), k.adminHash); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newEnv(t *testing.T, k keys) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, log: &samltest.SyncBuffer{}}

	idpTS := httptest.NewUnstartedServer(nil)
	idpBase := &url.URL{Scheme: "https", Host: idpTS.Listener.Addr().String()}
	var err error
	e.idp, err = mockidp.New(mockidp.Config{
		BaseURL: idpBase, Key: k.idp.Key, Certificate: k.idp.Certificate, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	idpTS.Config.Handler = e.idp.Handler()
	idpTS.StartTLS()
	t.Cleanup(idpTS.Close)
	e.idpURL = idpTS.URL

	spTS := httptest.NewUnstartedServer(nil)
	spBase := &url.URL{Scheme: "https", Host: spTS.Listener.Addr().String()}
	e.app, err = refsp.Open(ctx, refsp.Options{
		// AdminPassword blank: keep the prepared hash (see spDataDir).
		DataDir: spDataDir(t, k), BaseURL: spBase,
		Logger: slog.New(slog.NewTextHandler(e.log, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	spTS.Config.Handler = e.app.Handler()
	spTS.StartTLS()
	// Cleanups run last-in first-out: the server stops before the store closes.
	t.Cleanup(func() { _ = e.app.Close() })
	t.Cleanup(spTS.Close)
	e.spURL = spTS.URL

	// Both httptest servers present the same certificate: one client
	// trusts both. Enough idle connections to keep one per poster.
	tr := spTS.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 2 * simultaneous
	t.Cleanup(tr.CloseIdleConnections)
	e.client = &http.Client{
		Transport:     tr,
		Timeout:       2 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	for name, role := range groups {
		if _, err := e.app.Store.CreateGroup(ctx, name, role); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.app.Store.SaveSettings(ctx, stack.JITSettings(e.idp, e.app.Server.SAML().DefaultEntityID())); err != nil {
		t.Fatal(err)
	}
	md := e.get("/saml/metadata", "")
	if md.status != http.StatusOK {
		t.Fatalf("GET /saml/metadata: %d", md.status)
	}
	if err := e.idp.RegisterSPMetadataXML([]byte(md.body)); err != nil {
		t.Fatal(err)
	}
	return e
}

type reply struct {
	status      int
	contentType string
	location    string
	cookie      string
	body        string
}

func (r reply) success() bool {
	return r.status == http.StatusSeeOther && strings.HasPrefix(r.location, "/") &&
		!strings.HasPrefix(r.location, "//") && r.cookie != ""
}

func (e *env) do(req *http.Request) (reply, error) {
	res, err := e.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return reply{}, err
	}
	r := reply{status: res.StatusCode, contentType: res.Header.Get("Content-Type"), location: res.Header.Get("Location"), body: string(b)}
	for _, c := range res.Cookies() {
		if c.Name == sessionCookie {
			r.cookie = c.Value
		}
	}
	return r, nil
}

func (e *env) get(path, session string) reply {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.spURL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if session != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: session})
	}
	r, err := e.do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) postACS(form url.Values) (reply, error) {
	req, err := http.NewRequest(http.MethodPost, e.spURL+"/sso/callback", strings.NewReader(form.Encode()))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.do(req)
}

// genuine signs nameID in at the mock IdP, IdP-initiated to the SP, and
// returns the auto-submit form's fields.
func (e *env) genuine(nameID string, groups []string) (url.Values, error) {
	form := url.Values{
		"sp":             {e.app.Server.SAML().DefaultEntityID()},
		"RelayState":     {"/"},
		"username":       {nameID},
		"firstName":      {"Jane"},
		"lastName":       {"Concurrent"},
		"email":          {"jane.concurrent@example.com"},
		"groups":         {strings.Join(groups, "\n")},
		"groupAttribute": {mockidp.DefaultGroupAttribute},
	}
	got, fields, err := samltest.IdPInitiated(e.client, e.idpURL, form)
	if err != nil {
		return nil, err
	}
	if want := e.spURL + "/sso/callback"; got != want {
		return nil, fmt.Errorf("the IdP posts to %q, want %q", got, want)
	}
	return fields, nil
}

func TestJITConcurrentFirstLogins(t *testing.T) {
	asserted := []string{"engineering", "SALES", "Not-In-HMP"}
	want := []string{"Engineering", "Sales"}
	k := newKeys(t)
	for _, tc := range []struct {
		name   string
		nameID func(i int) string
	}{
		{"one NameID", func(int) string { return "Jane.Concurrent@Example.com" }},
		// Identifiers ignore case: three spellings are still one person.
		{"one NameID in three spellings", func(i int) string {
			return []string{"Jane.Concurrent@Example.com", "jane.concurrent@example.com", "JANE.CONCURRENT@EXAMPLE.COM"}[i%3]
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, k)
			ctx := context.Background()

			// 50 distinct genuine responses, made before the barrier.
			forms := make([]url.Values, simultaneous)
			var wg sync.WaitGroup
			sem := make(chan struct{}, 8)
			for i := range simultaneous {
				wg.Go(func() {
					sem <- struct{}{}
					defer func() { <-sem }()
					f, err := e.genuine(tc.nameID(i), asserted)
					if err != nil {
						t.Errorf("response %d: %v", i, err)
						return
					}
					forms[i] = f
				})
			}
			wg.Wait()
			if t.Failed() {
				t.FailNow()
			}
			distinct := map[string]bool{}
			for _, f := range forms {
				distinct[f.Get("SAMLResponse")] = true
			}
			if len(distinct) != simultaneous {
				t.Fatalf("%d distinct responses, want %d", len(distinct), simultaneous)
			}

			// Open the connections first, so that the posts leave together
			// instead of queueing behind TLS handshakes.
			for range simultaneous {
				wg.Go(func() {
					req, _ := http.NewRequest(http.MethodGet, e.spURL+"/healthz", nil)
					if _, err := e.do(req); err != nil {
						t.Errorf("warm-up: %v", err)
					}
				})
			}
			wg.Wait()

			replies := make([]reply, simultaneous)
			errs := make([]error, simultaneous)
			var ready sync.WaitGroup
			start := make(chan struct{})
			ready.Add(simultaneous)
			for i := range simultaneous {
				wg.Go(func() {
					ready.Done()
					<-start
					replies[i], errs[i] = e.postACS(forms[i])
				})
			}
			ready.Wait()
			began := time.Now()
			close(start)
			wg.Wait()
			elapsed := time.Since(began)

			var ok []int
			failures := map[string]int{}
			for i, r := range replies {
				switch {
				case errs[i] != nil:
					t.Errorf("login %d: no reply: %v", i, errs[i])
				case r.success():
					ok = append(ok, i)
				case r.status >= 400 && r.status <= 599 && strings.HasPrefix(r.contentType, "text/html"):
					code := "?"
					if m := ssoErrorRe.FindStringSubmatch(r.body); m != nil {
						code = m[1]
					}
					failures[fmt.Sprintf("%d %s", r.status, code)]++
				default:
					t.Errorf("login %d: unclean reply %d %q (Location %q): %.200s", i, r.status, r.contentType, r.location, r.body)
				}
			}
			if strings.Contains(e.log.String(), "handler panic") {
				t.Errorf("the SP panicked:\n%s", e.log)
			}
			t.Logf("%d simultaneous first logins in %s: %d succeeded, clean failures %v", simultaneous, elapsed.Round(time.Millisecond), len(ok), failures)
			if len(failures) > 0 {
				t.Logf("SP log:\n%s", e.log)
			}

			users, err := e.app.Store.Users(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(users) != 1 {
				var ids []string
				for _, u := range users {
					ids = append(ids, u.Identifier)
				}
				t.Fatalf("%d accounts after %d simultaneous first logins of one identifier, want exactly 1: %q", len(users), simultaneous, ids)
			}
			u := users[0]
			if jit.Key(u.Identifier) != jit.Key(tc.nameID(0)) {
				t.Errorf("account %q, want %q (any case)", u.Identifier, tc.nameID(0))
			}
			var names []string
			for _, g := range u.Groups {
				names = append(names, g.Name)
			}
			slices.Sort(names)
			if !slices.Equal(names, want) {
				t.Errorf("groups %q, want %q", names, want)
			}
			if u.FirstName != "Jane" || u.LastName != "Concurrent" || u.Email != "jane.concurrent@example.com" {
				t.Errorf("attributes %q %q %q", u.FirstName, u.LastName, u.Email)
			}
			n, err := e.app.Store.CountUserSessions(ctx, u.ID, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if n != len(ok) {
				t.Errorf("%d live sessions for the account, want one per success (%d)", n, len(ok))
			}
			// Every success's session is the one account's.
			for _, i := range ok {
				home := e.get("/", replies[i].cookie)
				if home.status != http.StatusOK || !strings.Contains(home.body, u.Identifier) {
					t.Errorf("login %d: home page %d, want the account's page", i, home.status)
				}
			}
		})
	}
}
