package mockidp

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// IdP sessions. A real IdP that already knows who the browser is (its SSO
// session cookie is set) answers an AuthnRequest at once, without its login
// form. Here a session is made through the scenario API (POST /api/sessions)
// or from Go (Server.StartSession); it holds one login, the values the form
// would have carried, and the browser presents it in the cookie
// SessionCookie. An AuthnRequest with ForceAuthn="true" still gets the form,
// as it would from a real IdP; a passive one (IsPassive="true") that no
// session answers gets a NoPassive Response instead (login.go
// answerNoPassive). Single Logout ends the session it came with.
// Scripts and suites use sessions to sign people in without drawing and
// filling the login form, which is the IdP's part of a login, not the SP's.

// SessionCookie is the cookie that carries an IdP session's ID.
const SessionCookie = "mockidp_session"

const (
	sessionTTL  = 8 * time.Hour // as long as the SAML sessions it makes
	maxSessions = 1000          // held at once
)

var errSessionsFull = errors.New("too many IdP sessions; end some or let them expire")

// SessionLogin is what an IdP session signs a person in as. User (the
// NameID) is required unless Persona names one; every other field is as in
// a queued login (NextLogin), except that nothing is taken from a form:
// groups not given are none, a blank group attribute is the IdP's (or the
// flavour's) default.
type SessionLogin struct {
	User string `json:"user,omitempty"`
	// SP, when set, is the only service provider the session answers for.
	SP string `json:"sp,omitempty"`
	// Logins is how many logins the session answers before it ends; 0 is
	// until it expires or is ended.
	Logins int `json:"logins,omitempty"`
	NextLogin
}

// IdPSession is a session as the API and StartSession return it.
type IdPSession struct {
	ID         string       `json:"id"`
	Cookie     string       `json:"cookie"` // SessionCookie; its value is ID
	User       string       `json:"user"`
	SP         string       `json:"sp,omitempty"`
	LoginsLeft int          `json:"loginsLeft,omitempty"` // 0: no limit
	CreatedAt  time.Time    `json:"createdAt"`
	ExpiresAt  time.Time    `json:"expiresAt"`
	Login      SessionLogin `json:"login"`
}

type idpSession struct{ IdPSession }

// sessionStore holds the IdP sessions by ID.
type sessionStore struct {
	mu      sync.Mutex
	entries map[string]*idpSession
}

func newSessionStore() *sessionStore { return &sessionStore{entries: map[string]*idpSession{}} }

// purge drops expired sessions; the caller holds mu.
func (st *sessionStore) purge(now time.Time) {
	for id, e := range st.entries {
		if !now.Before(e.ExpiresAt) {
			delete(st.entries, id)
		}
	}
}

func (st *sessionStore) add(e *idpSession, now time.Time) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.purge(now)
	if len(st.entries) >= maxSessions {
		return errSessionsFull
	}
	if _, taken := st.entries[e.ID]; taken {
		// Only a randomness that repeats (Config.Rand) gets here.
		return errors.New("the new session's ID is taken: the IdP's randomness (Config.Rand) repeats")
	}
	st.entries[e.ID] = e
	return nil
}

// get returns a copy of the live session id.
func (st *sessionStore) get(id string, now time.Time) (idpSession, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.purge(now)
	e, ok := st.entries[id]
	if !ok {
		return idpSession{}, false
	}
	return *e, true
}

// use counts one login of session id, checking and counting in one step
// so that parallel logins never share a last use; ok is false when the
// session has ended (expired, ended, or used up) since it was read. A
// session with no logins left ends: usedUp says this use ended it.
func (st *sessionStore) use(id string, now time.Time) (ok, usedUp bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.purge(now)
	e, ok := st.entries[id]
	if !ok {
		return false, false
	}
	if e.LoginsLeft == 0 {
		return true, false // no limit
	}
	if e.LoginsLeft--; e.LoginsLeft == 0 {
		delete(st.entries, id)
		return true, true
	}
	return true, false
}

func (st *sessionStore) remove(id string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	_, ok := st.entries[id]
	delete(st.entries, id)
	return ok
}

func (st *sessionStore) list(now time.Time) []IdPSession {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.purge(now)
	out := make([]IdPSession, 0, len(st.entries))
	for _, e := range st.entries {
		out = append(out, e.IdPSession)
	}
	// Oldest first, the same order on every call (a map has none).
	slices.SortFunc(out, func(a, b IdPSession) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// StartSession makes an IdP session for l, checked as a queued login is
// (an option the IdP or the SP in scope cannot honour is refused now). The
// browser that presents Cookie with value ID is then signed in without the
// login form.
func (s *Server) StartSession(l SessionLogin) (IdPSession, error) {
	user := l.User // as the form takes a username: not trimmed
	if l.Persona != "" {
		p, ok := s.personas.get(l.Persona)
		if !ok {
			return IdPSession{}, fmt.Errorf("unknown persona %q", l.Persona)
		}
		if strings.TrimSpace(user) == "" {
			user = p.NameID
		}
	}
	switch {
	case strings.TrimSpace(user) == "":
		return IdPSession{}, errors.New("name the user (the NameID), or a persona")
	case len(user) > maxScopeLen || len(l.SP) > maxScopeLen:
		return IdPSession{}, fmt.Errorf("the user and the sp scope are at most %d bytes", maxScopeLen)
	case l.Logins < 0:
		return IdPSession{}, errors.New("logins must be 0 (no limit) or more")
	}
	if err := checkText("the user", user); err != nil {
		return IdPSession{}, err
	}
	if err := s.checkNextLogin(l.NextLogin, l.SP); err != nil { // api_queue.go
		return IdPSession{}, err
	}
	b := make([]byte, 18)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return IdPSession{}, fmt.Errorf("make a session ID: %w", err)
	}
	now := s.now()
	l.User = user
	e := &idpSession{IdPSession: IdPSession{
		ID: base64.RawURLEncoding.EncodeToString(b), Cookie: SessionCookie, User: user, SP: l.SP,
		LoginsLeft: l.Logins, CreatedAt: now, ExpiresAt: now.Add(sessionTTL), Login: l,
	}}
	if err := s.sessions.add(e, now); err != nil {
		return IdPSession{}, err
	}
	s.logger.Info("mockidp: IdP session started", "session", sessionLogID(e.ID), "user", user, "sp", l.SP, "logins", l.Logins)
	return e.IdPSession, nil
}

// EndSession ends the IdP session id; it reports whether there was one.
func (s *Server) EndSession(id string) bool { return s.endSession(id, "Server.EndSession") }

// endSession is EndSession, logging who ended the session.
func (s *Server) endSession(id, by string) bool {
	if !s.sessions.remove(id) {
		return false
	}
	s.logger.Info("mockidp: IdP session ended", "session", sessionLogID(id), "by", by)
	return true
}

// sessionLogID names session id in the server log. The ID is the cookie
// value, a secret that signs the browser in, so the log gets the first 8
// hex digits of its SHA-256 instead: enough to tie a session's start, its
// logins and its end together, useless to present as a cookie.
func sessionLogID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:4])
}

