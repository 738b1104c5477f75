// Package stack starts the mock IdP and the reference SP side by side, each
// on its own host name over HTTPS, with the SP trusting the IdP: what
// `make run` serves and what each suite process starts in-process.
package stack

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hmpconform/hmpconform/fixtures"
	"github.com/hmpconform/hmpconform/internal/keypair"
	"github.com/hmpconform/hmpconform/internal/tlsutil"
	"github.com/hmpconform/hmpconform/mockidp"
	"github.com/hmpconform/hmpconform/sp/refsp"
	"github.com/hmpconform/hmpconform/sp/settings"
	"github.com/hmpconform/hmpconform/sp/store"
)

// Options say where and how to start the pair.
type Options struct {
	DataDir    string // the IdP keeps DataDir/mockidp, the SP DataDir/refsp
	ListenHost string // address to bind, default 127.0.0.1
	IdPHost    string // host name in the IdP's URLs
	SPHost     string // host name in the SP's URLs
	IdPPort    int    // 0 = any free port
	SPPort     int
	CA         *tlsutil.CA // issues both servers' TLS certificates
	// AdminPassword for haiadmin; blank keeps or generates one.
	AdminPassword  string
	GroupAttribute string // the IdP's default group attribute name
	// SPFlavours is the IdP flavour of logins to an SP by entity ID, when
	// the login form names none (mockidp.Config.SPFlavours).
	SPFlavours map[string]string
	Now        func() time.Time
	Logger     *slog.Logger
	Mutation   *refsp.Mutation // tests only: a deliberately broken SP
	// PasswordCost is the bcrypt cost of haiadmin's hash (0 = the SP's
	// default). The suites lower it: they sign haiadmin in many times.
	PasswordCost int
	// Rollover gives the IdP a next key pair (kept in DataDir/mockidp like
	// the current one), announced in its metadata as a second signing
	// certificate. The SP keeps trusting the current certificate only
	// until its settings name both (see RolloverCertificatesPEM).
	Rollover bool
}

// Stack is a running IdP + SP pair.
type Stack struct {
	IdP    *mockidp.Server
	SP     *refsp.App
	IdPURL *url.URL
	SPURL  *url.URL
	// GeneratedPassword is set when this start generated haiadmin's password.
	GeneratedPassword string
	// Warnings are problems this start found and left as they are, for a
	// person to read (the banner of `hmpconform run`): say, kept SP
	// settings that trust another IdP URL than this run's mock IdP.
	Warnings []string

	servers []*http.Server
}

// ExampleGroupRole is the role given to the example groups.
const ExampleGroupRole = store.RoleViewer

