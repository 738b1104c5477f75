// Command hmpconform runs the mock IdP and the reference SP together
// (`hmpconform run`), the way `make run` starts them for a person.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hmpconform/hmpconform/internal/stack"
	"github.com/hmpconform/hmpconform/internal/tlsutil"
	"github.com/hmpconform/hmpconform/sp/refsp"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "hmpconform:", err)
		os.Exit(2)
	}
}

const usage = `usage: hmpconform <command> [flags]

commands:
  run    start the mock IdP and the reference SP, the SP in Just-in-Time mode
         trusting the IdP, and print the URLs to open (Ctrl-C stops both)

Run "hmpconform run --help" for its flags.
`

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	switch args[0] {
	case "run":
		return runStack(args[1:], stdout, stderr)
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func runStack(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", env("HMPCONFORM_DATA", "data"), "where keys, the CA and the SP's database are kept (env HMPCONFORM_DATA)")
	idpHost := fs.String("idp-host", env("HMPCONFORM_IDP_HOST", "127.0.0.1"), "host name in the mock IdP's URLs")
	spHost := fs.String("sp-host", env("HMPCONFORM_SP_HOST", "localhost"), "host name in the reference SP's URLs")
	idpPort := fs.Int("idp-port", 7443, "mock IdP HTTPS port (0 = any free port)")
	spPort := fs.Int("sp-port", 8443, "reference SP HTTPS port (0 = any free port)")
	listen := fs.String("listen", "127.0.0.1", "address both servers bind")
	groupAttr := fs.String("group-attribute", "groups", "name of the group attribute the IdP sends")
	rollover := fs.Bool("rollover", true, "the IdP announces a next signing certificate too, and the SP trusts both")
	verbose := fs.Bool("v", false, "log debug detail")
	if err := fs.Parse(args); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ca, _, err := tlsutil.LoadOrCreateCA(*dataDir, time.Now())
	if err != nil {
		return fmt.Errorf("tls authority: %w", err)
	}
	s, err := stack.Start(ctx, stack.Options{
		DataDir: *dataDir, ListenHost: *listen, IdPHost: *idpHost, SPHost: *spHost,
		IdPPort: *idpPort, SPPort: *spPort, CA: ca, GroupAttribute: *groupAttr,
		AdminPassword: os.Getenv("HMP_ADMIN_PASSWORD"), Logger: logger, Rollover: *rollover,
	})
	if err != nil {
		return err
	}
	// Single logout and both certificates trusted, for a person; the
	// suites' stack keeps local sign-out and one certificate.
	manual, err := s.ConfigureForManualTesting(ctx)
	if err != nil {
		_ = s.Close()
		return err
	}
	password := "(from HMP_ADMIN_PASSWORD)"
	if os.Getenv("HMP_ADMIN_PASSWORD") == "" {
		b, err := os.ReadFile(filepath.Join(*dataDir, "refsp", refsp.PasswordFile))
		if err != nil {
			password = "(unknown: set HMP_ADMIN_PASSWORD to reset it)"
		} else {
			password = strings.TrimSpace(string(b))
		}
	}
	caPath, _ := filepath.Abs(filepath.Join(*dataDir, "ca-cert.pem"))
	fmt.Fprintf(stdout, `
hmpconform is up.

  Reference SP (HMP, Just-in-Time)  %[1]s/
    local sign-in (haiadmin)        %[1]s/login
    user name / password            haiadmin / %[2]s
    SP metadata                     %[1]s/saml/metadata
  Mock IdP                          %[3]s/
    IdP metadata                    %[3]s/metadata
    responses it sent               %[3]s/log
    single logout                   %[5]s
    signing certificates            %[6]s

Open the SP: you are sent to the mock IdP; pick a persona (or type a user
name and groups) and you land back signed in. Sign in as haiadmin at /login
to see the account under Users with its groups.
Both servers use TLS certificates issued by %[4]s:
trust it in your browser, or accept the warning once per site.
Ctrl-C stops both.
`, s.SPURL, password, s.IdPURL, caPath, sloLine(manual), certLine(manual))
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping…")
	return s.Close()
}

// sloLine says where the SP's sign-out goes.
func sloLine(m stack.ManualSetup) string {
	if m.SLOURL == "" {
		return "off (the SP's IdP Single Logout URL is blank: local sign-out)"
	}
	return m.SLOURL + " (the SP's IdP Single Logout URL)"
}

// certLine says how many signing certificates the IdP announces and the
// SP trusts.
func certLine(m stack.ManualSetup) string {
	if m.AnnouncedCertificates > 1 {
		return fmt.Sprintf("%d in the IdP metadata (rollover on: signKey=next signs with the next one); the SP trusts %d", m.AnnouncedCertificates, m.TrustedCertificates)
	}
	return fmt.Sprintf("1 in the IdP metadata (rollover off); the SP trusts %d", m.TrustedCertificates)
}
