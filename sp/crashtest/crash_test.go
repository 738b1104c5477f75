package crashtest_test

// TestCrashConsistency builds sp/cmd/refsp, runs it as a child process in
// Just-in-Time mode trusting an in-process mock IdP, posts genuine
// IdP-initiated responses for distinct new users to its ACS from several
// goroutines and SIGKILLs it after killAfter successes. It then restarts the
// binary on the same data directory and checks that:
//
//   - every login that was answered with success (303 to a local path, with
//     an hmp_session cookie) has its account, with its groups;
//   - the sessions those replies started are still live;
//   - responses accepted before the crash are refused as replayed after it
//     (the replay cache is in the database, not in memory);
//   - responses whose reply was lost in the crash are either accepted now or
//     refused as replayed, never anything else;
//   - the restarted SP accepts new logins and stops cleanly on SIGTERM.

import (
	"bufio"
	"context"
	"crypto/x509"
	"fmt"
	"github.com/hmpconform/hmpconform/internal/samltest"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hmpconform/hmpconform/internal/keypair"
	"github.com/hmpconform/hmpconform/internal/tlsutil"
	"github.com/hmpconform/hmpconform/mockidp"
	"github.com/hmpconform/hmpconform/sp/jit"
	"github.com/hmpconform/hmpconform/sp/store"
	"github.com/hmpconform/hmpconform/sp/store/sqlite"
)

const (
	totalLogins     = 200 // distinct new users offered before the kill
	killAfter       = 60  // successes after which the SP is SIGKILLed
	workers         = 8
	replayChecks    = 25 // pre-crash successes posted again after the restart
	loginsAfter     = 10 // new users after the restart
	adminPassword   = "crash-test haiadmin password"
	listeningPrefix = "refsp: listening on "
	sessionCookie   = "hmp_session"
	startTimeout    = 90 * time.Second
)

// exampleGroups are the groups refsp creates with --configure-idp-metadata.
var exampleGroups = []string{"Engineering", "Sales", "Support"}

var (
	ssoErrorRe = regexp.MustCompile(`id="sso-error"[^>]*data-code="([^"]*)"`)
)

// identity is what the mock IdP's login form asserts, and what the SP must
// then hold.
type identity struct {
	NameID, FirstName, LastName, Email string
	Asserted                           []string // group values sent
	Want                               []string // the SP's groups expected, sorted
}

// identityFor makes user i: a mixed-case NameID, some of the example groups
// (in upper case for every third user: matching ignores case) and a group
// the SP does not have (ignored).
func identityFor(i int) identity {
	id := identity{
		NameID:    fmt.Sprintf("Crash.User%03d@Example.com", i),
		FirstName: "Crash",
		LastName:  fmt.Sprintf("User %03d", i),
		Email:     fmt.Sprintf("crash.user%03d@example.com", i),
		Want:      []string{},
	}
	for b, g := range exampleGroups {
		if i>>b&1 == 1 {
			asserted := g
			if i%3 == 0 {
				asserted = strings.ToUpper(g)
			}
			id.Asserted = append(id.Asserted, asserted)
			id.Want = append(id.Want, g)
		}
	}
	id.Asserted = append(id.Asserted, fmt.Sprintf("Not-In-HMP-%d", i))
	slices.Sort(id.Want)
	return id
}

// spProcess is one run of the refsp binary.
type spProcess struct {
	cmd    *exec.Cmd
	stdout *samltest.SyncBuffer
	stderr *samltest.SyncBuffer
	done   chan struct{} // closed once the process has exited
	state  *os.ProcessState
}

