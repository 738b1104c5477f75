package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"html"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hmpconform/hmpconform/internal/keypair"
	"github.com/hmpconform/hmpconform/internal/stack"
	"github.com/hmpconform/hmpconform/mockidp"
	"github.com/hmpconform/hmpconform/sp/refsp"
	"github.com/hmpconform/hmpconform/sp/store"
)

var samlResponseRe = regexp.MustCompile(`name="SAMLResponse" value="([^"]*)"`)

func runACS(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hmpload acs", flag.ContinueOnError)
	usersFlag := fs.String("users", "1000,10000,100000", "account counts, one reference SP (own SQLite database) each, ascending")
	n := fs.Int("n", 1000, "ACS logins measured per SP")
	c := fs.Int("c", 4, "concurrent clients")
	turn := fs.Int("turn", 100, "logins per turn: the SPs take turns until each has served -n or the cap passes; "+
		"each turn's responses are issued (unmeasured) just before it, as they must reach the ACS within 90s")
	newEvery := fs.Int("new-every", 5, "one login in this many is a first login (account created); the rest are random seeded accounts")
	capDur := fs.Duration("cap", 150*time.Second, "time cap on the whole measurement")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this process (SPs and IdP) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var counts []int
	for _, f := range strings.Split(*usersFlag, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 || (len(counts) > 0 && v <= counts[len(counts)-1]) {
			return fmt.Errorf("-users %q: ascending positive counts", *usersFlag)
		}
		counts = append(counts, v)
	}
	tmp, err := os.MkdirTemp("", "hmpload-acs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	logf, err := os.Create(filepath.Join(tmp, "servers.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	logger := slog.New(slog.NewTextHandler(logf, nil))

	// One mock IdP, driven through its handler in this process: it only
	// issues the responses, before each turn.
	pair, err := keypair.New(nil, "hmpload idp", time.Now())
	if err != nil {
		return err
	}
	idpBase, _ := url.Parse("https://idp.mock.test:7443")
	idp, err := mockidp.New(mockidp.Config{BaseURL: idpBase, Key: pair.Key, Certificate: pair.Certificate, Logger: logger.With("server", "mockidp")})
	if err != nil {
		return err
	}
	issuer := &acsIssuer{h: idp.Handler()}

	// One reference SP per account count, each on its own loopback
	// listener and SQLite file, all trusting the IdP.
	fmt.Printf("acs-load: %d ACS logins per SP in turns of %d (1 in %d a first login, the rest random seeded accounts), %d concurrent clients, cap %s; SQLite; loopback HTTP\n",
		*n, *turn, *newEvery, *c, *capDur)
	sps := make([]*acsSP, len(counts))
	for i, count := range counts {
		sp, err := startACSSP(ctx, filepath.Join(tmp, "sp-"+strconv.Itoa(count)), idp, logger.With("server", "refsp-"+human(count)))
		if err != nil {
			return err
		}
		defer sp.close()
		t0 := time.Now()
		if err := sp.seed(ctx, count); err != nil {
			return fmt.Errorf("seed %d accounts: %w", count, err)
		}
		total, err := sp.users(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("acs-load: SP %d: %d accounts seeded in %.1fs (bulk SQL insert)\n", i+1, total, time.Since(t0).Seconds())
		sp.count, sp.res.Name = count, human(count)
		sps[i] = sp
	}

	client := newClient(*c)
	rng := rand.New(rand.NewPCG(8, 8))
	deadline := time.Now().Add(*capDur)
	for round := 0; ; round++ {
		progressed := false
		for j := range sps {
			sp := sps[(j+round)%len(sps)] // rotate who goes first
			done := sp.res.Requested
			k := min(*turn, *n-done)
			if k <= 0 || time.Until(deadline) <= 0 {
				continue
			}
			names := make([]string, k)
			for i := range names {
				if (done+i)%*newEvery == 0 {
					names[i] = fmt.Sprintf("new-%06d@example.com", done+i)
				} else {
					names[i] = seedName(rng.IntN(sp.count))
				}
			}
			responses, err := issuer.issue(sp.entityID, names)
			if err != nil {
				return err
			}
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			cpu0 := processCPU()
			part := drive(ctx, sp.res.Name, k, *c, left, func(ctx context.Context, i int) error {
				return postACS(ctx, client, sp.acsURL, responses[i])
			})
			sp.cpu += processCPU() - cpu0
			sp.res.merge(part)
			progressed = true
		}
		if !progressed || ctx.Err() != nil {
			break
		}
	}
	for _, sp := range sps {
		sp.res.Capped = sp.res.Requested < *n
		sp.res.Requested = *n
		total, _ := sp.users(ctx)
		fmt.Printf("acs-load users=%s (%d accounts at the end): %s; CPU %s/login (SP and client)\n",
			sp.res.Name, total, sp.res.String(), perLogin(sp.cpu, sp.res.OK))
		fmt.Printf("acs-users-%s: rate %.1f/s p50 %s p99 %s\n", sp.res.Name, sp.res.Rate(), ms(sp.res.Percentile(50)), ms(sp.res.Percentile(99)))
		if sp.res.OK == 0 {
			return fmt.Errorf("no ACS login succeeded with %d accounts: %v", sp.count, sp.res.FirstErr)
		}
	}
	if len(sps) > 1 {
		first, last := &sps[0].res, &sps[len(sps)-1].res
		fmt.Printf("acs-rate-ratio(%s/%s): %.2f\n", last.Name, first.Name, last.Rate()/first.Rate())
		fmt.Printf("acs-p99-ratio(%s/%s): %.2f\n", last.Name, first.Name, float64(last.Percentile(99))/float64(first.Percentile(99)))
	}
	return nil
}

// acsSP is one reference SP under load.
type acsSP struct {
	app      *refsp.App
	srv      *http.Server
	seeder   *seeder
	groups   []store.Group
	entityID string
	acsURL   string
	count    int
	res      result
	cpu      time.Duration // this process's CPU time during the SP's turns
}

func startACSSP(ctx context.Context, dir string, idp *mockidp.Server, logger *slog.Logger) (*acsSP, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	base := &url.URL{Scheme: "http", Host: ln.Addr().String()}
	app, err := refsp.Open(ctx, refsp.Options{DataDir: dir, BaseURL: base, AdminPassword: "hmpload admin password", Logger: logger})
	if err != nil {
		ln.Close()
		return nil, err
	}
	sp := &acsSP{app: app, acsURL: base.String() + "/sso/callback"}
	sp.srv = &http.Server{Handler: app.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = sp.srv.Serve(ln) }()
	fail := func(err error) (*acsSP, error) { sp.close(); return nil, err }
	for _, name := range []string{"Engineering", "Sales", "Support"} {
		g, err := app.Store.CreateGroup(ctx, name, stack.ExampleGroupRole)
		if err != nil {
			return fail(err)
		}
		sp.groups = append(sp.groups, g)
	}
	cfg := stack.JITSettings(idp, app.Server.SAML().DefaultEntityID())
	if _, err := app.Store.SaveSettings(ctx, cfg); err != nil {
		return fail(err)
	}
	sp.entityID = cfg.AudienceURI
	md, err := app.Server.SAML().Metadata(cfg)
	if err != nil {
		return fail(err)
	}
	if err := idp.RegisterSPMetadataXML(md); err != nil {
		return fail(err)
	}
	if sp.seeder, err = openSeeder(filepath.Join(dir, "hmp.db")); err != nil {
		return fail(err)
	}
	return sp, nil
}

func (sp *acsSP) seed(ctx context.Context, count int) error {
	return sp.seeder.seed(ctx, 0, count, sp.groups)
}

func (sp *acsSP) users(ctx context.Context) (int, error) { return sp.seeder.users(ctx) }

func (sp *acsSP) close() {
	_ = sp.srv.Close()
	if sp.seeder != nil {
		_ = sp.seeder.Close()
	}
	_ = sp.app.Close()
}

// processCPU is this process's user+system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func human(n int) string {
	if n >= 1000 && n%1000 == 0 {
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

func seedName(i int) string { return fmt.Sprintf("seed-%07d@example.com", i) }

// postACS posts one SAMLResponse to the ACS and wants the sign-in redirect
// with a session cookie.
func postACS(ctx context.Context, client *http.Client, acsURL, samlResponse string) error {
	form := url.Values{"SAMLResponse": {samlResponse}, "RelayState": {"/"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, acsURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	body, err := readBody(res)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" || len(res.Cookies()) == 0 {
		return fmt.Errorf("ACS: status %d: %s", res.StatusCode, lastLines(string(body), 3))
	}
	return nil
}

// acsIssuer has the mock IdP sign IdP-initiated responses through its login
// form handler.
type acsIssuer struct{ h http.Handler }

func (a *acsIssuer) one(spID, nameID string) (string, error) {
	form := url.Values{
		"mockidp_login": {"1"}, "sp": {spID}, "RelayState": {"/"},
		"username": {nameID}, "firstName": {"Load"}, "lastName": {"User"}, "email": {nameID},
		"groups": {"Engineering\nsales\nNo Such Group"},
	}
	req := httptest.NewRequest(http.MethodPost, "https://idp.mock.test:7443/idp/initiate", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	m := samlResponseRe.FindStringSubmatch(rec.Body.String())
	if rec.Code != http.StatusOK || m == nil {
		return "", fmt.Errorf("mock IdP: no SAMLResponse (status %d)", rec.Code)
	}
	return html.UnescapeString(m[1]), nil
}

// issue signs one response per name, for the SP spID, on two goroutines.
func (a *acsIssuer) issue(spID string, names []string) ([]string, error) {
	out := make([]string, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := w; i < len(names); i += 2 {
				out[i], errs[i] = a.one(spID, names[i])
			}
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// seeder bulk-inserts JIT accounts straight into the SP's SQLite file (a
// second connection; WAL lets the running SP keep reading), much faster
// than one ApplyLogin transaction per account. The rows look like JIT
// accounts: key = lower-cased identifier, memberships in the example groups.
type seeder struct{ db *sql.DB }

func openSeeder(path string) (*seeder, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return &seeder{db: db}, nil
}

func (s *seeder) Close() error { return s.db.Close() }

// seed adds the accounts seedName(from) .. seedName(to-1): every one in the
// first group, every other one in the second too.
func (s *seeder) seed(ctx context.Context, from, to int, groups []store.Group) error {
	if to <= from {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var before int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM users`).Scan(&before); err != nil {
		return err
	}
	now := time.Now().UnixNano()
	if _, err := tx.ExecContext(ctx, `WITH RECURSIVE seq(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?)
		INSERT INTO users(key, identifier, first_name, last_name, email, short_name, created_at, last_login)
		SELECT printf('seed-%07d@example.com', i), printf('seed-%07d@example.com', i), 'Seed', printf('User %d', i),
		       printf('seed-%07d@example.com', i), printf('seed%d', i), ?, ?
		FROM seq`, from, to, now, now); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO memberships(user_id, group_id) SELECT id, ? FROM users WHERE id > ?`, groups[0].ID, before); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO memberships(user_id, group_id) SELECT id, ? FROM users WHERE id > ? AND id % 2 = 0`, groups[1].ID, before); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *seeder) users(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, err
}
