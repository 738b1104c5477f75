// Package framework is what the suites' specs stand on: a per-process
// environment (the mock IdP and the reference SP on their own host names
// over TLS, and one headless Chromium), browser helpers that act as an
// administrator or as a user signing in through the IdP, and the evidence
// a failed spec leaves behind.
package framework

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hmpconform/hmpconform/internal/stack"
	"github.com/hmpconform/hmpconform/internal/tlsutil"
	"github.com/hmpconform/hmpconform/mockidp"
	"github.com/hmpconform/hmpconform/sp/mutants"
	"github.com/hmpconform/hmpconform/sp/refsp"
	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

// Host names the browser uses; --host-resolver-rules maps *.test to
// loopback, so the IdP and the SP are different sites, as in production.
const (
	IdPHost = "idp.mock.test"
	SPHost  = "hmp.sp.test"
)

// MutantEnv names the environment variable that swaps the reference SP's
// JIT rules for a deliberately broken variant (see sp/mutants).
const MutantEnv = "HMPCONFORM_SP_MUTANT"

// FreshTabsEnv, when set, makes every tab new instead of a wiped, reused
// one (for comparing, or when isolation is in doubt).
const FreshTabsEnv = "HMPCONFORM_FRESH_TABS"

// Options configure an Env.
type Options struct {
	// Tag makes this process's names unique, e.g. "p1".
	Tag string
	// Log receives the servers' log lines.
	Log *LogBuffer
}

// Env is one suite process's world: its own IdP, SP and browser.
type Env struct {
	// Stack is the bundled IdP + reference SP; nil when a profile names
	// another target.
	Stack *stack.Stack
	// IdP is this process's mock IdP, whatever the target.
	IdP *mockidp.Server
	// Target is the SP under test.
	Target        Target
	idpOnly       *stack.IdPOnly
	Browser       *browser.Browser
	CA            *tlsutil.CA
	HTTP          *http.Client // trusts the CA; resolves *.test to loopback
	AdminPassword string
	Mutant        string
	// Pages are where the target's admin pages are.
	Pages Pages
	// RunMarker is in every name this run creates ("hc" + a short run ID).
	RunMarker string
	Log       *LogBuffer

	tag string
	n   atomic.Int64
	dir string
}

// Start boots the pair and the browser. Close releases everything.
func Start(ctx context.Context, opts Options) (*Env, error) {
	dir, err := os.MkdirTemp("", "hmpconform-suite-")
	if err != nil {
		return nil, err
	}
	e := &Env{dir: dir, tag: opts.Tag, Log: opts.Log, AdminPassword: "suite-" + randomTag(12), RunMarker: runMarker()}
	if e.Log == nil {
		e.Log = NewLogBuffer(2000)
	}
	fail := func(err error) (*Env, error) {
		e.Close()
		return nil, err
	}
	var mutation *refsp.Mutation
	if name := os.Getenv(MutantEnv); name != "" {
		m, err := mutants.Lookup(name)
		if err != nil {
			return fail(err)
		}
		e.Mutant, mutation = m.Name, &m.Mutation
	}
	if e.CA, err = tlsutil.NewCA("hmpconform suite CA", time.Now()); err != nil {
		return fail(err)
	}
	logger := slog.New(slog.NewTextHandler(e.Log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	trusted := []string{tlsutil.SPKIHash(e.CA.Cert)}
	resolverRules := "MAP *.test 127.0.0.1"
	roots := e.CA.Pool()
	profilePath := os.Getenv(TargetEnv)
	if profilePath == "" {
		e.Stack, err = stack.Start(ctx, stack.Options{
			DataDir: filepath.Join(dir, "data"), IdPHost: IdPHost, SPHost: SPHost, CA: e.CA,
			AdminPassword: e.AdminPassword, Logger: logger, Mutation: mutation,
			// A next IdP key pair, for the certificate rollover specs; the SP
			// trusts it only when a spec's settings say so.
			Rollover: true,
			// A test password on a throwaway SP: bcrypt's cheapest cost,
			// since every haiadmin sign-in pays it again.
			PasswordCost: bcrypt.MinCost,
		})
		if err != nil {
			return fail(fmt.Errorf("start idp and sp: %w", err))
		}
		e.IdP = e.Stack.IdP
		e.Pages = DefaultPages()
		e.Target = bundledTarget{stack: e.Stack, password: e.AdminPassword}
	} else {
		if mutation != nil {
			return fail(errors.New("mutants apply to the bundled reference SP only"))
		}
		profile, err := LoadProfile(profilePath)
		if err != nil {
			return fail(err)
		}
		e.AdminPassword = profile.adminPassword
		if profile.HostResolverRules != "" {
			resolverRules = profile.HostResolverRules
		}
		if profile.CAFile != "" {
			pemBytes, err := os.ReadFile(profile.CAFile)
			if err != nil {
				return fail(fmt.Errorf("target CA file: %w", err))
			}
			block, _ := pem.Decode(pemBytes)
			if block == nil {
				return fail(fmt.Errorf("target CA file %s: no PEM certificate", profile.CAFile))
			}
			caCert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return fail(fmt.Errorf("target CA file: %w", err))
			}
			trusted = append(trusted, tlsutil.SPKIHash(caCert))
			roots.AddCert(caCert)
		} else if sys, err := x509.SystemCertPool(); err == nil {
			sys.AddCert(e.CA.Cert)
			roots = sys
		}
		// One IdP per process: process 1 takes the profile's fixed port.
		port := profile.IdP.Port
		if port != 0 {
			port += GinkgoParallelProcessOrOne() - 1
		}
		e.idpOnly, err = stack.StartIdP(stack.IdPOptions{
			DataDir: profile.IdP.DataDir, Host: profile.IdP.Host, Port: port, CA: e.CA,
			GroupAttribute: profile.IdP.GroupAttribute, Logger: logger,
		})
		if err != nil {
			return fail(fmt.Errorf("start mock idp: %w", err))
		}
		e.IdP = e.idpOnly.IdP
		e.Target = &profileTarget{p: profile, base: mustParseURL(profile.BaseURL)}
		e.Pages = profile.Pages.withDefaults()
	}
	e.Browser, err = browser.Start(browser.Options{
		UserDataDir:       filepath.Join(dir, "chromium"),
		HostResolverRules: resolverRules,
		TrustedSPKI:       trusted,
		// A closed person's tab is wiped and reused: a fresh one costs
		// Chromium more CPU than the login in it (README, performance).
		ReuseTabs: os.Getenv(FreshTabsEnv) == "",
	})
	if err != nil {
		return fail(err)
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	e.HTTP = &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots},
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				host, port, err := net.SplitHostPort(addr)
				if err == nil && strings.HasSuffix(host, ".test") {
					addr = net.JoinHostPort("127.0.0.1", port)
				}
				return dialer.DialContext(ctx, network, addr)
			},
		},
		// The suites look at redirects themselves.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if pt, ok := e.Target.(*profileTarget); ok {
		md, err := pt.loadMetadata(ctx, e.HTTP)
		if err != nil {
			return fail(err)
		}
		if err := e.IdP.RegisterSPMetadataXML(md); err != nil {
			return fail(fmt.Errorf("register the target at the mock IdP: %w", err))
		}
	}
	return e, nil
}