// sessionForm is the login form a login of session l carries: the
// persona's values as they are now (as a queued login takes them, queue.go),
// or nothing, with what l gives over them. A persona deleted since is named
// on the form, so that resolve refuses the login and says why.
func (s *Server) sessionForm(l SessionLogin) loginForm {
	var f loginForm
	if l.Persona != "" {
		p, ok := s.personas.get(l.Persona)
		if !ok {
			return loginForm{Persona: l.Persona}
		}
		f = loginForm{FirstName: p.FirstName, LastName: p.LastName, Email: p.Email, ShortName: p.ShortName, GroupList: p.Groups, FromPersona: p.ID}
	}
	f.Username = l.User
	f.GroupAttribute = l.GroupAttribute
	f.Fault = l.Fault
	f.Options = l.loginOptions
	f.GroupList = append([]string{}, f.GroupList...)
	if l.Groups != nil {
		f.GroupList = append([]string{}, l.Groups...)
	}
	for _, v := range []struct {
		to   *string
		from *string
	}{{&f.FirstName, l.FirstName}, {&f.LastName, l.LastName}, {&f.Email, l.Email}, {&f.ShortName, l.ShortName}} {
		if v.from != nil {
			*v.to = *v.from
		}
	}
	f.Groups = strings.Join(f.GroupList, "\n")
	return f
}

// withIdPSession returns r carrying, as a submitted login form would, the
// login of the live IdP session whose cookie r presents, when it has no
// submitted form of its own; else r unchanged. The session is counted as
// used only once the login is accepted (sessionProvider.GetSession), and
// a session login takes no queued login: its values are the session's.
func (s *Server) withIdPSession(r *http.Request) *http.Request {
	if loginStateFrom(r.Context()) != nil {
		return r
	}
	// A browser may hold several (another Path or Domain): the first live
	// one, and the others in case it cannot answer (answeringSession).
	var live []idpSession
	for _, c := range r.CookiesNamed(SessionCookie) {
		if c.Value == "" {
			continue
		}
		if e, ok := s.sessions.get(c.Value, s.now()); ok {
			live = append(live, e)
		}
	}
	if len(live) == 0 {
		return r
	}
	st := &loginState{form: s.sessionForm(live[0].Login), session: &live[0], others: live[1:]}
	return r.WithContext(context.WithValue(r.Context(), loginKey{}, st))
}

// sessionAnswers reports whether session e may answer a login at sp with
// AuthnRequest flags forceAuthn.
func sessionAnswers(e *idpSession, sp string, forceAuthn *bool) bool {
	if forceAuthn != nil && *forceAuthn {
		return false
	}
	return e.SP == "" || e.SP == sp
}

// endSessionOf ends the IdP session of every SessionCookie r carries
// (Single Logout ends the browser's session at the IdP). A login takes the
// first live one of several (withIdPSession), so ending only the first
// would leave the browser signed in when a stale cookie comes first.
func (s *Server) endSessionOf(r *http.Request) {
	for _, c := range r.CookiesNamed(SessionCookie) {
		if c.Value != "" {
			s.endSession(c.Value, "Single Logout")
		}
	}
}

// The scenario API's session routes (api.go addScenarioRoutes).

func (s *Server) apiStartSession(w http.ResponseWriter, r *http.Request) {
	var l SessionLogin
	if e := decodeJSON(w, r, &l); e != nil {
		writeAPIError(w, e.status, "%s", e.msg)
		return
	}
	e, err := s.StartSession(l)
	switch {
	case errors.Is(err, errSessionsFull):
		writeAPIError(w, http.StatusTooManyRequests, "%v", err)
	case err != nil:
		writeAPIError(w, http.StatusBadRequest, "%v", err)
	default:
		writeJSON(w, http.StatusCreated, e)
	}
}

func (s *Server) apiListSessions(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.sessions.list(s.now()))
}

func (s *Server) apiGetSession(w http.ResponseWriter, r *http.Request) {
	e, ok := s.sessions.get(r.PathValue("id"), s.now())
	if !ok {
		writeAPIError(w, http.StatusNotFound, "no IdP session %q (it may have expired or been used up)", r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, e.IdPSession)
}

func (s *Server) apiEndSession(w http.ResponseWriter, r *http.Request) {
	if !s.endSession(r.PathValue("id"), "the API") {
		writeAPIError(w, http.StatusNotFound, "no IdP session %q (it may have expired or been used up)", r.PathValue("id"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
