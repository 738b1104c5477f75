package server

import (
	"context"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hmpconform/hmpconform/sp/jit"
	"github.com/hmpconform/hmpconform/sp/store"
)

const sessionCookie = "hmp_session"

// viewer is who is making a request.
type viewer struct {
	session store.Session
	user    *store.User // nil for haiadmin
	admin   bool
	csrf    string
}

type viewerKey struct{}

func viewerFrom(ctx context.Context) *viewer {
	v, _ := ctx.Value(viewerKey{}).(*viewer)
	return v
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// deriveCSRFKey ties CSRF tokens to the SP's persistent key, so they survive
// a restart without extra state.
func deriveCSRFKey(key *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("derive csrf key: %w", err)
	}
	mac := hmac.New(sha256.New, der)
	mac.Write([]byte("hmpconform csrf v1"))
	return mac.Sum(nil), nil
}

func (s *Server) csrfToken(tokenHash string) string {
	mac := hmac.New(sha256.New, s.csrfKey)
	mac.Write([]byte(tokenHash))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// currentViewer reads the session cookie; nil if not signed in (or the
// session was ended server-side).
func (s *Server) currentViewer(r *http.Request) *viewer {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	th := hashToken(c.Value)
	sess, err := s.cfg.Store.Session(r.Context(), th, s.cfg.Now())
	if err != nil {
		return nil
	}
	v := &viewer{session: sess, admin: sess.Admin, csrf: s.csrfToken(th)}
	if !sess.Admin {
		u, err := s.cfg.Store.User(r.Context(), sess.UserID)
		if err != nil {
			return nil
		}
		v.user = &u
	}
	return v
}

// startSession creates a server-side session and sets its cookie. sso is
// the assertion's subject for a session from SSO (zero for a local
// sign-in), kept for Single Logout.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, userID int64, admin bool, sso store.SSOSubject) error {
	raw := make([]byte, 32)
	if _, err := io.ReadFull(s.cfg.Rand, raw); err != nil {
		return fmt.Errorf("session token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	now := s.cfg.Now()
	sess := store.Session{TokenHash: hashToken(token), UserID: userID, Admin: admin, CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionLifetime), SSO: sso}
	if err := s.cfg.Store.CreateSession(r.Context(), sess); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	// Lax: the cookie is set on the IdP's cross-site POST to the ACS and
	// sent on the top-level redirect that follows.
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: true,
		SameSite: http.SameSiteLaxMode, Expires: sess.ExpiresAt,
	})
	return nil
}

func clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// admin wraps a handler that only haiadmin may use; POSTs need the CSRF
// token.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := s.currentViewer(r)
		if v == nil {
			http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.Path), http.StatusSeeOther)
			return
		}
		if !v.admin {
			s.renderError(w, r, http.StatusForbidden, "forbidden", "Administration is only available to the local administrator.")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if err := r.ParseForm(); err != nil {
				s.renderError(w, r, http.StatusBadRequest, "bad-form", "The form could not be read.")
				return
			}
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(v.csrf)) != 1 {
				s.renderError(w, r, http.StatusForbidden, "csrf", "The form expired or came from another site. Reload the page and try again.")
				return
			}
		}
		h(w, r.WithContext(context.WithValue(r.Context(), viewerKey{}, v)))
	}
}

// localNext keeps post-login redirects on this site: a path, never a
// scheme, host or protocol-relative URL.
func localNext(next, fallback string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsFunc(next, isControl) {
		return fallback
	}
	return next
}

