// Command mockidp runs the mock SAML identity provider on its own.
//
// Every flag has an environment fallback (MOCKIDP_ and the flag name in
// upper case with underscores, e.g. MOCKIDP_BASE_URL); a flag given on the
// command line wins.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hmpconform/hmpconform/fixtures"
	"github.com/hmpconform/hmpconform/mockidp"
)

type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

type options struct {
	listen, baseURL, dataDir, groupAttr, tlsCert, tlsKey string
	spMetadata                                           listFlag
	spFlavours                                           flavourFlag
	trustAnySP, spMetadataInsecure, debug, rollover      bool
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, errorMessage(err))
		os.Exit(1)
	}
}

// errorMessage is err for stderr, prefixed "mockidp: " once: errors from
// the mockidp package carry the name already.
func errorMessage(err error) string {
	return "mockidp: " + strings.ReplaceAll(strings.TrimPrefix(err.Error(), "mockidp: "), ": mockidp: ", ": ")
}

func env(name, def string) string {
	if v, ok := os.LookupEnv("MOCKIDP_" + name); ok {
		return v
	}
	return def
}

// envBool reads MOCKIDP_<name> as a boolean: false when unset or empty,
// an error naming the variable when it is not one.
func envBool(name string) (bool, error) {
	v := env(name, "")
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("MOCKIDP_%s=%q is not a boolean: use true or false (or 1, 0, t, f, TRUE, FALSE, True, False)", name, v)
	}
	return b, nil
}

// defaultBaseURL is the --base-url when none is given: https on the host
// of listen (localhost for an unspecified or blank host) and the port the
// listener is bound to (so --listen :0 or host:http publish the real one).
func defaultBaseURL(listen string, bound net.Addr) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		host, port = "", ""
	}
	if a, ok := bound.(*net.TCPAddr); ok {
		port = strconv.Itoa(a.Port)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "https://" + net.JoinHostPort(host, port)
}

// listen binds --listen and returns the listener and the IdP's base URL:
// --base-url, or one derived from the bound address (defaultBaseURL).
// Errors about a derived URL name --listen, which it comes from.
func listen(o options) (net.Listener, *url.URL, error) {
	var given *url.URL
	if o.baseURL != "" {
		u, err := url.Parse(o.baseURL)
		if err != nil || u.Host == "" {
			return nil, nil, fmt.Errorf("--base-url %q is not an absolute URL", o.baseURL)
		}
		given = u
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return nil, nil, fmt.Errorf("--listen %q: %w", o.listen, err)
	}
	if given != nil {
		return ln, given, nil
	}
	derived := defaultBaseURL(o.listen, ln.Addr())
	base, err := url.Parse(derived)
	if err != nil || base.Host == "" {
		_ = ln.Close()
		return nil, nil, fmt.Errorf("--listen %q gives the default base URL %q, which is not an absolute URL; give --base-url", o.listen, derived)
	}
	return ln, base, nil
}