func (p *spProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// startSP starts the binary and waits for its "listening" line.
func startSP(t *testing.T, bin string, args []string) *spProcess {
	t.Helper()
	p := &spProcess{stdout: &samltest.SyncBuffer{}, stderr: &samltest.SyncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), "HMP_ADMIN_PASSWORD="+adminPassword)
	p.cmd.Stderr = p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			_, _ = p.stdout.Write([]byte(line + "\n"))
			if !signalled && strings.HasPrefix(line, listeningPrefix) {
				signalled = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, out)
		_ = p.cmd.Wait() // after every read from the pipe
		p.state = p.cmd.ProcessState
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case <-ready:
		return p
	case <-p.done:
		t.Fatalf("refsp exited before serving (%v)\nstdout:\n%s\nstderr:\n%s", p.state, p.stdout, p.stderr)
	case <-time.After(startTimeout):
		t.Fatalf("refsp did not print %q within %s\nstdout:\n%s\nstderr:\n%s", listeningPrefix, startTimeout, p.stdout, p.stderr)
	}
	return nil
}

// stopSP sends SIGTERM and expects a clean exit.
func stopSP(t *testing.T, p *spProcess) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("refsp did not stop on SIGTERM\nstderr:\n%s", p.stderr)
	}
	if !p.state.Success() {
		t.Errorf("refsp exited with %v on SIGTERM\nstderr:\n%s", p.state, p.stderr)
	}
	if !strings.Contains(p.stdout.String(), "refsp: stopped") {
		t.Errorf("refsp did not report a graceful stop; stdout:\n%s", p.stdout)
	}
}

func buildRefSP(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool to build refsp: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "refsp")
	cmd := exec.Command(goTool, "build", "-o", bin, "github.com/hmpconform/hmpconform/sp/cmd/refsp")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build refsp: %v\n%s", err, out)
	}
	return bin
}

// freePort returns a loopback port that was free a moment ago: the SP's
// base URL must name its port before the process binds it.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// idp is the in-process mock IdP over TLS.
type idp struct {
	srv    *mockidp.Server
	ts     *httptest.Server
	client *http.Client
}

func startIdP(t *testing.T) *idp {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	base := &url.URL{Scheme: "https", Host: ts.Listener.Addr().String()}
	pair, err := keypair.New(nil, "crash-test idp", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := mockidp.New(mockidp.Config{
		BaseURL: base, Key: pair.Key, Certificate: pair.Certificate, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv.Handler()
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return &idp{srv: srv, ts: ts, client: ts.Client()}
}

// login signs id in at the IdP, IdP-initiated to the SP spEntityID, and
// returns the auto-submit form's fields, checking that they go to acs.
func (p *idp) login(spEntityID, acs string, id identity) (url.Values, error) {
	form := url.Values{
		"sp":             {spEntityID},
		"RelayState":     {"/"},
		"username":       {id.NameID},
		"firstName":      {id.FirstName},
		"lastName":       {id.LastName},
		"email":          {id.Email},
		"groups":         {strings.Join(id.Asserted, "\n")},
		"groupAttribute": {mockidp.DefaultGroupAttribute},
	}
	got, fields, err := samltest.IdPInitiated(p.client, p.ts.URL, form)
	if err != nil {
		return nil, err
	}
	if got != acs {
		return nil, fmt.Errorf("the IdP posts to %q, want the SP's ACS %q", got, acs)
	}
	return fields, nil
}

// reply is the SP's answer to one request.
type reply struct {
	status   int
	location string
	cookie   string // hmp_session value, if set
	body     string
}

func (r reply) success() bool {
	return r.status == http.StatusSeeOther && strings.HasPrefix(r.location, "/") &&
		!strings.HasPrefix(r.location, "//") && r.cookie != ""
}

func (r reply) refusalCode() string {
	if m := ssoErrorRe.FindStringSubmatch(r.body); m != nil {
		return m[1]
	}
	return ""
}

func do(client *http.Client, req *http.Request) (reply, error) {
	res, err := client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return reply{}, err
	}
	r := reply{status: res.StatusCode, location: res.Header.Get("Location"), body: string(b)}
	for _, c := range res.Cookies() {
		if c.Name == sessionCookie {
			r.cookie = c.Value
		}
	}
	return r, nil
}

func postACS(client *http.Client, base string, form url.Values) (reply, error) {
	req, err := http.NewRequest(http.MethodPost, base+"/sso/callback", strings.NewReader(form.Encode()))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(client, req)
}

func getWithSession(client *http.Client, u, session string) (reply, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return reply{}, err
	}
	if session != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: session})
	}
	return do(client, req)
}