// Start binds both listeners, builds both servers, configures a fresh SP
// for JIT against this IdP and serves until Close.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	if opts.ListenHost == "" {
		opts.ListenHost = "127.0.0.1"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.CA == nil {
		return nil, errors.New("stack: a CA is required")
	}
	idpLn, err := net.Listen("tcp", net.JoinHostPort(opts.ListenHost, strconv.Itoa(opts.IdPPort)))
	if err != nil {
		return nil, fmt.Errorf("idp listen: %w", err)
	}
	spLn, err := net.Listen("tcp", net.JoinHostPort(opts.ListenHost, strconv.Itoa(opts.SPPort)))
	if err != nil {
		idpLn.Close()
		return nil, fmt.Errorf("sp listen: %w", err)
	}
	s := &Stack{
		IdPURL: &url.URL{Scheme: "https", Host: net.JoinHostPort(opts.IdPHost, strconv.Itoa(idpLn.Addr().(*net.TCPAddr).Port))},
		SPURL:  &url.URL{Scheme: "https", Host: net.JoinHostPort(opts.SPHost, strconv.Itoa(spLn.Addr().(*net.TCPAddr).Port))},
	}
	// A first start makes three RSA keys and hashes haiadmin's password,
	// each tens to hundreds of milliseconds: the IdP's key pairs and the SP
	// (its key, database and password) are made side by side on the
	// machine's cores, so the stack is up sooner (hmpload ready measures it).
	var (
		wg                sync.WaitGroup
		idpPair, nextPair keypair.Pair
		idpErr, nextErr   error
		spErr             error
	)
	idpDir := filepath.Join(opts.DataDir, "mockidp")
	wg.Go(func() {
		idpPair, idpErr = keypair.LoadOrCreate(idpDir, "idp-signing", "hmpconform mock IdP", opts.Now())
	})
	if opts.Rollover {
		wg.Go(func() {
			nextPair, nextErr = keypair.LoadOrCreate(idpDir, "idp-signing-next", "hmpconform mock IdP (next)", opts.Now())
		})
	}
	wg.Go(func() {
		s.SP, spErr = refsp.Open(ctx, refsp.Options{
			DataDir: filepath.Join(opts.DataDir, "refsp"), BaseURL: s.SPURL, AdminPassword: opts.AdminPassword,
			Now: opts.Now, Logger: opts.Logger.With("server", "refsp"), Mutation: opts.Mutation,
			PasswordCost: opts.PasswordCost,
		})
	})
	wg.Wait()
	fail := func(err error) (*Stack, error) {
		idpLn.Close()
		spLn.Close()
		if s.SP != nil {
			s.SP.Close()
		}
		return nil, err
	}
	switch {
	case idpErr != nil:
		return fail(fmt.Errorf("idp key pair: %w", idpErr))
	case nextErr != nil:
		return fail(fmt.Errorf("idp next key pair: %w", nextErr))
	case spErr != nil:
		return fail(fmt.Errorf("reference sp: %w", spErr))
	}

	personas, err := fixtures.Personas()
	if err != nil {
		return fail(err)
	}
	idpCfg := mockidp.Config{
		BaseURL: s.IdPURL, Key: idpPair.Key, Certificate: idpPair.Certificate, Personas: personas,
		GroupAttribute: opts.GroupAttribute, Now: opts.Now, Logger: opts.Logger.With("server", "mockidp"),
		SPFlavours: opts.SPFlavours,
		// SP metadata URLs given on the IdP's /sps page or API: the SP's
		// certificate comes from the run's CA.
		MetadataClient: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: opts.CA.Pool()}}},
	}
	if opts.Rollover {
		idpCfg.NextKey, idpCfg.NextCertificate = nextPair.Key, nextPair.Certificate
	}
	s.IdP, err = mockidp.New(idpCfg)
	if err != nil {
		return fail(fmt.Errorf("mock idp: %w", err))
	}
	s.GeneratedPassword = s.SP.GeneratedPassword
	if err := s.configure(ctx, opts.GroupAttribute, filepath.Join(opts.DataDir, "refsp")); err != nil {
		return fail(err)
	}

	cert, err := opts.CA.IssueServer([]string{opts.IdPHost, opts.SPHost, "localhost", "127.0.0.1"}, opts.Now())
	if err != nil {
		return fail(fmt.Errorf("tls certificate: %w", err))
	}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	errLog := slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug)
	for _, pair := range []struct {
		ln net.Listener
		h  http.Handler
	}{{idpLn, s.IdP.Handler()}, {spLn, s.SP.Handler()}} {
		// Each server gets its own copy: ServeTLS adds its protocols to the
		// config it is given, and two servers sharing one race on it.
		srv := &http.Server{Handler: pair.h, TLSConfig: tlsCfg.Clone(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
		s.servers = append(s.servers, srv)
		go func(ln net.Listener) { _ = srv.ServeTLS(ln, "", "") }(pair.ln)
	}
	return s, nil
}

// configure puts a fresh SP in JIT mode trusting this IdP, with the example
// groups, and registers the SP with the IdP. An SP that was configured
// before keeps its settings; when they name another IdP SSO URL or entity
// ID than this IdP's (a data directory kept from a run on other ports or
// host names), s.Warnings says so.
func (s *Stack) configure(ctx context.Context, groupAttr, spDir string) error {
	st := s.SP.Store
	cfg, err := st.Settings(ctx)
	if err != nil {
		return fmt.Errorf("read sp settings: %w", err)
	}
	if cfg.Mode == settings.ModeJIT {
		if w := otherIdPWarning(cfg, s.IdP, spDir); w != "" {
			s.Warnings = append(s.Warnings, w)
		}
	} else {
		groups, err := st.Groups(ctx)
		if err != nil {
			return fmt.Errorf("list groups: %w", err)
		}
		if len(groups) == 0 {
			for _, name := range fixtures.ExampleGroups() {
				if _, err := st.CreateGroup(ctx, name, ExampleGroupRole); err != nil {
					return fmt.Errorf("create example group: %w", err)
				}
			}
		}
		cfg = JITSettings(s.IdP, s.SP.Server.SAML().DefaultEntityID())
		if groupAttr != "" {
			cfg.GroupMembershipAttr = groupAttr
		}
		if _, err := st.SaveSettings(ctx, cfg); err != nil {
			return fmt.Errorf("save sp settings: %w", err)
		}
	}
	return s.RegisterSP(ctx)
}

// otherIdPWarning says, when kept SP settings cfg trust another IdP SSO
// URL or entity ID than idp's, which ones and how to fix it; "" when they
// trust idp. spDir is the SP's data directory.
func otherIdPWarning(cfg settings.Settings, idp *mockidp.Server, spDir string) string {
	var diffs []string
	if cfg.SSOURL != idp.SSOURL() {
		diffs = append(diffs, fmt.Sprintf("SAML SSO URL %s (this run's mock IdP: %s)", cfg.SSOURL, idp.SSOURL()))
	}
	if cfg.IdPEntityID != idp.EntityID() {
		diffs = append(diffs, fmt.Sprintf("IdP entity ID %s (this run's mock IdP: %s)", cfg.IdPEntityID, idp.EntityID()))
	}
	if len(diffs) == 0 {
		return ""
	}
	// The SLO URL alone may be a tester's choice; with the others it is
	// most likely the same stale IdP.
	if cfg.SLOURL != "" && cfg.SLOURL != idp.SLOURL() {
		diffs = append(diffs, fmt.Sprintf("IdP Single Logout URL %s (this run's mock IdP: %s)", cfg.SLOURL, idp.SLOURL()))
	}
	return fmt.Sprintf("the reference SP's kept settings trust another IdP than this run's: %s. "+
		"Its logins go there, not to this mock IdP (a data directory kept from a run with other ports or host names). "+
		"Set them in the SP's Settings (sign in as haiadmin at /login), or delete %s to start the SP over (its accounts and settings go too).",
		strings.Join(diffs, "; "), spDir)
}

// RegisterSP hands the SP's current metadata to the IdP (again after the
// SP's Audience URI changes).
func (s *Stack) RegisterSP(ctx context.Context) error {
	cfg, err := s.SP.Store.Settings(ctx)
	if err != nil {
		return err
	}
	md, err := s.SP.Server.SAML().Metadata(cfg)
	if err != nil {
		return fmt.Errorf("sp metadata: %w", err)
	}
	if err := s.IdP.RegisterSPMetadataXML(md); err != nil {
		return fmt.Errorf("register sp at idp: %w", err)
	}
	return nil
}

// JITSettings are SP settings that trust idp: JIT mode, SP-initiated login
// through its SSO URL, the mock IdP's attribute names, Group Membership
// from "groups", no default groups.
func JITSettings(idp *mockidp.Server, audience string) settings.Settings {
	cfg := settings.Default()
	cfg.Mode = settings.ModeJIT
	cfg.SSOURL = idp.SSOURL()
	cfg.AudienceURI = audience
	cfg.IdPEntityID = idp.EntityID()
	cfg.IdPCertificatePEM = idp.CertificatePEM()
	cfg.GroupMembershipAttr = mockidp.DefaultGroupAttribute
	return cfg
}

// Close stops both servers and closes the SP's store.
func (s *Stack) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, srv := range s.servers {
		errs = append(errs, srv.Shutdown(ctx))
	}
	errs = append(errs, s.SP.Close())
	return errors.Join(errs...)
}

