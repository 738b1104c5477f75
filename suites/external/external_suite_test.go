// Package external_test runs the conformance specs through a target
// profile. With HMPCONFORM_TARGET set it verifies that deployment (this is
// what `make verify` runs); without it, it starts the reference SP as a
// separate process (sp/cmd/refsp) and verifies it through
// fixtures/targets/reference.yaml, so `make test` proves the profile path.
package external_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hmpconform/hmpconform/suites/framework"
	"github.com/hmpconform/hmpconform/suites/specs"
)

var suite = framework.Setup()

// One target is shared by every process, and specs change its settings:
// they run one at a time.
var _ = specs.JIT(suite, Serial, Label("external-target"))

func TestExternal(t *testing.T) {
	RegisterFailHandler(Fail)
	if os.Getenv(framework.TargetEnv) == "" {
		stop, err := startReferenceSP(t)
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
	}
	RunSpecs(t, "Conformance through a target profile")
}

// startReferenceSP runs sp/cmd/refsp for the whole Ginkgo run: process 1
// builds and starts it and publishes its URL in a directory named after
// the Ginkgo CLI's PID, which every process shares as its parent.
func startReferenceSP(t *testing.T) (stop func(), err error) {
	shared := filepath.Join(os.TempDir(), fmt.Sprintf("hmpconform-external-%d", os.Getppid()))
	const password = "external-suite-password"
	set := func(url string) {
		t.Setenv("REFSP_URL", url)
		t.Setenv("REFSP_PASSWORD", password)
		t.Setenv("REFSP_CA", filepath.Join(shared, "refsp", "ca-cert.pem"))
		t.Setenv("REFSP_IDP_DATA", filepath.Join(shared, "idp"))
		profile, _ := filepath.Abs("../../fixtures/targets/reference.yaml")
		t.Setenv(framework.TargetEnv, profile)
	}
	urlFile := filepath.Join(shared, "url")
	if framework.GinkgoParallelProcessOrOne() != 1 {
		deadline := time.Now().Add(3 * time.Minute)
		for time.Now().Before(deadline) {
			if b, err := os.ReadFile(urlFile); err == nil && len(b) > 0 {
				set(strings.TrimSpace(string(b)))
				return func() {}, nil
			}
			time.Sleep(200 * time.Millisecond)
		}
		return nil, fmt.Errorf("process 1 did not start the reference SP (no %s)", urlFile)
	}
	if err := os.MkdirAll(shared, 0o755); err != nil {
		return nil, err
	}
	bin := filepath.Join(shared, "refsp.bin")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/hmpconform/hmpconform/sp/cmd/refsp").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build refsp: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	base := fmt.Sprintf("https://hmp.refsp.test:%d", port)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--base-url", base,
		"--data-dir", filepath.Join(shared, "refsp"))
	cmd.Env = append(os.Environ(), "HMP_ADMIN_PASSWORD="+password)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	ready, exited := make(chan struct{}), make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "refsp: listening on") {
				close(ready)
				for sc.Scan() {
				}
				return
			}
		}
	}()
	go func() { exited <- cmd.Wait() }()
	select {
	case <-ready:
	case err := <-exited:
		cancel()
		return nil, fmt.Errorf("refsp exited before serving: %v", err)
	case <-time.After(2 * time.Minute):
		cancel()
		return nil, fmt.Errorf("refsp did not start")
	}
	set(base)
	if err := os.WriteFile(urlFile, []byte(base), 0o644); err != nil {
		cancel()
		return nil, err
	}
	return func() {
		cancel()
		<-exited
		_ = os.RemoveAll(shared)
	}, nil
}
