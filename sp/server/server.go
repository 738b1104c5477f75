// Package server is the reference SP's HTTP application: the local sign-in
// page, the ACS, the user's home page and the administration pages. The
// JIT rules (sp/jit), the SAML layer (sp/samlsso) and the store
// (sp/store) are injected; this package only wires them to HTTP.
package server

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/hmpconform/hmpconform/sp/jit"
	"github.com/hmpconform/hmpconform/sp/samlsso"
	"github.com/hmpconform/hmpconform/sp/store"
)

// ProvisionFunc computes a login's outcome; jit.Provision unless a test
// injects a deliberately broken rule set.
type ProvisionFunc func(jit.Rules, []jit.Group, jit.Assertion) (jit.Outcome, error)

// Config is everything the server needs; zero values get safe defaults
// where one exists.
type Config struct {
	BaseURL     *url.URL // public https URL, e.g. https://hmp.sp.test:8443
	Store       store.Store
	Key         *rsa.PrivateKey   // SP signing key (AuthnRequests)
	Certificate *x509.Certificate // its certificate, downloadable by admins
	Now         func() time.Time
	Rand        io.Reader
	Logger      *slog.Logger
	Provision   ProvisionFunc
	// SessionLifetime defaults to 8 hours.
	SessionLifetime time.Duration
}

// Server is the reference SP.
type Server struct {
	cfg      Config
	saml     *samlsso.SP
	pages    *pages
	throttle *throttle
	csrfKey  []byte
}

// New checks cfg and builds the server.
func New(cfg Config) (*Server, error) {
	if cfg.BaseURL == nil || cfg.Store == nil || cfg.Key == nil || cfg.Certificate == nil {
		return nil, errors.New("server: BaseURL, Store, Key and Certificate are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Provision == nil {
		cfg.Provision = jit.Provision
	}
	if cfg.SessionLifetime == 0 {
		cfg.SessionLifetime = 8 * time.Hour
	}
	p, err := loadPages()
	if err != nil {
		return nil, err
	}
	csrfKey, err := deriveCSRFKey(cfg.Key)
	if err != nil {
		return nil, err
	}
	return &Server{
		cfg:      cfg,
		saml:     &samlsso.SP{BaseURL: cfg.BaseURL, Key: cfg.Key, Certificate: cfg.Certificate, Store: cfg.Store, Now: cfg.Now},
		pages:    p,
		throttle: newThrottle(cfg.Now),
		csrfKey:  csrfKey,
	}, nil
}

// SAML exposes the SAML layer (metadata, entity ID) to the binaries.
func (s *Server) SAML() *samlsso.SP { return s.saml }

// Handler returns the SP's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handleHome)
	mux.HandleFunc("GET /login", s.handleLoginPage)
	mux.HandleFunc("POST /login", s.handleLogin)
	mux.HandleFunc("POST /logout", s.handleLogout)
	mux.HandleFunc("GET /sso/login", s.handleSSOLogin)
	mux.HandleFunc("POST "+samlsso.ACSPath, s.handleACS)
	mux.HandleFunc("GET "+samlsso.ACSPath, s.handleACSGet)
	mux.HandleFunc("GET "+samlsso.MetadataPath, s.handleMetadata)
	mux.HandleFunc("GET "+samlsso.SLOPath, s.handleSLO)
	mux.HandleFunc("POST "+samlsso.SLOPath, s.handleSLOPost)
	mux.HandleFunc("GET /saml/sp-certificate.pem", s.handleSPCertificate)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })

	mux.HandleFunc("GET /admin", s.admin(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
	}))
	mux.HandleFunc("GET /admin/settings", s.admin(s.handleSettingsPage))
	mux.HandleFunc("POST /admin/settings", s.admin(s.handleSettingsSave))
	mux.HandleFunc("GET /admin/groups", s.admin(s.handleGroupsPage))
	mux.HandleFunc("POST /admin/groups", s.admin(s.handleGroupCreate))
	mux.HandleFunc("POST /admin/groups/{id}/rename", s.admin(s.handleGroupRename))
	mux.HandleFunc("POST /admin/groups/{id}/role", s.admin(s.handleGroupRole))
	mux.HandleFunc("POST /admin/groups/{id}/delete", s.admin(s.handleGroupDelete))
	mux.HandleFunc("GET /admin/users", s.admin(s.handleUsersPage))
	mux.HandleFunc("POST /admin/users", s.admin(s.handleUserAdd))
	mux.HandleFunc("GET /admin/users/{id}", s.admin(s.handleUserPage))
	mux.HandleFunc("POST /admin/users/{id}/delete", s.admin(s.handleUserDelete))
	mux.HandleFunc("POST /admin/users/{id}/end-sessions", s.admin(s.handleUserEndSessions))
	mux.HandleFunc("POST /admin/users/{id}/groups", s.admin(s.handleUserGroups))
	return s.recoverer(securityHeaders(mux))
}

// recoverer turns a panic into a plain 500 page: no stack trace reaches the
// browser; the log keeps it.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.cfg.Logger.Error("handler panic", "path", r.URL.Path, "panic", fmt.Sprint(v))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

func (s *Server) logErr(ctx context.Context, msg string, err error, attrs ...any) {
	s.cfg.Logger.ErrorContext(ctx, msg, append(attrs, "err", err)...)
}
