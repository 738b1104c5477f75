package mockidp

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// maxScopeLen bounds a user's NameID and an SP scope in queue routes.
const maxScopeLen = 1024

// QueuedLogin is a queued login as the API returns it.
type QueuedLogin struct {
	NameID    string    `json:"nameID"`
	SP        string    `json:"sp,omitempty"` // the SP it is scoped to; empty: any
	QueuedAt  time.Time `json:"queuedAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	Login     NextLogin `json:"login"`
}

func (e queuedLogin) api() QueuedLogin {
	return QueuedLogin{NameID: e.User, SP: e.SP, QueuedAt: e.QueuedAt, ExpiresAt: e.Expires, Login: e.Login}
}

// queueTarget reads the user and the optional ?sp= scope of a queue route.
func queueTarget(r *http.Request) (user, sp string, err error) {
	user, sp = r.PathValue("nameID"), r.URL.Query().Get("sp")
	switch {
	case strings.TrimSpace(user) == "":
		return "", "", errors.New("the user's NameID is blank")
	case len(user) > maxScopeLen || len(sp) > maxScopeLen:
		return "", "", fmt.Errorf("the NameID and the sp scope are at most %d bytes", maxScopeLen)
	}
	if err := checkText("the NameID", user); err != nil {
		return "", "", err
	}
	return user, sp, nil
}

// checkNextLogin returns what is wrong with a login to queue, checked now
// so that the person at the login form never meets it.
func (s *Server) checkNextLogin(q NextLogin, sp string) error {
	if q.Persona != "" {
		if _, ok := s.personas.get(q.Persona); !ok {
			return fmt.Errorf("unknown persona %q", q.Persona)
		}
	}
	if sp != "" && !s.cfg.TrustAnySP && !s.isRegistered(sp) {
		return fmt.Errorf("no service provider %q is registered (the sp scope must be one)", sp)
	}
	if q.Fault != "" && q.Fault != "none" {
		if _, ok := LookupFault(q.Fault); !ok {
			return fmt.Errorf("unknown fault %q (GET /api/faults lists them)", q.Fault)
		}
	}
	opts, msg := s.queuedOptions(q.loginOptions, sp)
	if msg != "" {
		return errors.New(msg)
	}
	// An option this IdP (or the SP in scope) cannot honour would refuse
	// every login of the user until the entry expires, since the queued
	// values win over the form's: refuse it now.
	if md, ok := s.registeredSP(sp); ok && sp != "" {
		msg = s.checkOptionsFor(md, opts) // optioncheck.go
	} else if opts.SignKey == signKeyNext && s.cfg.NextKey == nil {
		msg = "Signing key: " + errNoNextKey.Error() + "."
	}
	if msg != "" {
		return errors.New(msg)
	}
	for name, v := range map[string]*string{"firstName": q.FirstName, "lastName": q.LastName, "email": q.Email, "shortName": q.ShortName} {
		if v != nil && len(*v) > maxValueLen {
			return fmt.Errorf("%s is longer than %d bytes", name, maxValueLen)
		}
		if v != nil {
			if err := checkText(name, *v); err != nil {
				return err
			}
		}
	}
	if len(q.GroupAttribute) > maxValueLen {
		return fmt.Errorf("groupAttribute is longer than %d bytes", maxValueLen)
	}
	if err := checkText("groupAttribute", q.GroupAttribute); err != nil {
		return err
	}
	return checkGroups(q.Groups, true)
}

// queuedOptions resolves a queued login's options as the login will
// (login.go serveLogin, resolve): the flavour the SP in scope uses when the
// entry names none, then the flavour's defaults for blank options, so the
// check at queue time sees the options the login is checked with.
func (s *Server) queuedOptions(o loginOptions, sp string) (resolvedOptions, string) {
	o.Flavour = s.spFlavour(sp, o.Flavour)
	f, _, msg := s.applyFlavour(loginForm{Options: o})
	if msg != "" {
		return resolvedOptions{}, msg
	}
	return f.Options.resolve()
}

// QueueLogin queues (or replaces) the next login of user at sp ("" = any
// SP), as PUT /api/users/{nameID}/next-login does.
func (s *Server) QueueLogin(user, sp string, q NextLogin) error {
	if strings.TrimSpace(user) == "" {
		return errors.New("the user's NameID is blank")
	}
	if err := s.checkNextLogin(q, sp); err != nil {
		return err
	}
	now := s.now()
	_, err := s.queue.put(queuedLogin{User: user, SP: sp, Login: q, QueuedAt: now, Expires: now.Add(queueTTL)}, now)
	return err
}

// apiQueueLogin queues (or replaces) the next login of a user.
func (s *Server) apiQueueLogin(w http.ResponseWriter, r *http.Request) {
	user, sp, err := queueTarget(r)
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "%v", err)
		return
	}
	var q NextLogin
	if e := decodeJSON(w, r, &q); e != nil {
		writeAPIError(w, e.status, "%s", e.msg)
		return
	}
	if err := s.checkNextLogin(q, sp); err != nil {
		writeAPIError(w, http.StatusBadRequest, "%v", err)
		return
	}
	now := s.now()
	e := queuedLogin{User: user, SP: sp, Login: q, QueuedAt: now, Expires: now.Add(queueTTL)}
	replaced, err := s.queue.put(e, now)
	if err != nil {
		writeAPIError(w, http.StatusTooManyRequests, "%v", err)
		return
	}
	status := http.StatusCreated
	if replaced {
		status = http.StatusOK
	}
	s.logger.Info("mockidp: login queued", "user", user, "sp", sp, "replaced", replaced)
	writeJSON(w, status, e.api())
}

func (s *Server) apiGetQueued(w http.ResponseWriter, r *http.Request) {
	user, sp, err := queueTarget(r)
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "%v", err)
		return
	}
	e, ok := s.queue.get(user, sp, s.now())
	if !ok {
		writeAPIError(w, http.StatusNotFound, "no login is queued for %q%s", user, scopeNote(sp))
		return
	}
	writeJSON(w, http.StatusOK, e.api())
}

func (s *Server) apiDeleteQueued(w http.ResponseWriter, r *http.Request) {
	user, sp, err := queueTarget(r)
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "%v", err)
		return
	}
	if !s.queue.remove(user, sp, s.now()) {
		writeAPIError(w, http.StatusNotFound, "no login is queued for %q%s", user, scopeNote(sp))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func scopeNote(sp string) string {
	if sp == "" {
		return " (unscoped)"
	}
	return " at " + sp
}
