// Command refsp runs one reference SP (HMP-like Just-in-Time provisioning)
// on its own, from a data directory: the SQLite store, the SP signing key
// pair, the haiadmin password and, unless --tls-cert is given, a local TLS
// authority that issues the server certificate.
//
// Every flag has an environment fallback (REFSP_ and the flag name in upper
// case with underscores, e.g. REFSP_BASE_URL); a flag given on the command
// line wins. HMP_ADMIN_PASSWORD sets (resets) the haiadmin password.
//
// Once it serves, it prints a line "refsp: listening on <base URL>" on
// standard output, so that a parent process can wait for it. SIGINT and
// SIGTERM stop it gracefully.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/crewjam/saml"

	"github.com/hmpconform/hmpconform/fixtures"
	"github.com/hmpconform/hmpconform/internal/mdsource"
	"github.com/hmpconform/hmpconform/internal/tlsutil"
	"github.com/hmpconform/hmpconform/sp/refsp"
	"github.com/hmpconform/hmpconform/sp/settings"
	"github.com/hmpconform/hmpconform/sp/store"
)

// ListeningPrefix starts the line printed once the SP serves.
const ListeningPrefix = "refsp: listening on "

// maxMetadataSize bounds the IdP metadata read from a file or URL.
const maxMetadataSize = 1 << 20

// metadataWait bounds how long a metadata URL is retried on start (the IdP
// may be starting at the same time).
const metadataWait = 30 * time.Second

type options struct {
	listen, baseURL, dataDir, tlsCert, tlsKey string
	idpMetadata, groupAttr                    string
	idpMetadataInsecure, exampleGroups, debug bool
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "refsp:", err)
		os.Exit(1)
	}
}

func env(name, def string) string {
	if v, ok := os.LookupEnv("REFSP_" + name); ok {
		return v
	}
	return def
}

