// Package framework is what the suites' specs stand on: a per-process
// environment (the mock IdP and the reference SP on their own host names
// over TLS, and one headless Chromium), browser helpers that act as an
// administrator or as a user signing in through the IdP, and the evidence
// a failed spec leaves behind.
package framework

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hmpconform/hmpconform/internal/stack"
	"github.com/hmpconform/hmpconform/internal/tlsutil"
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

// Options configure an Env.
type Options struct {
	// Tag makes this process's names unique, e.g. "p1".
	Tag string
	// Log receives the servers' log lines.
	Log *LogBuffer
}

// Env is one suite process's world: its own IdP, SP and browser.
type Env struct {
	Stack         *stack.Stack
	Browser       *browser.Browser
	CA            *tlsutil.CA
	HTTP          *http.Client // trusts the CA; resolves *.test to loopback
	AdminPassword string
	Mutant        string
	Log           *LogBuffer

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
	e := &Env{dir: dir, tag: opts.Tag, Log: opts.Log, AdminPassword: "suite-" + randomTag(12)}
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
	e.Stack, err = stack.Start(ctx, stack.Options{
		DataDir: filepath.Join(dir, "data"), IdPHost: IdPHost, SPHost: SPHost, CA: e.CA,
		AdminPassword: e.AdminPassword, Logger: slog.New(slog.NewTextHandler(e.Log, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Mutation: mutation,
	})
	if err != nil {
		return fail(fmt.Errorf("start idp and sp: %w", err))
	}
	e.Browser, err = browser.Start(browser.Options{
		UserDataDir:       filepath.Join(dir, "chromium"),
		HostResolverRules: "MAP *.test 127.0.0.1",
		TrustedSPKI:       []string{tlsutil.SPKIHash(e.CA.Cert)},
	})
	if err != nil {
		return fail(err)
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	e.HTTP = &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: e.CA.Pool()},
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
	return e, nil
}

// Close stops the browser and the servers and removes the temp dir.
func (e *Env) Close() {
	if e.Browser != nil {
		e.Browser.Close()
	}
	if e.Stack != nil {
		_ = e.Stack.Close()
	}
	_ = os.RemoveAll(e.dir)
}

// Unique returns prefix plus a suffix no other spec or process uses.
func (e *Env) Unique(prefix string) string {
	return fmt.Sprintf("%s-%s%d", prefix, e.tag, e.n.Add(1))
}

// SPURL is an absolute URL on the SP.
func (e *Env) SPURL(path string) string { return e.Stack.SPURL.String() + path }

// IdPURL is an absolute URL on the mock IdP.
func (e *Env) IdPURL(path string) string { return e.Stack.IdPURL.String() + path }

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
