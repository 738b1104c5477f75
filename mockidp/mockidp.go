// Package mockidp is a mock SAML 2.0 identity provider for exercising a
// service provider's Just-in-Time user provisioning: a person (or a
// browser-driving test) chooses the NameID, the profile attributes and the
// groups of each login on a form, or signs in as one of the bundled
// personas in one click.
//
// It is built on github.com/crewjam/saml's IdentityProvider: this package
// supplies the login form (the SessionProvider), the registry of service
// providers (the ServiceProviderProvider), and a log of the responses sent.
package mockidp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/crewjam/saml"
	"github.com/jonboulle/clockwork"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/hmpconform/hmpconform/fixtures"
)

// DefaultGroupAttribute is the name of the group attribute when
// Config.GroupAttribute is empty.
const DefaultGroupAttribute = "groups"

// logCapacity is how many responses Server.Log keeps.
const logCapacity = 200

// Config configures a Server.
type Config struct {
	// BaseURL is the public URL of the IdP, e.g. https://idp.mock.test:8443.
	// Its path, if any, prefixes every route.
	BaseURL *url.URL
	// Key and Certificate sign responses and assertions; see
	// LoadOrCreateKeyPair.
	Key         *rsa.PrivateKey
	Certificate *x509.Certificate
	// NextKey and NextCertificate, when set, are the next key pair of a
	// certificate rollover (rollover.go): the certificate is announced in
	// the metadata as a second signing key, and a login with the option
	// signKey=next is signed with it.
	NextKey         *rsa.PrivateKey
	NextCertificate *x509.Certificate
	// Personas are offered on the login form, until the scenario API
	// changes them (personas.go).
	Personas []fixtures.Persona
	// GroupAttribute is the default name of the group attribute;
	// DefaultGroupAttribute when empty. The login form can override it.
	GroupAttribute string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives operational logs; slog.Default() when nil.
	Logger *slog.Logger
	// TrustAnySP is a development mode: AuthnRequests from unregistered
	// service providers are accepted, and the response is sent to the
	// AssertionConsumerServiceURL the request names. The UI says so.
	TrustAnySP bool
	// SPFlavours is the IdP flavour (flavour.go) of logins to an SP, by
	// entity ID, when the login form names none; generic otherwise.
	SPFlavours map[string]string
	// Rand is the randomness of transient NameIDs and IdP session IDs;
	// crypto/rand when nil.
	Rand io.Reader
	// MetadataClient fetches SP metadata a user names by URL through the
	// scenario API or the /sps page; a client with a 30-second timeout
	// when nil.
	MetadataClient *http.Client
}