func mustParseURL(s string) *url.URL {
	u, _ := url.Parse(s) // LoadProfile checked it
	return u
}

// Close stops the browser and the servers and removes the temp dir.
func (e *Env) Close() {
	if e.Browser != nil {
		e.Browser.Close()
	}
	if e.Stack != nil {
		_ = e.Stack.Close()
	}
	if e.idpOnly != nil {
		_ = e.idpOnly.Close()
	}
	_ = os.RemoveAll(e.dir)
}

// Unique returns prefix plus a suffix no other spec or process uses.
// Every name carries the run's marker, so cleanup on a live deployment
// removes only what this run created.
func (e *Env) Unique(prefix string) string {
	return fmt.Sprintf("%s-%s%s%d", prefix, e.RunMarker, e.tag, e.n.Add(1))
}

// SPURL is an absolute URL on the SP.
func (e *Env) SPURL(path string) string {
	return strings.TrimSuffix(e.Target.SPURL().String(), "/") + path
}

// IdPURL is an absolute URL on the mock IdP.
func (e *Env) IdPURL(path string) string {
	return strings.TrimSuffix(e.IdP.MetadataURL(), "/metadata") + path
}

// LogBuffer keeps the servers' recent log lines for failure evidence.
type LogBuffer struct {
	mu    sync.Mutex
	max   int
	lines []string
}

// NewLogBuffer keeps up to max lines.
func NewLogBuffer(max int) *LogBuffer { return &LogBuffer{max: max} }

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		b.lines = append(b.lines, line)
	}
	if over := len(b.lines) - b.max; over > 0 {
		b.lines = append([]string(nil), b.lines[over:]...)
	}
	return len(p), nil
}

// Mark returns a position; Since returns the lines written after it.
func (b *LogBuffer) Mark() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.lines)
}

// Since returns lines after a Mark (best effort once the buffer rolled).
func (b *LogBuffer) Since(mark int) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if mark > len(b.lines) {
		mark = 0
	}
	return append([]string(nil), b.lines[mark:]...)
}

// runMarker is shared by the processes of one run: derived from the run
// directory `make` names, else from the Ginkgo CLI's PID (every process's
// parent).
func runMarker() string {
	seed := os.Getenv("HMPCONFORM_RUN_DIR")
	if seed == "" {
		seed = fmt.Sprint(os.Getppid())
	}
	sum := sha256.Sum256([]byte(seed))
	return "hc" + hex.EncodeToString(sum[:])[:5]
}