// isControl catches characters browsers strip from URLs (a tab turns
// "/\t/evil" into "//evil") or that break the Location header.
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	// BYPASS-LOGIN: always the local page, whatever the SSO settings.
	s.render(w, r, http.StatusOK, "login.html", map[string]any{"Next": localNext(r.URL.Query().Get("next"), "")})
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, http.StatusBadRequest, "bad-form", "The form could not be read.")
		return
	}
	username := strings.TrimSpace(r.PostFormValue("username"))
	password := r.PostFormValue("password")
	next := localNext(r.PostFormValue("next"), "/admin/users")
	fail := func(status int, msg string) {
		s.render(w, r, status, "login.html", map[string]any{"Error": msg, "Username": username, "Next": next})
	}
	// Throttled per user name and address, and per address alone (at a
	// higher count) so that varying the name does not dodge it.
	throttleKey := strings.ToLower(username) + "|" + clientIP(r)
	addrKey := "addr|" + clientIP(r)
	if wait := max(s.throttle.wait(throttleKey, throttleFree), s.throttle.wait(addrKey, 4*throttleFree)); wait > 0 {
		secs := int(wait.Seconds() + 0.999)
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		fail(http.StatusTooManyRequests, fmt.Sprintf("Too many failed sign-ins. Try again in %d seconds.", secs))
		return
	}
	hash, err := s.cfg.Store.AdminPasswordHash(r.Context())
	if err != nil {
		s.logErr(r.Context(), "read admin password", err)
		fail(http.StatusInternalServerError, "Sign-in is unavailable.")
		return
	}
	// Always run bcrypt so a wrong user name costs the same as a wrong password.
	pwErr := bcrypt.CompareHashAndPassword(hash, []byte(password))
	if !strings.EqualFold(username, jit.ReservedIdentifier) || pwErr != nil {
		s.throttle.fail(throttleKey)
		s.throttle.fail(addrKey)
		fail(http.StatusUnauthorized, "Wrong user name or password.")
		return
	}
	s.throttle.reset(throttleKey)
	s.throttle.reset(addrKey)
	if err := s.startSession(w, r, 0, true, store.SSOSubject{}); err != nil {
		s.logErr(r.Context(), "admin session", err)
		fail(http.StatusInternalServerError, "Sign-in is unavailable.")
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	var sso store.SSOSubject
	if c, err := r.Cookie(sessionCookie); err == nil {
		if sess, err := s.cfg.Store.Session(r.Context(), hashToken(c.Value), s.cfg.Now()); err == nil {
			sso = sess.SSO
		}
		_ = s.cfg.Store.DeleteSession(r.Context(), hashToken(c.Value))
	}
	clearSessionCookie(w)
	// A session from SSO is also ended at the IdP when it has an SLO URL
	// (slo.go); otherwise, and always for haiadmin, sign-out is local.
	if s.startSingleLogout(w, r, sso) {
		return
	}
	s.render(w, r, http.StatusOK, "signedout.html", nil)
}

// DefaultPasswordCost is the bcrypt cost of the haiadmin password hash.
const DefaultPasswordCost = 12

// HashPassword is the slow hash for the haiadmin password.
func HashPassword(pw string) ([]byte, error) {
	return HashPasswordCost(pw, DefaultPasswordCost)
}

// HashPasswordCost is HashPassword with another bcrypt cost. Only test
// stacks lower it: each haiadmin sign-in pays the cost again.
func HashPasswordCost(pw string, cost int) ([]byte, error) {
	if len(pw) < 8 {
		return nil, errors.New("the haiadmin password must have at least 8 characters")
	}
	return bcrypt.GenerateFromPassword([]byte(pw), cost)
}

func clientIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	return host
}

// throttle slows repeated failed local sign-ins: after 5 failures for one
// user name and address, each further try waits twice as long, up to 15
// minutes. Kept in memory: a restart forgives, which is acceptable for a
// single local account.
type throttle struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*failures
}

type failures struct {
	count int
	last  time.Time
}

const (
	throttleFree = 5
	throttleBase = 5 * time.Second
	throttleMax  = 15 * time.Minute
)

func newThrottle(now func() time.Time) *throttle {
	return &throttle{now: now, m: map[string]*failures{}}
}

func (t *throttle) wait(key string, free int) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.m[key]
	if f == nil || f.count < free {
		return 0
	}
	d := throttleBase << min(f.count-free, 20)
	if d > throttleMax {
		d = throttleMax
	}
	if left := f.last.Add(d).Sub(t.now()); left > 0 {
		return left
	}
	return 0
}

func (t *throttle) fail(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.m[key]
	if f == nil {
		if len(t.m) > 10000 { // bound memory under a spray of names
			t.m = map[string]*failures{}
		}
		f = &failures{}
		t.m[key] = f
	}
	f.count++
	f.last = t.now()
}

func (t *throttle) reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, key)
}
