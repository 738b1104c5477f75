package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

// runReady measures how long `hmpconform run` (what `make run` starts)
// takes from exec until both servers answer over HTTPS: the reference SP's
// /login page and the mock IdP's /metadata, each with 200. A first start
// makes the keys, the CA and the SP's database in an empty data dir; a kept
// start reuses them, as every `make run` after the first does.
func runReady(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hmpload ready", flag.ContinueOnError)
	n := fs.Int("n", 5, "starts measured of each kind (first, kept)")
	bin := fs.String("hmpconform", "", "the hmpconform binary (go build ./cmd/hmpconform); empty: build it now")
	capDur := fs.Duration("cap", 120*time.Second, "time cap on the whole measurement")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q (flags only; hmpload ready -h lists them)", fs.Args())
	case *n < 1:
		return fmt.Errorf("-n must be at least 1, not %d", *n)
	case *capDur <= 0:
		return fmt.Errorf("-cap must be positive, not %s", *capDur)
	}
	interrupted := ctx
	ctx, cancel := context.WithTimeout(ctx, *capDur)
	defer cancel()
	// why says what stopped the measurement early.
	why := func(err error) error {
		switch {
		case interrupted.Err() != nil:
			return fmt.Errorf("interrupted: %w", err)
		case ctx.Err() != nil:
			return fmt.Errorf("the time cap (-cap %s) passed: %w", *capDur, err)
		}
		return err
	}
	tmp, err := os.MkdirTemp("", "hmpload-ready-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if *bin == "" {
		*bin = filepath.Join(tmp, "hmpconform-bin")
		build := exec.CommandContext(ctx, "go", "build", "-o", *bin, "./cmd/hmpconform")
		if out, err := build.CombinedOutput(); err != nil {
			return why(fmt.Errorf("go build ./cmd/hmpconform (run hmpload from the module root, or pass -hmpconform): %v\n%s", err, out))
		}
	}
	fmt.Printf("stack-ready: `hmpconform run` from exec until the SP's /login and the IdP's /metadata both answer 200 over HTTPS; %d first starts (empty data dir) and %d kept starts\n", *n, *n)
	var first, kept []time.Duration
	for i := range *n {
		dataDir := filepath.Join(tmp, fmt.Sprintf("data%d", i))
		// The kept start is `make run` again: same data dir, same ports, so
		// the SP's kept settings still trust this IdP.
		var d time.Duration
		var ports [2]string
		if d, ports, err = timeStackStart(ctx, *bin, dataDir, [2]string{"0", "0"}); err != nil {
			err = why(fmt.Errorf("first start %d: %w", i+1, err))
			break
		}
		first = append(first, d)
		if d, _, err = timeStackStart(ctx, *bin, dataDir, ports); err != nil {
			err = why(fmt.Errorf("kept start %d: %w", i+1, err))
			break
		}
		kept = append(kept, d)
	}
	// What was measured before a cap or an interrupt is still reported.
	for _, r := range []struct {
		kind string
		ds   []time.Duration
	}{{"first", first}, {"kept", kept}} {
		if len(r.ds) > 0 {
			fmt.Printf("stack-ready %s start: median %s, max %s (%s)\n", r.kind, ms(median(r.ds)), ms(slices.Max(r.ds)), msList(r.ds))
		}
	}
	return err
}

// bannerURL finds the URL on a banner line such as
// "  Reference SP (HMP, Just-in-Time)  https://localhost:8443/".
var bannerURL = regexp.MustCompile(`^\s+(Reference SP|Mock IdP)\s.*?\s(https://\S+?)/?$`)

// timeStackStart starts `bin run` with dataDir on ports (IdP, SP; "0" is
// any free one), waits until both servers answer, stops it, and returns
// the time from exec to ready and the ports it had.
func timeStackStart(ctx context.Context, bin, dataDir string, ports [2]string) (time.Duration, [2]string, error) {
	// Hosts and listen address given, so that no HMPCONFORM_* variable of
	// the caller's moves the servers somewhere this client does not look.
	cmd := exec.Command(bin, "run", "--data-dir", dataDir, "--listen", "127.0.0.1",
		"--idp-host", "127.0.0.1", "--sp-host", "localhost", "--idp-port", ports[0], "--sp-port", ports[1])
	cmd.Env = withoutEnv(os.Environ(), "HMP_ADMIN_PASSWORD", "HMPCONFORM_DATA", "MOCKIDP_SP_FLAVOUR",
		"HMPCONFORM_IDP_HOST", "HMPCONFORM_SP_HOST")
	var none [2]string
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, none, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, none, err
	}
	exited := make(chan struct{})
	urls := make(chan [2]string, 1)
	go func() {
		var sp, idp string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := bannerURL.FindStringSubmatch(sc.Text()); m != nil {
				if m[1] == "Reference SP" {
					sp = m[2]
				} else {
					idp = m[2]
				}
				if sp != "" && idp != "" {
					urls <- [2]string{sp, idp}
					sp, idp = "", "-" // send once
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	var u [2]string
	select {
	case u = <-urls:
	case <-exited:
		return 0, none, fmt.Errorf("hmpconform exited before printing its URLs:\n%s", lastLines(stderr.String(), 15))
	case <-ctx.Done():
		return 0, none, fmt.Errorf("no URLs printed: %w", ctx.Err())
	}
	var got [2]string
	for i, raw := range []string{u[1], u[0]} { // IdP, SP
		pu, err := url.Parse(raw)
		if err != nil || pu.Port() == "" {
			return 0, none, fmt.Errorf("hmpconform printed %q, not a URL with a port", raw)
		}
		got[i] = pu.Port()
	}
	// The banner comes after the CA is written; trust only it.
	client, err := caClient(filepath.Join(dataDir, "ca-cert.pem"))
	if err != nil {
		return 0, none, err
	}
	// Idle connections would make each server's Shutdown wait ~1 s for the
	// client to close after GOAWAY: close them before the SIGTERM.
	defer client.CloseIdleConnections()
	for _, target := range []string{u[0] + "/login", u[1] + "/metadata"} {
		for {
			res, err := client.Get(target)
			if err == nil {
				_, _ = readBody(res)
				if res.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-exited:
				return 0, none, fmt.Errorf("hmpconform exited before %s answered:\n%s", target, lastLines(stderr.String(), 15))
			case <-ctx.Done():
				return 0, none, fmt.Errorf("%s did not answer 200 (last error: %v): %w", target, err, ctx.Err())
			case <-time.After(2 * time.Millisecond):
			}
		}
	}
	return time.Since(start), got, nil
}

// caClient is an HTTPS client that trusts only the CA in caFile.
func caClient(caFile string) (*http.Client, error) {
	pemBytes, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, errors.New(caFile + ": no certificate")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{
		Transport:     tr,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// withoutEnv is env less the named variables.
func withoutEnv(env []string, names ...string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(names, name)
	})
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

func msList(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = ms(d)
	}
	return strings.Join(parts, ", ")
}