// Server is a mock IdP. Create it with New and serve Handler.
type Server struct {
	cfg         Config
	now         func() time.Time
	logger      *slog.Logger
	groupAttr   string
	prefix      string // BaseURL path without trailing slash
	metadataURL url.URL
	ssoURL      url.URL
	sloURL      url.URL
	idp         *saml.IdentityProvider
	personas    *personaStore // personas.go
	queue       *loginQueue   // queue.go
	sessions    *sessionStore // idpsession.go
	rand        io.Reader
	csrf        *http.CrossOriginProtection // api.go
	spFlavours  map[string]string           // flavour.go
	sloReplay   *logoutReplayCache          // slo_replay.go

	mu  sync.RWMutex
	sps map[string]*saml.EntityDescriptor

	logMu sync.Mutex
	log   []LoggedResponse // ring buffer
	logN  int              // next write position once full
	logID int              // the last entry's ID (api_log.go)
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.BaseURL == nil {
		return nil, errors.New("mockidp: BaseURL is required")
	}
	if cfg.BaseURL.Scheme != "https" && cfg.BaseURL.Scheme != "http" {
		return nil, fmt.Errorf("mockidp: BaseURL %q must be an http or https URL", cfg.BaseURL)
	}
	if cfg.Key == nil || cfg.Certificate == nil {
		return nil, errors.New("mockidp: Key and Certificate are required")
	}
	if (cfg.NextKey == nil) != (cfg.NextCertificate == nil) {
		return nil, errors.New("mockidp: NextKey and NextCertificate go together")
	}
	s := &Server{
		cfg:       cfg,
		now:       cfg.Now,
		logger:    cfg.Logger,
		groupAttr: cfg.GroupAttribute,
		personas:  newPersonaStore(),
		queue:     newLoginQueue(),
		sessions:  newSessionStore(),
		rand:      cfg.Rand,
		csrf:      http.NewCrossOriginProtection(),
		sps:       map[string]*saml.EntityDescriptor{},
		sloReplay: newLogoutReplayCache(),
	}
	if s.now == nil {
		s.now = time.Now
	}
	var err error
	if s.spFlavours, err = checkSPFlavours(cfg.SPFlavours); err != nil {
		return nil, err
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.groupAttr == "" {
		s.groupAttr = DefaultGroupAttribute
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	for i, p := range cfg.Personas {
		if p.ID == "" {
			return nil, fmt.Errorf("mockidp: persona %d of Config.Personas has no ID", i+1)
		}
		// The scenario API's checks (api_personas.go): text, lengths, groups.
		if err := checkPersona(p); err != nil {
			return nil, fmt.Errorf("mockidp: persona %q: %w", p.ID, err)
		}
		if _, err := s.personas.put(p, true); err != nil {
			return nil, fmt.Errorf("mockidp: persona %q: %w", p.ID, err)
		}
	}

	base := *cfg.BaseURL
	base.RawQuery, base.Fragment = "", ""
	base.Path = strings.TrimSuffix(base.Path, "/")
	base.RawPath = ""
	s.prefix = base.Path
	s.metadataURL = base
	s.metadataURL.Path += "/metadata"
	s.ssoURL = base
	s.ssoURL.Path += "/sso"
	s.sloURL = base
	s.sloURL.Path += "/slo"

	s.idp = &saml.IdentityProvider{
		Key:                     cfg.Key,
		Certificate:             cfg.Certificate,
		Logger:                  slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		MetadataURL:             s.metadataURL,
		SSOURL:                  s.ssoURL,
		ServiceProviderProvider: spProvider{s},
		SessionProvider:         sessionProvider{s},
		ResponseWriter:          loggingResponseWriter{s},
		SignatureMethod:         dsig.RSASHA256SignatureMethod,
		Clock:                   newDsigClock(s.now),
		NameIDFormats:           advertisedNameIDFormats(), // options.go's four
		OnError:                 s.onError,
		LogoutURL:               s.sloURL, // slo.go
		LogoutBindings:          []string{saml.HTTPRedirectBinding, saml.HTTPPostBinding},
	}
	if cfg.NextCertificate != nil {
		s.idp.ExtraCertificates = []*x509.Certificate{cfg.NextCertificate}
	}
	return s, nil
}

// newDsigClock adapts now to the *dsig.Clock crewjam takes.
func newDsigClock(now func() time.Time) *dsig.Clock {
	return dsig.NewFakeClock(funcClock{Clock: clockwork.NewRealClock(), now: now})
}

// funcClock is a clockwork.Clock whose notion of "now" is a function; the
// timers and sleeps of the real clock are kept (crewjam only reads Now).
type funcClock struct {
	clockwork.Clock
	now func() time.Time
}

func (c funcClock) Now() time.Time                  { return c.now() }
func (c funcClock) Since(t time.Time) time.Duration { return c.now().Sub(t) }
func (c funcClock) Until(t time.Time) time.Duration { return t.Sub(c.now()) }

// EntityID is the IdP's entity ID, which is its metadata URL.
func (s *Server) EntityID() string { return s.metadataURL.String() }

// MetadataURL is the URL of the IdP metadata.
func (s *Server) MetadataURL() string { return s.metadataURL.String() }

// SSOURL is the SingleSignOnService URL (HTTP-Redirect and HTTP-POST).
func (s *Server) SSOURL() string { return s.ssoURL.String() }

// SLOURL is the SingleLogoutService URL (HTTP-Redirect and HTTP-POST).
func (s *Server) SLOURL() string { return s.sloURL.String() }

// CertificatePEM is the IdP signing certificate, PEM encoded.
func (s *Server) CertificatePEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cfg.Certificate.Raw}))
}