func envBool(name string, def bool) bool {
	b, err := strconv.ParseBool(env(name, strconv.FormatBool(def)))
	if err != nil {
		return def
	}
	return b
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("refsp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", env("LISTEN", "127.0.0.1:8443"), "address to listen on [REFSP_LISTEN]")
	fs.StringVar(&o.baseURL, "base-url", env("BASE_URL", "https://localhost:8443"), "public URL of the SP; the ACS is <base-url>/sso/callback, the default entity ID <base-url>/saml/metadata [REFSP_BASE_URL]")
	fs.StringVar(&o.dataDir, "data-dir", env("DATA_DIR", "./data/refsp"), "directory for the database, the signing key pair, the haiadmin password and the TLS authority [REFSP_DATA_DIR]")
	fs.StringVar(&o.tlsCert, "tls-cert", env("TLS_CERT", ""), "TLS certificate (PEM); without it a local authority kept in the data dir (ca-cert.pem) issues one at start [REFSP_TLS_CERT]")
	fs.StringVar(&o.tlsKey, "tls-key", env("TLS_KEY", ""), "TLS private key (PEM) for --tls-cert [REFSP_TLS_KEY]")
	fs.StringVar(&o.idpMetadata, "configure-idp-metadata", env("CONFIGURE_IDP_METADATA", ""), "IdP metadata (file or http(s) URL): on start, an SP not yet in Just-in-Time mode is switched to it, trusting that IdP (SSO URL, entity ID, every signing certificate, Single Logout URL) [REFSP_CONFIGURE_IDP_METADATA]")
	fs.BoolVar(&o.idpMetadataInsecure, "idp-metadata-insecure", envBool("IDP_METADATA_INSECURE", false), "do not verify the TLS certificate when fetching --configure-idp-metadata [REFSP_IDP_METADATA_INSECURE]")
	fs.StringVar(&o.groupAttr, "group-membership", env("GROUP_MEMBERSHIP", "groups"), "with --configure-idp-metadata: the Group Membership attribute (blank: groups are not taken from the IdP) [REFSP_GROUP_MEMBERSHIP]")
	fs.BoolVar(&o.exampleGroups, "example-groups", envBool("EXAMPLE_GROUPS", true), "with --configure-idp-metadata: create the groups "+strings.Join(fixtures.ExampleGroups(), ", ")+" when the SP has none [REFSP_EXAMPLE_GROUPS]")
	fs.BoolVar(&o.debug, "debug", envBool("DEBUG", false), "debug logging [REFSP_DEBUG]")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: refsp [flags]

Runs the reference SP: HMP's Just-in-Time SAML provisioning, an admin UI
(sign in as haiadmin at /login) and a SQLite store in the data dir.
HMP_ADMIN_PASSWORD sets the haiadmin password; without it one is generated
on first start, printed and kept in <data-dir>/%s.

Flags:
`, refsp.PasswordFile)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return o, errors.New("--tls-cert and --tls-key go together")
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	base, err := url.Parse(strings.TrimRight(o.baseURL, "/"))
	if err != nil || base.Host == "" || (base.Scheme != "https" && base.Scheme != "http") {
		return fmt.Errorf("--base-url %q is not an absolute http(s) URL", o.baseURL)
	}
	if base.Path != "" {
		return fmt.Errorf("--base-url %q: the SP must be served at the root of its host", o.baseURL)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	adminPassword := os.Getenv("HMP_ADMIN_PASSWORD")
	app, err := refsp.Open(ctx, refsp.Options{
		DataDir: o.dataDir, BaseURL: base, AdminPassword: adminPassword, Logger: logger,
	})
	if err != nil {
		return err
	}
	defer app.Close()

	if o.idpMetadata != "" {
		client := &http.Client{Timeout: 30 * time.Second}
		if o.idpMetadataInsecure {
			client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // opt-in, for dev IdPs
		}
		if err := configureJIT(ctx, app, o, client, logger); err != nil {
			return err
		}
	}

	srv := &http.Server{
		Handler:           app.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	useTLS := base.Scheme == "https"
	tlsNote := "none (plain HTTP)"
	if useTLS {
		var tc tls.Certificate
		if o.tlsCert != "" {
			if tc, err = tls.LoadX509KeyPair(o.tlsCert, o.tlsKey); err != nil {
				return fmt.Errorf("tls certificate: %w", err)
			}
			tlsNote = o.tlsCert
		} else {
			ca, created, err := tlsutil.LoadOrCreateCA(o.dataDir, time.Now())
			if err != nil {
				return fmt.Errorf("tls authority: %w", err)
			}
			if tc, err = ca.IssueServer(certHosts(base, o.listen), time.Now()); err != nil {
				return fmt.Errorf("tls certificate: %w", err)
			}
			caPath, _ := filepath.Abs(filepath.Join(o.dataDir, tlsutil.CACertFile))
			tlsNote = "issued by " + caPath + " (trust it, or accept the warning)"
			if created {
				tlsNote = "issued by " + caPath + ", a NEW local authority (trust it, or accept the warning)"
			}
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{tc}, MinVersion: tls.VersionTLS12}
	}

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() {
		if useTLS {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()

	printBanner(ctx, stdout, app, base, ln.Addr().String(), o.dataDir, adminPassword, tlsNote)
	fmt.Fprintln(stdout, ListeningPrefix+base.String())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop() // a second signal now ends the process at once
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	fmt.Fprintln(stdout, "refsp: stopped")
	return nil
}

// certHosts are the names the generated TLS certificate covers: the base
// URL's host first, then loopback names and the listen host.
func certHosts(base *url.URL, listen string) []string {
	hosts := []string{"localhost", "127.0.0.1"}
	if host, _, err := net.SplitHostPort(listen); err == nil {
		if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
			hosts = append(hosts, host)
		}
	}
	slices.Sort(hosts)
	hosts = slices.Compact(hosts)
	hosts = slices.DeleteFunc(hosts, func(h string) bool { return h == base.Hostname() })
	return append([]string{base.Hostname()}, hosts...)
}

func printBanner(ctx context.Context, w io.Writer, app *refsp.App, base *url.URL, addr, dataDir, adminPassword, tlsNote string) {
	password := app.GeneratedPassword
	switch {
	case password != "":
		password += "   (generated; kept in " + filepath.Join(dataDir, refsp.PasswordFile) + ")"
	case adminPassword != "":
		password = "(from HMP_ADMIN_PASSWORD)"
	default:
		if b, err := os.ReadFile(filepath.Join(dataDir, refsp.PasswordFile)); err == nil {
			password = strings.TrimSpace(string(b))
		} else {
			password = "(set earlier; HMP_ADMIN_PASSWORD resets it)"
		}
	}
	mode := "local users only"
	if cfg, err := app.Store.Settings(ctx); err == nil && cfg.Mode == settings.ModeJIT {
		mode = "Just-in-Time, trusting " + cfg.IdPEntityID
	}
	absData, _ := filepath.Abs(dataDir)
	fmt.Fprintf(w, `
  Reference SP (HMP)              %[1]s/
    local sign-in (haiadmin)      %[1]s/login
    user name / password          haiadmin / %[2]s
    SP metadata                   %[1]s%[3]s
    ACS (HTTP-POST)               %[1]s/sso/callback
    provisioning                  %[4]s
    listening on                  %[5]s
    TLS certificate               %[6]s
    data                          %[7]s

`, base, password, "/saml/metadata", mode, addr, tlsNote, absData)
}

// configureJIT switches an SP that is not in Just-in-Time mode yet to JIT,
// trusting the IdP that o.idpMetadata describes. An SP already in JIT mode
// keeps its settings.
func configureJIT(ctx context.Context, app *refsp.App, o options, client *http.Client, logger *slog.Logger) error {
	st := app.Store
	cfg, err := st.Settings(ctx)
	if err != nil {
		return fmt.Errorf("read settings: %w", err)
	}
	if cfg.Mode == settings.ModeJIT {
		logger.Info("already in Just-in-Time mode; settings kept", "idp", cfg.IdPEntityID)
		return nil
	}
	raw, err := loadMetadata(ctx, o.idpMetadata, client, logger)
	if err != nil {
		return fmt.Errorf("idp metadata %s: %w", o.idpMetadata, err)
	}
	idp, err := parseIdPMetadata(raw)
	if err != nil {
		return fmt.Errorf("idp metadata %s: %w", o.idpMetadata, err)
	}
	if o.exampleGroups {
		groups, err := st.Groups(ctx)
		if err != nil {
			return fmt.Errorf("list groups: %w", err)
		}
		if len(groups) == 0 {
			for _, name := range fixtures.ExampleGroups() {
				if _, err := st.CreateGroup(ctx, name, store.RoleViewer); err != nil {
					return fmt.Errorf("create group %s: %w", name, err)
				}
			}
		}
	}
	cfg.Mode = settings.ModeJIT
	cfg.SSOURL = idp.ssoURL
	cfg.IdPEntityID = idp.entityID
	cfg.IdPCertificatePEM = idp.certPEM
	cfg.SLOURL = idp.sloURL
	if cfg.AudienceURI == "" {
		cfg.AudienceURI = app.Server.SAML().DefaultEntityID()
	}
	cfg.GroupMembershipAttr = o.groupAttr
	if _, err := st.SaveSettings(ctx, cfg); err != nil {
		return fmt.Errorf("save settings: %w", err)
	}
	if idp.ssoURL == "" {
		logger.Warn("the IdP metadata names no HTTP-Redirect SSO endpoint: IdP-initiated login only")
	}
	if idp.sloURL == "" {
		logger.Warn("the IdP metadata names no HTTP-Redirect SingleLogoutService: sign-out is local only")
	}
	logger.Info("configured Just-in-Time provisioning", "idp", idp.entityID, "sso", idp.ssoURL, "slo", idp.sloURL, "certificates", strings.Count(idp.certPEM, "BEGIN CERTIFICATE"), "groupMembership", o.groupAttr)
	return nil
}

// loadMetadata reads a file, or fetches a URL, retrying for metadataWait.
func loadMetadata(ctx context.Context, src string, client *http.Client, logger *slog.Logger) ([]byte, error) {
	if !mdsource.IsURL(src) {
		return mdsource.Read(ctx, src, client, maxMetadataSize)
	}
	deadline := time.Now().Add(metadataWait)
	wait := 250 * time.Millisecond
	for {
		b, err := mdsource.Read(ctx, src, client, maxMetadataSize)
		if err == nil || time.Now().Add(wait).After(deadline) {
			return b, err
		}
		logger.Warn("idp metadata not available yet; retrying", "url", src, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(wait*2, 5*time.Second)
	}
}

// idpInfo is what the SP needs from IdP metadata.
type idpInfo struct {
	entityID string
	ssoURL   string // HTTP-Redirect SingleSignOnService; blank if none
	sloURL   string // HTTP-Redirect SingleLogoutService; blank if none
	certPEM  string // every signing certificate, PEM blocks one after another
}

// parseIdPMetadata reads an EntityDescriptor (or the first IdP in an
// EntitiesDescriptor): its entity ID, its HTTP-Redirect SSO endpoint (the
// binding the SP sends AuthnRequests with) and its signing certificate.
func parseIdPMetadata(b []byte) (idpInfo, error) {
	var root struct{ XMLName xml.Name }
	if err := xml.Unmarshal(b, &root); err != nil {
		return idpInfo{}, fmt.Errorf("not XML: %w", err)
	}
	var candidates []saml.EntityDescriptor
	switch root.XMLName.Local {
	case "EntityDescriptor":
		var ed saml.EntityDescriptor
		if err := xml.Unmarshal(b, &ed); err != nil {
			return idpInfo{}, err
		}
		candidates = append(candidates, ed)
	case "EntitiesDescriptor":
		var eds saml.EntitiesDescriptor
		if err := xml.Unmarshal(b, &eds); err != nil {
			return idpInfo{}, err
		}
		candidates = eds.EntityDescriptors
	default:
		return idpInfo{}, fmt.Errorf("root element %q is not SAML metadata", root.XMLName.Local)
	}
	for _, ed := range candidates {
		if len(ed.IDPSSODescriptors) == 0 {
			continue
		}
		info := idpInfo{entityID: ed.EntityID}
		for _, d := range ed.IDPSSODescriptors {
			for _, sso := range d.SingleSignOnServices {
				if sso.Binding == saml.HTTPRedirectBinding && info.ssoURL == "" {
					info.ssoURL = sso.Location
				}
			}
			// The SP sends LogoutRequests with HTTP-Redirect only.
			for _, slo := range d.SingleLogoutServices {
				if slo.Binding == saml.HTTPRedirectBinding && info.sloURL == "" {
					info.sloURL = slo.Location
				}
			}
			// Every signing certificate is trusted: during a rollover the
			// IdP announces the current and the next one.
			for _, kd := range d.KeyDescriptors {
				if kd.Use != "" && kd.Use != "signing" {
					continue
				}
				for _, c := range kd.KeyInfo.X509Data.X509Certificates {
					der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c.Data), ""))
					if err != nil {
						continue
					}
					if _, err := x509.ParseCertificate(der); err != nil {
						continue
					}
					block := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
					if !strings.Contains(info.certPEM, block) {
						info.certPEM += block
					}
				}
			}
		}
		if info.entityID == "" {
			return idpInfo{}, errors.New("the IdP has no entityID")
		}
		if info.certPEM == "" {
			return idpInfo{}, errors.New("the IdP has no signing certificate")
		}
		return info, nil
	}
	return idpInfo{}, errors.New("no IDPSSODescriptor")
}