// spClient trusts only the authority that refsp keeps in its data dir.
func spClient(t *testing.T, dataDir string) *http.Client {
	t.Helper()
	pemBytes, err := os.ReadFile(filepath.Join(dataDir, tlsutil.CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("no certificate in the SP's ca-cert.pem")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig.RootCAs = pool
	tr.MaxIdleConnsPerHost = 2 * workers
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Timeout:       60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// attempt is what happened to one login offered before the crash.
type attempt struct {
	id        identity
	form      url.Values
	offered   bool // a response was obtained from the IdP and posted
	issued    time.Time
	reply     reply
	err       error // transport error: the reply was lost
	errKilled bool  // the kill had been ordered when err happened
}

func TestCrashConsistency(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the refsp binary; skipped with -short")
	}
	bin := buildRefSP(t)
	ip := startIdP(t)

	// The SP trusts the IdP through --configure-idp-metadata.
	work := t.TempDir()
	dataDir := filepath.Join(work, "refsp")
	mdRes, err := ip.client.Get(ip.ts.URL + "/metadata")
	if err != nil {
		t.Fatal(err)
	}
	md, err := io.ReadAll(mdRes.Body)
	mdRes.Body.Close()
	if err != nil || mdRes.StatusCode != http.StatusOK {
		t.Fatalf("IdP metadata: %v %s", err, mdRes.Status)
	}
	mdFile := filepath.Join(work, "idp-metadata.xml")
	if err := os.WriteFile(mdFile, md, 0o600); err != nil {
		t.Fatal(err)
	}

	port := freePort(t)
	base := fmt.Sprintf("https://127.0.0.1:%d", port)
	args := []string{
		"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--base-url", base,
		"--data-dir", dataDir, "--configure-idp-metadata", mdFile,
	}
	sp := startSP(t, bin, args)
	client := spClient(t, dataDir)
	entityID := base + "/saml/metadata"
	acs := base + "/sso/callback"

	spMD, err := getWithSession(client, entityID, "")
	if err != nil || spMD.status != http.StatusOK {
		t.Fatalf("GET SP metadata: %v %d", err, spMD.status)
	}
	if err := ip.srv.RegisterSPMetadataXML([]byte(spMD.body)); err != nil {
		t.Fatal(err)
	}

	// Phase 1: logins from several goroutines, SIGKILL after killAfter successes.
	attempts := make([]attempt, totalLogins)
	var (
		next      atomic.Int64
		successes atomic.Int64
		killed    atomic.Bool
		killedAt  time.Time
		killOnce  sync.Once
		wg        sync.WaitGroup
	)
	phase1 := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= totalLogins || killed.Load() {
					return
				}
				a := &attempts[i]
				a.id = identityFor(i)
				form, err := ip.login(entityID, acs, a.id)
				if err != nil {
					a.err = fmt.Errorf("IdP: %w", err)
					continue
				}
				a.form, a.offered, a.issued = form, true, time.Now()
				a.reply, a.err = postACS(client, base, form)
				if a.err != nil {
					a.errKilled = killed.Load()
					continue
				}
				if a.reply.success() && successes.Add(1) == killAfter {
					killOnce.Do(func() {
						killed.Store(true) // before the kill: every error it causes sees it
						killedAt = time.Now()
						if err := sp.cmd.Process.Kill(); err != nil {
							t.Errorf("SIGKILL: %v", err)
						}
					})
				}
			}
		})
	}
	wg.Wait()
	select {
	case <-sp.done:
	case <-time.After(30 * time.Second):
		t.Fatal("refsp did not die on SIGKILL")
	}
	if !killed.Load() {
		t.Fatalf("only %d successes: the SP was never killed\nstderr:\n%s", successes.Load(), sp.stderr)
	}
	if ws, ok := sp.state.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("refsp exited with %v, not by SIGKILL", sp.state)
	}

	var ok, lost, refusedBefore, unexpectedErr, notOffered []int
	for i, a := range attempts {
		switch {
		case !a.offered && a.err == nil:
			notOffered = append(notOffered, i)
		case !a.offered:
			t.Errorf("login %d: %v", i, a.err)
		case a.err != nil && a.errKilled:
			lost = append(lost, i)
		case a.err != nil:
			unexpectedErr = append(unexpectedErr, i)
			t.Errorf("login %d: transport error before the kill: %v", i, a.err)
		case a.reply.success():
			ok = append(ok, i)
		default:
			refusedBefore = append(refusedBefore, i)
			t.Errorf("login %d refused before the kill: %d %s %.200s", i, a.reply.status, a.reply.refusalCode(), a.reply.body)
		}
	}
	t.Logf("before the kill (%s): %d offered, %d succeeded, %d replies lost in the crash, %d refused, %d other errors; %d never offered",
		killedAt.Sub(phase1).Round(time.Millisecond), totalLogins-len(notOffered), len(ok), len(lost), len(refusedBefore), len(unexpectedErr), len(notOffered))

	// Phase 2: restart on the same data dir (and the same flags: the SP is
	// in JIT mode now, so the metadata flag changes nothing).
	restart := time.Now()
	sp2 := startSP(t, bin, args)
	t.Logf("restarted in %s", time.Since(restart).Round(time.Millisecond))
	// stderr is copied by its own goroutine: the line may trail "listening".
	for wait := time.Now().Add(5 * time.Second); !strings.Contains(sp2.stderr.String(), "already in Just-in-Time mode") && time.Now().Before(wait); {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(sp2.stderr.String(), "already in Just-in-Time mode") {
		t.Errorf("the restart did not keep the JIT settings; stderr:\n%s", sp2.stderr)
	}
	if r, err := getWithSession(client, base+"/healthz", ""); err != nil || r.status != http.StatusOK {
		t.Fatalf("healthz after restart: %v %d", err, r.status)
	}

	// Replies lost in the crash: the response was either not consumed (the
	// login can complete now) or consumed (refused as replayed). Posted
	// first, while they are young enough not to be refused as expired.
	var lostAccepted, lostReplayed []int
	for _, i := range lost {
		r, err := postACS(client, base, attempts[i].form)
		switch {
		case err != nil:
			t.Errorf("login %d (reply lost) posted again: %v", i, err)
		case r.success():
			lostAccepted = append(lostAccepted, i)
		case r.refusalCode() == "replayed":
			lostReplayed = append(lostReplayed, i)
		default:
			t.Errorf("login %d (reply lost) posted again: %d %q, want success or replayed", i, r.status, r.refusalCode())
		}
	}

	// Responses accepted before the crash stay refused after it: the most
	// recent ones, which are not yet old enough to be refused as expired
	// (crewjam's MaxIssueDelay is 90s).
	replayed := 0
	var oldest time.Duration
	for _, i := range ok[len(ok)-min(replayChecks, len(ok)):] {
		oldest = max(oldest, time.Since(attempts[i].issued))
		r, err := postACS(client, base, attempts[i].form)
		switch {
		case err != nil:
			t.Errorf("replay of login %d: %v", i, err)
		case r.status == http.StatusForbidden && r.refusalCode() == "replayed":
			replayed++
		default:
			t.Errorf("replay of login %d after the restart (issued %s ago): %d %q (cookie set: %t), want 403 replayed",
				i, time.Since(attempts[i].issued).Round(time.Millisecond), r.status, r.refusalCode(), r.cookie != "")
		}
	}

	// Sessions started before the crash are still live.
	live := 0
	for _, i := range ok {
		r, err := getWithSession(client, base+"/", attempts[i].reply.cookie)
		if err != nil {
			t.Errorf("home page for login %d: %v", i, err)
			continue
		}
		if r.status == http.StatusOK && strings.Contains(r.body, attempts[i].id.NameID) {
			live++
		} else {
			t.Errorf("session of login %d after the restart: %d (Location %q), want its home page", i, r.status, r.location)
		}
	}

	// New logins after the restart, concurrently too.
	var after []identity
	var afterOK atomic.Int64
	for k := range loginsAfter {
		after = append(after, identityFor(totalLogins+k))
	}
	for _, id := range after {
		wg.Go(func() {
			form, err := ip.login(entityID, acs, id)
			if err != nil {
				t.Errorf("IdP login for %s after the restart: %v", id.NameID, err)
				return
			}
			r, err := postACS(client, base, form)
			if err != nil || !r.success() {
				t.Errorf("login %s after the restart: %v %d %q", id.NameID, err, r.status, r.refusalCode())
				return
			}
			afterOK.Add(1)
		})
	}
	wg.Wait()

	stopSP(t, sp2)

	// Phase 3: read the store with the process stopped.
	st, err := sqlite.Open(filepath.Join(dataDir, "hmp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	users, err := st.Users(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]store.User{}
	for _, u := range users {
		if _, dup := byKey[jit.Key(u.Identifier)]; dup {
			t.Errorf("two accounts for %q", u.Identifier)
		}
		byKey[jit.Key(u.Identifier)] = u
	}
	check := func(id identity, what string) bool {
		u, found := byKey[jit.Key(id.NameID)]
		if !found {
			t.Errorf("%s %s: no account", what, id.NameID)
			return false
		}
		var names []string
		for _, g := range u.Groups {
			names = append(names, g.Name)
		}
		slices.Sort(names)
		if u.Identifier != id.NameID || u.Email != id.Email || u.LastName != id.LastName || !slices.Equal(names, id.Want) {
			t.Errorf("%s %s: account %q %q %q groups %q, want %q %q %q groups %q",
				what, id.NameID, u.Identifier, u.Email, u.LastName, names, id.NameID, id.Email, id.LastName, id.Want)
			return false
		}
		return true
	}
	found, missing := 0, 0
	for _, i := range ok {
		if check(attempts[i].id, "login answered with success before the kill:") {
			found++
		} else {
			missing++
		}
	}
	for _, i := range lostAccepted {
		check(attempts[i].id, "login accepted after the restart:")
	}
	lostWithAccount := 0
	for _, i := range lostReplayed {
		// Consumed before the kill: the account may or may not have been
		// written, but if it was, it is whole.
		if _, found := byKey[jit.Key(attempts[i].id.NameID)]; found && check(attempts[i].id, "login whose reply was lost:") {
			lostWithAccount++
		}
	}
	for _, id := range after {
		check(id, "login after the restart:")
	}
	for _, i := range notOffered {
		if _, found := byKey[jit.Key(identityFor(i).NameID)]; found {
			t.Errorf("login %d was never offered but has an account", i)
		}
	}
	if want := len(ok) + len(lostAccepted) + lostWithAccount + int(afterOK.Load()); len(users) != want {
		t.Errorf("%d accounts in the store, want %d", len(users), want)
	}
	t.Logf("after the restart: %d/%d accounts of successful logins found (%d missing), %d/%d with sessions still live; "+
		"%d/%d pre-crash responses refused as replayed (issued up to %s before); lost replies: %d accepted on repost, %d refused as replayed (%d of those had their account); "+
		"%d/%d new logins accepted; %d accounts in all",
		found, len(ok), missing, live, len(ok), replayed, min(replayChecks, len(ok)), oldest.Round(time.Millisecond),
		len(lostAccepted), len(lostReplayed), lostWithAccount, afterOK.Load(), loginsAfter, len(users))
	if t.Failed() {
		t.Logf("first run stderr:\n%s\nsecond run stderr:\n%s", sp.stderr, sp2.stderr)
	}
}