// IdentityProvider exposes the underlying crewjam IdentityProvider, e.g. to
// read its Metadata(). Do not modify it while the Server is serving.
func (s *Server) IdentityProvider() *saml.IdentityProvider { return s.idp }

// RegisterSP registers (or replaces) a service provider, keyed by its
// entity ID. Metadata the IdP could not answer is refused (see checkSP).
func (s *Server) RegisterSP(md *saml.EntityDescriptor) error {
	if err := checkSP(md); err != nil { // sps.go
		return err
	}
	s.mu.Lock()
	s.sps[md.EntityID] = md
	s.mu.Unlock()
	s.logger.Info("mockidp: registered service provider", "entityID", md.EntityID)
	return nil
}

// RegisterSPMetadataXML parses an SP's metadata and registers it: an
// EntityDescriptor, or an EntitiesDescriptor whose entities with an
// SPSSODescriptor are all registered. The metadata is trusted as given (no
// signature check).
func (s *Server) RegisterSPMetadataXML(b []byte) error {
	_, err := s.registerSPMetadata(b)
	return err
}

// parseSPMetadata returns the service providers in metadata b (see
// RegisterSPMetadataXML).
func parseSPMetadata(b []byte) ([]*saml.EntityDescriptor, error) {
	var root struct{ XMLName xml.Name }
	if err := xml.Unmarshal(b, &root); errors.Is(err, io.EOF) {
		return nil, errors.New("mockidp: the SP metadata is not XML metadata: it has no XML element")
	} else if err != nil {
		return nil, fmt.Errorf("mockidp: parse SP metadata: %w", err)
	}
	switch root.XMLName.Local {
	case "EntityDescriptor":
		var md saml.EntityDescriptor
		if err := xml.Unmarshal(b, &md); err != nil {
			return nil, fmt.Errorf("mockidp: parse SP metadata: %w", err)
		}
		return []*saml.EntityDescriptor{&md}, nil
	case "EntitiesDescriptor":
		var all saml.EntitiesDescriptor
		if err := xml.Unmarshal(b, &all); err != nil {
			return nil, fmt.Errorf("mockidp: parse SP metadata: %w", err)
		}
		var sps []*saml.EntityDescriptor
		var walk func(*saml.EntitiesDescriptor)
		walk = func(d *saml.EntitiesDescriptor) {
			for i := range d.EntityDescriptors {
				if len(d.EntityDescriptors[i].SPSSODescriptors) > 0 {
					sps = append(sps, &d.EntityDescriptors[i])
				}
			}
			for i := range d.EntitiesDescriptors {
				walk(&d.EntitiesDescriptors[i])
			}
		}
		walk(&all)
		if len(sps) == 0 {
			return nil, errors.New("mockidp: SP metadata has no entity with an SPSSODescriptor")
		}
		return sps, nil
	default:
		return nil, fmt.Errorf("mockidp: SP metadata root is %q, not EntityDescriptor", root.XMLName.Local)
	}
}

// serviceProviders returns the registered SPs' entity IDs, sorted.
func (s *Server) serviceProviders() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := make([]string, 0, len(s.sps))
	for id := range s.sps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Handler serves the IdP's routes, relative to BaseURL's path.
func (s *Server) Handler() http.Handler {
	p := s.prefix
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+p+"/metadata", s.idp.ServeMetadata)
	mux.HandleFunc("GET "+p+"/sso", s.serveSSO)
	mux.HandleFunc("POST "+p+"/sso", s.serveSSO)
	mux.HandleFunc("GET "+p+"/slo", s.serveSLO)
	mux.HandleFunc("POST "+p+"/slo", s.serveSLO)
	mux.HandleFunc("GET "+p+"/idp/initiate", s.serveInitiate)
	mux.HandleFunc("POST "+p+"/idp/initiate", s.serveInitiate)
	mux.HandleFunc("GET "+p+"/{$}", s.serveHome)
	mux.HandleFunc("GET "+p+"/log", s.serveLog)
	s.addScenarioRoutes(mux) // api.go: /api/..., /sps, log downloads
	mux.HandleFunc("GET "+p+"/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	return mux
}

