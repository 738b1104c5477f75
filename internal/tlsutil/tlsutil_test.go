package tlsutil

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func newTLSServer(t *testing.T, cert tls.Certificate) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.Host)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// clientFor returns a client that dials addr whatever the host name, so a
// certificate for a DNS name can be checked against a loopback server.
func clientFor(addr string, roots *x509.CertPool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			},
		},
	}
}

func TestIssuedCertificateIsTrustedOnlyThroughPool(t *testing.T) {
	now := time.Now()
	ca, err := NewCA("test CA", now)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueServer([]string{"site.example.test", "127.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	srv := newTLSServer(t, cert)
	addr := srv.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(addr)

	for _, host := range []string{"site.example.test", "127.0.0.1"} {
		url := "https://" + net.JoinHostPort(host, port) + "/"
		resp, err := clientFor(addr, ca.Pool()).Get(url)
		if err != nil {
			t.Fatalf("GET %s trusting the CA: %v", url, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(string(body), "hello ") {
			t.Fatalf("GET %s: body %q", url, body)
		}
	}

	sys, err := x509.SystemCertPool()
	if err != nil {
		sys = x509.NewCertPool()
	}
	_, err = clientFor(addr, sys).Get("https://site.example.test:" + port + "/")
	var uae x509.UnknownAuthorityError
	if !errors.As(err, &uae) {
		t.Fatalf("GET with the system pool: want an unknown-authority error, got %v", err)
	}

	// A name the certificate does not hold is refused even with the CA.
	if _, err := clientFor(addr, ca.Pool()).Get("https://other.example.test:" + port + "/"); err == nil {
		t.Fatal("GET for a name outside the certificate succeeded")
	}
}

func TestCertificateShape(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	ca, err := NewCA("shape CA", now)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.Cert.IsCA || ca.Cert.NotBefore != now.Add(-time.Hour) || ca.Cert.NotAfter != now.Add(30*24*time.Hour) {
		t.Fatalf("ca: IsCA=%v NotBefore=%v NotAfter=%v", ca.Cert.IsCA, ca.Cert.NotBefore, ca.Cert.NotAfter)
	}
	cert, err := ca.IssueServer([]string{"a.test", "*.b.test", "::1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	leaf := cert.Leaf
	if got := strings.Join(leaf.DNSNames, ","); got != "a.test,*.b.test" {
		t.Fatalf("DNSNames = %s", got)
	}
	if len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].Equal(net.ParseIP("::1")) {
		t.Fatalf("IPAddresses = %v", leaf.IPAddresses)
	}
	if leaf.PublicKeyAlgorithm != x509.ECDSA {
		t.Fatalf("leaf key algorithm %v", leaf.PublicKeyAlgorithm)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "x.b.test", Roots: ca.Pool(), CurrentTime: now}); err != nil {
		t.Fatalf("verify wildcard: %v", err)
	}
	if _, err := ca.IssueServer(nil, now); err == nil {
		t.Fatal("IssueServer with no names succeeded")
	}
	h := SPKIHash(leaf)
	if len(h) != 44 || h == SPKIHash(ca.Cert) {
		t.Fatalf("SPKIHash = %q", h)
	}
}

func TestLoadOrCreateCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	now := time.Now()
	ca1, created, err := LoadOrCreateCA(dir, now)
	if err != nil || !created {
		t.Fatalf("first call: created=%v err=%v", created, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, CAKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	ca2, created, err := LoadOrCreateCA(dir, now.Add(time.Hour))
	if err != nil || created {
		t.Fatalf("second call: created=%v err=%v", created, err)
	}
	if !ca2.Cert.Equal(ca1.Cert) {
		t.Fatal("second call made a different CA")
	}
	// The loaded CA can still issue.
	if _, err := ca2.IssueServer([]string{"x.test"}, now); err != nil {
		t.Fatal(err)
	}
	// Near its expiry the CA is replaced.
	ca3, created, err := LoadOrCreateCA(dir, now.Add(30*24*time.Hour))
	if err != nil || !created || ca3.Cert.Equal(ca1.Cert) {
		t.Fatalf("after expiry: created=%v err=%v", created, err)
	}
	// A damaged file is an error, not silently replaced.
	if err := os.WriteFile(filepath.Join(dir, CACertFile), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateCA(dir, now); err == nil {
		t.Fatal("damaged CA file accepted")
	}
}

// One CA file deleted is not a first start: the other stays as it is and
// the error names the missing file and says what to do.
func TestLoadOrCreateCARefusesHalfAPair(t *testing.T) {
	now := time.Now()
	for _, gone := range []string{CACertFile, CAKeyFile} {
		t.Run(gone, func(t *testing.T) {
			dir := t.TempDir()
			if _, _, err := LoadOrCreateCA(dir, now); err != nil {
				t.Fatal(err)
			}
			kept := CAKeyFile
			if gone == kept {
				kept = CACertFile
			}
			before, err := os.ReadFile(filepath.Join(dir, kept))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(dir, gone)); err != nil {
				t.Fatal(err)
			}
			_, created, err := LoadOrCreateCA(dir, now)
			if err == nil || created {
				t.Fatalf("%s deleted: created=%v err=%v", gone, created, err)
			}
			for _, want := range []string{filepath.Join(dir, gone) + " is missing", "left as it was", "restore " + gone, "delete " + kept + " too"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if after, err := os.ReadFile(filepath.Join(dir, kept)); err != nil || !bytes.Equal(before, after) {
				t.Errorf("%s was changed (%v)", kept, err)
			}
			if _, err := os.Stat(filepath.Join(dir, gone)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s was written again (%v)", gone, err)
			}
		})
	}
	// An empty key file is an error naming it.
	dir := t.TempDir()
	if _, _, err := LoadOrCreateCA(dir, now); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, CAKeyFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateCA(dir, now); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, CAKeyFile)) {
		t.Errorf("empty %s: %v", CAKeyFile, err)
	}
}

// TestLoadOrCreateCAAtOnceMakesOneCA: two runs starting on one fresh data
// directory at once must end with one authority that both serve and that
// a later start accepts.
func TestLoadOrCreateCAAtOnceMakesOneCA(t *testing.T) {
	for round := range 5 {
		dir := t.TempDir()
		const n = 6
		cas := make([]*CA, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cas[i], _, errs[i] = LoadOrCreateCA(dir, time.Now())
			}()
		}
		wg.Wait()
		later, _, err := LoadOrCreateCA(dir, time.Now())
		if err != nil {
			t.Fatalf("round %d: a later start: %v", round, err)
		}
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d, caller %d: %v", round, i, errs[i])
			}
			if !cas[i].Cert.Equal(later.Cert) {
				t.Fatalf("round %d: caller %d serves another CA than the one kept", round, i)
			}
		}
	}
}

// TestLoadOrCreateCAFailedWriteLeavesNoHalf: a first start that cannot
// write the certificate takes its key back, so the next start is a first
// start again rather than a refused half pair.
func TestLoadOrCreateCAFailedWriteLeavesNoHalf(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(dir, "no-such-dir", "x"), filepath.Join(dir, CACertFile)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateCA(dir, time.Now()); err == nil {
		t.Fatal("writing through a dangling link should fail")
	}
	if _, err := os.Stat(filepath.Join(dir, CAKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the failed start left %s (stat: %v)", CAKeyFile, err)
	}
}
