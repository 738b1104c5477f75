package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"encoding/xml"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/crewjam/saml"

	"github.com/hmpconform/hmpconform/mockidp"
)

// The peer, pinned at the version the measurements were made with: a plain install fails
// (saml-idp depends on a git URL), the override makes it install.
const (
	peerVersion     = "1.2.1"
	peerPackageJSON = `{"name":"hmpload-saml-idp-peer","private":true,` +
		`"dependencies":{"saml-idp":"` + peerVersion + `"},"overrides":{"samlp":"7.1.1"}}` + "\n"
	loadSPEntityID = "https://hmp.sp.test/saml/metadata"
	loadSPACS      = "http://127.0.0.1:9/sso/callback" // never posted to
)

func runIdP(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hmpload idp", flag.ContinueOnError)
	n := fs.Int("n", 300, "logins measured per IdP")
	c := fs.Int("c", 4, "concurrent clients")
	turn := fs.Int("turn", 40, "logins per turn: the two IdPs take turns until each has served -n or the cap passes")
	warmup := fs.Int("warmup", 20, "unmeasured logins per IdP first")
	capDur := fs.Duration("cap", 120*time.Second, "time cap on the whole measurement (both IdPs)")
	mockidpBin := fs.String("mockidp", "", "the mockidp binary (go build ./mockidp/cmd/mockidp); empty: build it now")
	peer := fs.Bool("peer", true, "measure the npm saml-idp peer too (skipped with a message if node/npm or the install fail)")
	peerDir := fs.String("peer-dir", filepath.Join(os.TempDir(), "hmpconform-bench-saml-idp-"+peerVersion),
		"where the npm peer is installed (reused when already installed there)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "hmpload-idp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// One signing key for both IdPs: RSA 2048, made the mock IdP's way in
	// its data dir, and written PKCS#1 for the peer.
	dataDir := filepath.Join(tmp, "mockidp")
	key, cert, err := mockidp.LoadOrCreateKeyPair(dataDir, time.Now(), "127.0.0.1")
	if err != nil {
		return err
	}
	keyPEM := filepath.Join(tmp, "key.pem")
	certPEM := filepath.Join(tmp, "cert.pem")
	if err := os.WriteFile(keyPEM, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		return err
	}
	spMetadata := filepath.Join(tmp, "sp-metadata.xml")
	md, err := xml.Marshal(&saml.EntityDescriptor{
		EntityID: loadSPEntityID,
		SPSSODescriptors: []saml.SPSSODescriptor{{
			SSODescriptor: saml.SSODescriptor{RoleDescriptor: saml.RoleDescriptor{
				ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol",
			}},
			AssertionConsumerServices: []saml.IndexedEndpoint{{Binding: saml.HTTPPostBinding, Location: loadSPACS, Index: 1}},
		}},
	})
	if err != nil {
		return err
	}
	if err := os.WriteFile(spMetadata, md, 0o600); err != nil {
		return err
	}

	// The mock IdP as testers run it: its own binary and process, here on
	// plain HTTP like the peer.
	if *mockidpBin == "" {
		*mockidpBin = filepath.Join(tmp, "mockidp-bin")
		build := exec.CommandContext(ctx, "go", "build", "-o", *mockidpBin, "./mockidp/cmd/mockidp")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./mockidp/cmd/mockidp (run hmpload from the module root, or pass -mockidp): %v\n%s", err, out)
		}
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	ours, err := startServer(ctx, "mockidp", tmp, "", "http://127.0.0.1:"+strconv.Itoa(port), "/healthz",
		*mockidpBin, "--listen", "127.0.0.1:"+strconv.Itoa(port), "--base-url", "http://127.0.0.1:"+strconv.Itoa(port),
		"--data-dir", dataDir, "--sp-metadata", spMetadata)
	if err != nil {
		return err
	}
	defer ours.stop()

	client := newClient(*c)
	oursLogin := func(ctx context.Context, i int) error {
		form := url.Values{
			"mockidp_login": {"1"}, "sp": {loadSPEntityID}, "RelayState": {"/"},
			"username": {"user" + strconv.Itoa(i) + "@example.com"}, "firstName": {"Load"}, "lastName": {"User"},
			"email": {"user" + strconv.Itoa(i) + "@example.com"}, "groups": {"Engineering\nSales"},
		}
		return postForSAMLResponse(ctx, client, ours.url+"/idp/initiate", form)
	}
	fmt.Printf("idp-load: %d logins per IdP in turns of %d, %d concurrent clients, %d warm-up, cap %s; one RSA-2048 key; both sign Response and Assertion; loopback HTTP\n",
		*n, *turn, *c, *warmup, *capDur)
	if w := drive(ctx, "warm-up", *warmup, 1, 60*time.Second, oursLogin); w.OK != *warmup {
		return fmt.Errorf("mock IdP warm-up failed: %s", w.String())
	}

	var theirs *server
	var theirsLogin func(context.Context, int) error
	skip := func(why string) {
		fmt.Printf("idp-load saml-idp: SKIPPED: %s\n", why)
		theirs = nil
	}
	if !*peer {
		skip("-peer=false")
	} else if theirs, err = startPeer(ctx, *peerDir, tmp, keyPEM, certPEM); err != nil {
		skip(err.Error())
	} else {
		defer theirs.stop()
		theirsLogin = func(ctx context.Context, i int) error {
			return postForSAMLResponse(ctx, client, theirs.url+"/signin", url.Values{"userName": {"user" + strconv.Itoa(i) + "@example.com"}})
		}
		if w := drive(ctx, "warm-up", *warmup, 1, 60*time.Second, theirsLogin); w.OK != *warmup {
			theirs.stop()
			skip("warm-up failed: " + w.String())
		}
	}

	// Take turns, so that both see the same neighbours on a shared machine.
	mine := result{Name: "mockidp"}
	other := result{Name: "saml-idp"}
	var mineCPU, otherCPU time.Duration
	deadline := time.Now().Add(*capDur)
	for round := 0; mine.Requested < *n || (theirs != nil && other.Requested < *n); round++ {
		type side struct {
			res   *result
			srv   *server
			login func(context.Context, int) error
			cpu   *time.Duration
		}
		sides := []side{{&mine, ours, oursLogin, &mineCPU}}
		if theirs != nil {
			sides = append(sides, side{&other, theirs, theirsLogin, &otherCPU})
			if round%2 == 1 {
				sides[0], sides[1] = sides[1], sides[0]
			}
		}
		for _, sd := range sides {
			k := min(*turn, *n-sd.res.Requested)
			left := time.Until(deadline)
			if k <= 0 || left <= 0 {
				continue
			}
			offset := sd.res.Requested
			cpu0 := sd.srv.cpu()
			part := drive(ctx, sd.res.Name, k, *c, left, func(ctx context.Context, i int) error { return sd.login(ctx, offset+i) })
			*sd.cpu += sd.srv.cpu() - cpu0
			sd.res.merge(part)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			mine.Capped = mine.Requested < *n
			other.Capped = theirs != nil && other.Requested < *n
			break
		}
	}
	fmt.Printf("idp-load mockidp: %s; server CPU %s/login\n", mine.String(), perLogin(mineCPU, mine.OK))
	fmt.Printf("mockidp-logins-per-s: %.1f\n", mine.Rate())
	if theirs == nil {
		fmt.Println("idp-vs-npm-ratio: n/a (peer skipped)")
		return nil
	}
	fmt.Printf("idp-load saml-idp %s: %s; server CPU %s/login\n", peerVersion, other.String(), perLogin(otherCPU, other.OK))
	fmt.Printf("npm-saml-idp-logins-per-s: %.1f\n", other.Rate())
	if mine.OK > 0 && other.OK > 0 && mineCPU > 0 {
		fmt.Printf("idp-vs-npm-cpu-per-login-ratio: %.1f (server CPU per login, npm / mockidp)\n",
			(float64(otherCPU)/float64(other.OK))/(float64(mineCPU)/float64(mine.OK)))
	}
	if other.Rate() > 0 {
		fmt.Printf("idp-vs-npm-ratio: %.1f\n", mine.Rate()/other.Rate())
	} else {
		fmt.Println("idp-vs-npm-ratio: n/a (the peer completed no login)")
	}
	return nil
}

func perLogin(cpu time.Duration, n int) string {
	if n == 0 {
		return "n/a"
	}
	return ms(cpu / time.Duration(n))
}

// postForSAMLResponse posts form and wants a 200 page carrying a
// SAMLResponse form field (the auto-submit page of both IdPs).
func postForSAMLResponse(ctx context.Context, client *http.Client, u string, form url.Values) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
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
	if res.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`name="SAMLResponse"`)) {
		return fmt.Errorf("%s: status %d, no SAMLResponse", u, res.StatusCode)
	}
	return nil
}

