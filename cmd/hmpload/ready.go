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
	if *n < 1 {
		return fmt.Errorf("-n must be at least 1, not %d", *n)
	}
	ctx, cancel := context.WithTimeout(ctx, *capDur)
	defer cancel()
	tmp, err := os.MkdirTemp("", "hmpload-ready-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if *bin == "" {
		*bin = filepath.Join(tmp, "hmpconform-bin")
		build := exec.CommandContext(ctx, "go", "build", "-o", *bin, "./cmd/hmpconform")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/hmpconform (run hmpload from the module root, or pass -hmpconform): %v\n%s", err, out)
		}
	}
	fmt.Printf("stack-ready: `hmpconform run` from exec until the SP's /login and the IdP's /metadata both answer 200 over HTTPS; %d first starts (empty data dir) and %d kept starts\n", *n, *n)
	var first, kept []time.Duration
	for i := range *n {
		dataDir := filepath.Join(tmp, fmt.Sprintf("data%d", i))
		d, err := timeStackStart(ctx, *bin, dataDir)
		if err != nil {
			return fmt.Errorf("first start %d: %w", i+1, err)
		}
		first = append(first, d)
		d, err = timeStackStart(ctx, *bin, dataDir)
		if err != nil {
			return fmt.Errorf("kept start %d: %w", i+1, err)
		}
		kept = append(kept, d)
	}
	fmt.Printf("stack-ready first start: median %s, max %s (%s)\n", ms(median(first)), ms(slices.Max(first)), msList(first))
	fmt.Printf("stack-ready kept start: median %s, max %s (%s)\n", ms(median(kept)), ms(slices.Max(kept)), msList(kept))
	return nil
}

// bannerURL finds the URL on a banner line such as
// "  Reference SP (HMP, Just-in-Time)  https://localhost:8443/".
var bannerURL = regexp.MustCompile(`^\s+(Reference SP|Mock IdP)\s.*?\s(https://\S+?)/?$`)

// timeStackStart starts `bin run` on free ports with dataDir, waits until
// both servers answer, stops it, and returns the time from exec to ready.
func timeStackStart(ctx context.Context, bin, dataDir string) (time.Duration, error) {
	cmd := exec.Command(bin, "run", "--data-dir", dataDir, "--idp-port", "0", "--sp-port", "0")
	cmd.Env = withoutEnv(os.Environ(), "HMP_ADMIN_PASSWORD", "HMPCONFORM_DATA", "MOCKIDP_SP_FLAVOUR")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
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
		return 0, fmt.Errorf("hmpconform exited before printing its URLs:\n%s", lastLines(stderr.String(), 15))
	case <-ctx.Done():
		return 0, fmt.Errorf("no URLs printed before the time cap")
	}
	// The banner comes after the CA is written; trust only it.
	client, err := caClient(filepath.Join(dataDir, "ca-cert.pem"))
	if err != nil {
		return 0, err
	}
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
				return 0, fmt.Errorf("hmpconform exited before %s answered:\n%s", target, lastLines(stderr.String(), 15))
			case <-ctx.Done():
				return 0, fmt.Errorf("%s did not answer 200 before the time cap (last error: %v)", target, err)
			case <-time.After(2 * time.Millisecond):
			}
		}
	}
	return time.Since(start), nil
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