// IdPOptions start a mock IdP alone, for an SP that runs elsewhere.
type IdPOptions struct {
	DataDir        string // keeps the signing key, so the SP's trust survives runs
	ListenHost     string
	Host           string // host name in the IdP's URLs
	Port           int    // fixed, so the SP's SAML SSO URL stays valid; 0 = any
	CA             *tlsutil.CA
	GroupAttribute string
	Now            func() time.Time
	Logger         *slog.Logger
}

// IdPOnly is a running mock IdP without an SP.
type IdPOnly struct {
	IdP    *mockidp.Server
	URL    *url.URL
	server *http.Server
}

// StartIdP serves a mock IdP over TLS until Close.
func StartIdP(opts IdPOptions) (*IdPOnly, error) {
	if opts.ListenHost == "" {
		opts.ListenHost = "127.0.0.1"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(opts.ListenHost, strconv.Itoa(opts.Port)))
	if err != nil {
		return nil, fmt.Errorf("idp listen: %w", err)
	}
	u := &url.URL{Scheme: "https", Host: net.JoinHostPort(opts.Host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))}
	personas, err := fixtures.Personas()
	if err != nil {
		ln.Close()
		return nil, err
	}
	pair, err := keypair.LoadOrCreate(opts.DataDir, "idp-signing", "hmpconform mock IdP", opts.Now())
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("idp key pair: %w", err)
	}
	idp, err := mockidp.New(mockidp.Config{BaseURL: u, Key: pair.Key, Certificate: pair.Certificate, Personas: personas,
		GroupAttribute: opts.GroupAttribute, Now: opts.Now, Logger: opts.Logger.With("server", "mockidp")})
	if err != nil {
		ln.Close()
		return nil, err
	}
	cert, err := opts.CA.IssueServer([]string{opts.Host, "localhost", "127.0.0.1"}, opts.Now())
	if err != nil {
		ln.Close()
		return nil, err
	}
	srv := &http.Server{Handler: idp.Handler(), ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ErrorLog:  slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug)}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	return &IdPOnly{IdP: idp, URL: u, server: srv}, nil
}

// Close stops the IdP.
func (i *IdPOnly) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return i.server.Shutdown(ctx)
}