// startPeer installs the npm saml-idp peer in dir if it is not there yet
// and starts it on a free loopback port with the given key pair.
func startPeer(ctx context.Context, dir, tmp, keyPEM, certPEM string) (*server, error) {
	for _, tool := range []string{"node", "npm", "npx"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s is not installed (%v)", tool, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "saml-idp", "package.json")); err != nil {
		fmt.Printf("idp-load saml-idp: installing saml-idp@%s in %s (npm install)\n", peerVersion, dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(peerPackageJSON), 0o644); err != nil {
			return nil, err
		}
		ictx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ictx, "npm", "install", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("npm install saml-idp@%s failed: %v\n%s", peerVersion, err, strings.TrimSpace(string(out)))
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	return startServer(ctx, "saml-idp", tmp, dir, base, "/metadata",
		"npx", "--no-install", "saml-idp",
		"--host", "127.0.0.1", "--port", strconv.Itoa(port), "--cert", certPEM, "--key", keyPEM,
		"--issuer", "urn:example:idp", "--acsUrl", loadSPACS, "--audience", loadSPEntityID)
}

// server is a server process this tool started, in its own process group.
type server struct {
	name   string
	url    string
	cmd    *exec.Cmd
	exited chan struct{}
	logf   *os.File
}

// startServer starts name (argv) in dir with its output in tmp/name.log and
// waits until GET baseURL+ready answers 200.
func startServer(ctx context.Context, name, tmp, dir, baseURL, ready string, argv ...string) (*server, error) {
	logPath := filepath.Join(tmp, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // npx starts node: stop the group
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &server{name: name, url: baseURL, cmd: cmd, exited: make(chan struct{}), logf: logf}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-s.exited:
			logf.Close()
			tail, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("%s exited at start:\n%s", name, lastLines(string(tail), 15))
		default:
		}
		if res, err := http.Get(baseURL + ready); err == nil {
			_, _ = readBody(res)
			if res.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.stop()
			return nil, fmt.Errorf("%s did not answer GET %s within 60s", name, ready)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends the server's process group (by its ID): SIGTERM, then SIGKILL.
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.exited
	}
	s.logf.Close()
}

// cpu is the user+system CPU time used so far by the server's process
// group (from /proc; 0 where /proc is not available).
func (s *server) cpu() time.Duration {
	pgid := s.cmd.Process.Pid
	entries, _ := os.ReadDir("/proc")
	var ticks int64
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// After the ")" that ends the command name: state ppid pgrp ... utime(14) stime(15).
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += ut + st
	}
	return time.Duration(ticks) * (time.Second / clockTicks)
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times (100 on Linux).
const clockTicks = 100

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