func parseFlags(args []string) (options, error) {
	var o options
	var envErr error
	envBool := func(name string) bool {
		b, err := envBool(name)
		if envErr == nil {
			envErr = err
		}
		return b
	}
	fs := flag.NewFlagSet("mockidp", flag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", env("LISTEN", "127.0.0.1:8443"), "address to listen on [MOCKIDP_LISTEN]")
	fs.StringVar(&o.baseURL, "base-url", env("BASE_URL", ""), "public URL of the IdP; its metadata URL <base-url>/metadata is the entity ID; https, a TLS listener, unless it is an http URL (default https://<--listen host, or localhost>:<the port bound>) [MOCKIDP_BASE_URL]")
	fs.StringVar(&o.dataDir, "data-dir", env("DATA_DIR", "./data/mockidp"), "directory for the signing key pair and the generated TLS certificate [MOCKIDP_DATA_DIR]")
	fs.StringVar(&o.groupAttr, "group-attribute", env("GROUP_ATTRIBUTE", mockidp.DefaultGroupAttribute), "default name of the multi-valued group attribute [MOCKIDP_GROUP_ATTRIBUTE]")
	o.spFlavours = flavourFlag{}
	fs.Var(o.spFlavours, "sp-flavour", "IdP flavour of logins to an SP when the login form names none: entityID=generic|okta|entra|adfs|google|keycloak; repeatable [MOCKIDP_SP_FLAVOUR, comma-separated]")
	fs.Var(&o.spMetadata, "sp-metadata", "SP metadata to trust: a file path or an http(s) URL (fetched in the background, with retries); repeatable [MOCKIDP_SP_METADATA, comma-separated]")
	fs.BoolVar(&o.spMetadataInsecure, "sp-metadata-insecure", envBool("SP_METADATA_INSECURE"), "do not verify TLS certificates when fetching SP metadata [MOCKIDP_SP_METADATA_INSECURE]")
	fs.StringVar(&o.tlsCert, "tls-cert", env("TLS_CERT", ""), "TLS certificate (PEM); without it a self-signed one is generated in the data dir [MOCKIDP_TLS_CERT]")
	fs.StringVar(&o.tlsKey, "tls-key", env("TLS_KEY", ""), "TLS private key (PEM) for --tls-cert [MOCKIDP_TLS_KEY]")
	fs.BoolVar(&o.trustAnySP, "trust-any-sp", envBool("TRUST_ANY_SP"), "development mode: accept AuthnRequests from unregistered SPs and answer at the ACS URL they name [MOCKIDP_TRUST_ANY_SP]")
	fs.BoolVar(&o.rollover, "rollover", envBool("ROLLOVER"), "certificate rollover: keep a next signing key pair in the data dir (made on first start), announce its certificate in the metadata beside the current one, and offer signing with it per login [MOCKIDP_ROLLOVER]")
	fs.BoolVar(&o.debug, "debug", envBool("DEBUG"), "debug logging (includes whole SAML responses) [MOCKIDP_DEBUG]")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: mockidp [flags]\n\nA mock SAML 2.0 identity provider for testing Just-in-Time provisioning.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if envErr != nil {
		return o, envErr
	}
	if _, _, err := net.SplitHostPort(o.listen); err != nil {
		return o, fmt.Errorf("--listen %q is not host:port: %w", o.listen, err)
	}
	if len(o.spMetadata) == 0 {
		for _, s := range strings.Split(env("SP_METADATA", ""), ",") {
			if s = strings.TrimSpace(s); s != "" {
				o.spMetadata = append(o.spMetadata, s)
			}
		}
	}
	if len(o.spFlavours) == 0 {
		if err := o.spFlavours.setFromEnv(env("SP_FLAVOUR", "")); err != nil {
			return o, err
		}
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return o, errors.New("--tls-cert and --tls-key go together")
	}
	return o, nil
}

func run(args []string) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	// Bound first: the default base URL needs the port (--listen :0).
	ln, base, err := listen(o)
	if err != nil {
		return err
	}
	defer func() { _ = ln.Close() }() // for the returns before Serve, which closes it
	key, cert, err := mockidp.LoadOrCreateKeyPair(o.dataDir, time.Now(), base.Hostname())
	if err != nil {
		return fmt.Errorf("signing key pair: %w", err)
	}
	idpCfg := mockidp.Config{
		BaseURL: base, Key: key, Certificate: cert,
		GroupAttribute: o.groupAttr, Logger: logger, TrustAnySP: o.trustAnySP,
		SPFlavours: o.spFlavours,
	}
	if o.rollover {
		if idpCfg.NextKey, idpCfg.NextCertificate, err = mockidp.LoadOrCreateNextKeyPair(o.dataDir, time.Now(), base.Hostname()); err != nil {
			return fmt.Errorf("next signing key pair: %w", err)
		}
	}
	if idpCfg.Personas, err = fixtures.Personas(); err != nil {
		return err
	}
	// client fetches SP metadata named by --sp-metadata, the API or the /sps page.
	client := &http.Client{Timeout: 30 * time.Second}
	if o.spMetadataInsecure {
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // opt-in, for dev SPs
	}
	idpCfg.MetadataClient = client
	idp, err := mockidp.New(idpCfg)
	if err != nil {
		return err
	}
	if o.trustAnySP {
		logger.Warn("TRUST ANY SP: AuthnRequests from unregistered service providers are accepted")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	for _, src := range o.spMetadata {
		if mockidp.IsMetadataURL(src) {
			go func() { _ = idp.LoadSPMetadataWithRetry(ctx, src, client) }()
		} else if err := idp.LoadSPMetadata(ctx, src, nil); err != nil {
			return err
		}
	}

	srv := &http.Server{
		Addr:              o.listen,
		Handler:           idp.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	useTLS := base.Scheme == "https"
	if useTLS {
		var tc tls.Certificate
		if o.tlsCert != "" {
			tc, err = tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		} else {
			hosts := []string{base.Hostname(), "localhost", "127.0.0.1"}
			if host, _, err := net.SplitHostPort(o.listen); err == nil {
				if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
					hosts = append(hosts, host)
				}
			}
			slices.Sort(hosts)
			hosts = slices.Compact(hosts)
			tc, err = mockidp.LoadOrCreateTLSCertificate(o.dataDir, time.Now(), hosts)
		}
		if err != nil {
			return fmt.Errorf("tls certificate: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{tc}, MinVersion: tls.VersionTLS12}
	}

	logger.Info("mock IdP listening", "addr", ln.Addr().String(), "entityID", idp.EntityID(), "sso", idp.SSOURL(), "home", base.String())
	errc := make(chan error, 1)
	go func() {
		if useTLS {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
