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
	"github.com/hmpconform/hmpconform/mockidp"
	"github.com/hmpconform/hmpconform/sp/refsp"
)

func main() {
	os.Exit(exitCode(run(os.Args[1:], os.Stdout, os.Stderr), os.Stderr))
}

// exitCode is the exit status for run's error, which it prints to stderr
// unless the flag package printed it already (with the usage).
func exitCode(err error, stderr io.Writer) int {
	var printed flagError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &printed):
		return 2
	default:
		fmt.Fprintln(stderr, "hmpconform:", err)
		return 2
	}
}

// flagError is a flag parsing error that the flag set has already printed,
// with the usage, to stderr.
type flagError struct{ err error }

func (e flagError) Error() string { return e.err.Error() }
func (e flagError) Unwrap() error { return e.err }

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

// runOptions are `hmpconform run`'s flags.
type runOptions struct {
	dataDir, idpHost, spHost, listen, groupAttr string
	idpPort, spPort                             int
	rollover, verbose                           bool
	spFlavours                                  mockidp.SPFlavourFlag
}

// parseRunFlags reads `hmpconform run`'s flags (help and errors go to
// stderr).
func parseRunFlags(args []string, stderr io.Writer) (runOptions, error) {
	var o runOptions
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.dataDir, "data-dir", env("HMPCONFORM_DATA", "data"), "where keys, the CA and the SP's database are kept (env HMPCONFORM_DATA)")
	fs.StringVar(&o.idpHost, "idp-host", env("HMPCONFORM_IDP_HOST", "127.0.0.1"), "host name in the mock IdP's URLs")
	fs.StringVar(&o.spHost, "sp-host", env("HMPCONFORM_SP_HOST", "localhost"), "host name in the reference SP's URLs")
	fs.IntVar(&o.idpPort, "idp-port", 7443, "mock IdP HTTPS port (0 = any free port)")
	fs.IntVar(&o.spPort, "sp-port", 8443, "reference SP HTTPS port (0 = any free port)")
	fs.StringVar(&o.listen, "listen", "127.0.0.1", "address both servers bind")
	fs.StringVar(&o.groupAttr, "group-attribute", "groups", "name of the group attribute the IdP sends")
	o.spFlavours = mockidp.SPFlavourFlag{}
	fs.Var(o.spFlavours, "sp-flavour", "IdP flavour of logins to an SP when the login form names none: entityID=generic|okta|entra|adfs|google|keycloak (the reference SP's entity ID is <SP URL>/saml/metadata); repeatable (env MOCKIDP_SP_FLAVOUR, comma-separated)")
	fs.BoolVar(&o.rollover, "rollover", true, "the IdP announces a next signing certificate too, and the SP trusts both")
	fs.BoolVar(&o.verbose, "v", false, "log debug detail")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, flagError{err}
	}
	// Flags stop at the first other word: "run extra --data-dir X" would
	// quietly use ./data. Refuse instead.
	if fs.NArg() > 0 {
		return o, fmt.Errorf("run takes flags only, not %q (run --help lists them)", fs.Args())
	}
	if len(o.spFlavours) == 0 {
		if err := o.spFlavours.SetFromEnv("MOCKIDP_SP_FLAVOUR", os.Getenv("MOCKIDP_SP_FLAVOUR")); err != nil {
			return o, err
		}
	}
	return o, nil
}

func runStack(args []string, stdout, stderr io.Writer) error {
	o, err := parseRunFlags(args, stderr)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ca, _, err := tlsutil.LoadOrCreateCA(o.dataDir, time.Now())
	if err != nil {
		return fmt.Errorf("tls authority: %w", err)
	}
	s, err := stack.Start(ctx, stack.Options{
		DataDir: o.dataDir, ListenHost: o.listen, IdPHost: o.idpHost, SPHost: o.spHost,
		IdPPort: o.idpPort, SPPort: o.spPort, CA: ca, GroupAttribute: o.groupAttr,
		AdminPassword: os.Getenv("HMP_ADMIN_PASSWORD"), Logger: logger, Rollover: o.rollover,
		SPFlavours: o.spFlavours,
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
		b, err := os.ReadFile(filepath.Join(o.dataDir, "refsp", refsp.PasswordFile))
		if err != nil {
			password = "(unknown: set HMP_ADMIN_PASSWORD to reset it)"
		} else {
			password = strings.TrimSpace(string(b))
		}
	}
	caPath, _ := filepath.Abs(filepath.Join(o.dataDir, "ca-cert.pem"))
	for _, w := range s.Warnings {
		logger.Warn(w)
	}
	fmt.Fprintf(stdout, `
hmpconform is up.%[7]s

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
`, s.SPURL, password, s.IdPURL, caPath, sloLine(manual), certLine(manual), warningLines(s.Warnings))
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping…")
	return s.Close()
}

// warningLines are the banner's warnings, each a paragraph after a blank
// line, to follow "hmpconform is up."; "" when there are none.
func warningLines(warnings []string) string {
	var b strings.Builder
	for _, w := range warnings {
		b.WriteString("\n\n  WARNING: " + w)
	}
	return b.String()
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