// spProvider implements saml.ServiceProviderProvider.
type spProvider struct{ s *Server }

func (p spProvider) GetServiceProvider(r *http.Request, id string) (*saml.EntityDescriptor, error) {
	p.s.mu.RLock()
	md, ok := p.s.sps[id]
	p.s.mu.RUnlock()
	if ok {
		return md, nil
	}
	if p.s.cfg.TrustAnySP {
		if h, _ := r.Context().Value(trustHintKey{}).(*trustHint); h != nil && h.issuer == id && h.acsURL != "" {
			p.s.logger.Warn("mockidp: trusting unregistered service provider (TrustAnySP)", "entityID", id, "acs", h.acsURL)
			return synthesizeSP(id, h.acsURL), nil
		}
	}
	return nil, os.ErrNotExist
}

// synthesizeSP builds the metadata TrustAnySP assumes for an unregistered
// SP: one HTTP-POST assertion consumer service at acsURL.
func synthesizeSP(entityID, acsURL string) *saml.EntityDescriptor {
	return &saml.EntityDescriptor{
		EntityID: entityID,
		SPSSODescriptors: []saml.SPSSODescriptor{{
			SSODescriptor: saml.SSODescriptor{RoleDescriptor: saml.RoleDescriptor{
				ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol",
			}},
			AssertionConsumerServices: []saml.IndexedEndpoint{{
				Binding: saml.HTTPPostBinding, Location: acsURL, Index: 0,
			}},
		}},
	}
}

// isRegistered reports whether entityID is a registered SP.
func (s *Server) isRegistered(entityID string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.sps[entityID]
	return ok
}

type trustHintKey struct{}

// trustHint is the Issuer and ACS URL of the AuthnRequest being served, for
// TrustAnySP (GetServiceProvider is not given the request).
type trustHint struct{ issuer, acsURL string }

// withTrustHint reads the AuthnRequest in r, if TrustAnySP is set, and
// returns r with a trustHint in its context.
func (s *Server) withTrustHint(r *http.Request) *http.Request {
	if !s.cfg.TrustAnySP {
		return r
	}
	req, err := saml.NewIdpAuthnRequest(s.idp, r)
	if err != nil {
		return r
	}
	var ar saml.AuthnRequest
	if err := xml.NewDecoder(bytes.NewReader(req.RequestBuffer)).Decode(&ar); err != nil || ar.Issuer == nil {
		return r
	}
	h := &trustHint{issuer: strings.TrimSpace(ar.Issuer.Value), acsURL: ar.AssertionConsumerServiceURL}
	return r.WithContext(context.WithValue(r.Context(), trustHintKey{}, h))
}

// onError is crewjam's OnError: a short HTML page; details go to the log.
func (s *Server) onError(w http.ResponseWriter, r *http.Request, status int, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if errors.Is(err, saml.ErrUnknownAssertionConsumerService) {
		// crewjam's wording ("file does not exist", or a 500 for an
		// IdP-initiated login) says nothing useful: say what is wrong.
		status = http.StatusBadRequest
		if r.URL.Path == s.prefix+"/idp/initiate" {
			msg = "The service provider's metadata has no AssertionConsumerService with the HTTP-POST binding; this IdP sends responses with HTTP-POST only."
		} else {
			msg = "The AuthnRequest's AssertionConsumerServiceURL/Index is not in the SP's metadata."
		}
	}
	level := slog.LevelWarn
	if status >= 500 {
		level = slog.LevelError
	}
	s.logger.Log(r.Context(), level, "mockidp: request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	s.renderError(w, status, msg)
}
