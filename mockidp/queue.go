package mockidp

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"time"
)

// Queued logins: a script says, through the scenario API (api_queue.go),
// what the next login of one user carries. When the login form is next
// submitted for that user, the queued values override the form's for that
// one login. Entries are keyed by the user (and optionally an SP), so
// parallel suites, each signing in its own users, never take each other's.
const (
	queueTTL  = 10 * time.Minute // an entry nobody signs in for expires
	maxQueued = 1000             // entries held at once, all users together
)

var errQueueFull = errors.New("too many queued logins; delete some or let them expire")

// NextLogin is a queued login, as the scenario API reads and writes it.
// Every field is optional: what is given overrides the login form (or the
// persona it starts from); what is not keeps the form's value.
//
// The per-login options are loginOptions itself, embedded, so its JSON
// fields (nameIDFormat, signAlg, ... and any option added to it later)
// appear at the top level and are applied with no change here.
type NextLogin struct {
	// Persona is a persona to start from: its names, email and groups,
	// under the queued user's NameID.
	Persona   string  `json:"persona,omitempty"`
	FirstName *string `json:"firstName,omitempty"`
	LastName  *string `json:"lastName,omitempty"`
	Email     *string `json:"email,omitempty"`
	ShortName *string `json:"shortName,omitempty"`
	// Groups, when present (even empty), replace the groups. omitzero, not
	// omitempty: "groups": [] (send none) must survive in the API's answers,
	// apart from no groups given (the persona's, or the form's).
	Groups []string `json:"groups,omitzero"`
	// GroupAttribute, when blank with a Flavour given, is the flavour's
	// unless a name was typed on the form (queuedGroupAttribute).
	GroupAttribute string `json:"groupAttribute,omitempty"`
	// Fault names a fault (faults.go) for this response.
	Fault string `json:"fault,omitempty"`
	loginOptions
}

// queueKey is a queue slot: a user's NameID, lower-cased (the match
// ignores case), and the SP entity ID the entry is scoped to ("" = any).
type queueKey struct{ user, sp string }

func newQueueKey(user, sp string) queueKey {
	return queueKey{strings.ToLower(strings.TrimSpace(user)), strings.TrimSpace(sp)}
}

// queuedLogin is a queue entry.
type queuedLogin struct {
	User     string // as given when queued
	SP       string
	Login    NextLogin
	QueuedAt time.Time
	Expires  time.Time
}

// loginQueue holds the queued logins.
type loginQueue struct {
	mu      sync.Mutex
	entries map[queueKey]queuedLogin
}

func newLoginQueue() *loginQueue {
	return &loginQueue{entries: map[queueKey]queuedLogin{}}
}

// purge drops expired entries; the caller holds mu.
func (q *loginQueue) purge(now time.Time) {
	for k, e := range q.entries {
		if !now.Before(e.Expires) {
			delete(q.entries, k)
		}
	}
}

// put queues e, replacing the entry of the same user and SP; it reports
// whether e replaced one.
func (q *loginQueue) put(e queuedLogin, now time.Time) (replaced bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.purge(now)
	k := newQueueKey(e.User, e.SP)
	_, replaced = q.entries[k]
	if !replaced && len(q.entries) >= maxQueued {
		return false, errQueueFull
	}
	q.entries[k] = e
	return replaced, nil
}

// get returns the live entry for exactly this user and SP scope.
func (q *loginQueue) get(user, sp string, now time.Time) (queuedLogin, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.purge(now)
	e, ok := q.entries[newQueueKey(user, sp)]
	return e, ok
}

// remove drops the entry for this user and SP scope; it reports whether
// there was a live one.
func (q *loginQueue) remove(user, sp string, now time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.purge(now)
	k := newQueueKey(user, sp)
	_, ok := q.entries[k]
	delete(q.entries, k)
	return ok
}

// take removes and returns the entry a login of user at sp consumes: the
// one scoped to sp, else the unscoped one.
func (q *loginQueue) take(user, sp string, now time.Time) (queuedLogin, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.purge(now)
	keys := []queueKey{newQueueKey(user, sp)}
	if keys[0].sp != "" {
		keys = append(keys, newQueueKey(user, ""))
	}
	for _, k := range keys {
		if e, ok := q.entries[k]; ok {
			delete(q.entries, k)
			return e, true
		}
	}
	return queuedLogin{}, false
}

// applyQueuedLogin replaces st.form with the login queued for the user the
// form names (the username typed, or the persona's NameID) at sp, if any,
// and consumes the entry. The result is a manual login under the form's
// NameID; an unknown persona leaves the form alone (resolve reports it).
func (s *Server) applyQueuedLogin(st *loginState, sp string) {
	f := st.form
	user := f.Username
	var base *loginForm // the identity the queued values override
	if f.Persona != "" {
		p, ok := s.personas.get(f.Persona)
		if !ok {
			return
		}
		user = p.NameID
		base = &loginForm{FirstName: p.FirstName, LastName: p.LastName, Email: p.Email, ShortName: p.ShortName, GroupList: p.Groups, FromPersona: p.ID}
	}
	if strings.TrimSpace(user) == "" {
		return
	}
	e, ok := s.queue.take(user, sp, s.now())
	if !ok {
		return
	}
	st.taken = &e
	q := e.Login
	if q.Persona != "" {
		// Checked when queued; if it was deleted since, resolve says so
		// (and the refused login puts the entry back).
		p, ok := s.personas.get(q.Persona)
		if !ok {
			st.form.Persona = q.Persona
			st.queued = true
			return
		}
		base = &loginForm{FirstName: p.FirstName, LastName: p.LastName, Email: p.Email, ShortName: p.ShortName, GroupList: p.Groups, FromPersona: p.ID}
	}
	if base == nil {
		base = &loginForm{FirstName: f.FirstName, LastName: f.LastName, Email: f.Email, ShortName: f.ShortName, GroupList: splitGroups(f.Groups)}
	}
	out := *base
	out.Username = user
	out.GroupAttribute = s.queuedGroupAttribute(f, q, sp)
	out.Fault = f.Fault
	out.Options = f.Options
	overrideString(&out.FirstName, q.FirstName)
	overrideString(&out.LastName, q.LastName)
	overrideString(&out.Email, q.Email)
	overrideString(&out.ShortName, q.ShortName)
	if q.Groups != nil {
		out.GroupList = append([]string{}, q.Groups...)
	}
	if out.GroupList == nil {
		out.GroupList = []string{}
	}
	if q.Fault != "" {
		out.Fault = q.Fault
	}
	out.Options = overrideOptions(out.Options, q.loginOptions)
	out.Groups = strings.Join(out.GroupList, "\n") // for the form, if it is drawn again
	st.form = out
	st.queued = true
	s.logger.Info("mockidp: login takes a queued login", "user", user, "sp", sp, "queuedFor", e.SP)
}

// queuedGroupAttribute is the group attribute name of a login of form f
// (at sp) that takes queued login q: q's groupAttribute if it names one;
// else, when q names a flavour and the form's field holds a name the form
// pre-fills (the IdP's default, or the group attribute name of the form's
// flavour or of the SP's flavour), the queued flavour's, since the browser
// always submits the pre-filled field; else the form's (a name typed there
// is set explicitly, and wins over a flavour's default).
func (s *Server) queuedGroupAttribute(f loginForm, q NextLogin, sp string) string {
	if q.GroupAttribute != "" {
		return q.GroupAttribute
	}
	if strings.TrimSpace(q.Flavour) == "" {
		return f.GroupAttribute
	}
	switch strings.TrimSpace(f.GroupAttribute) {
	case "", s.groupAttr,
		s.flavourGroupAttribute(s.spFlavour(sp, f.Options.Flavour)),
		s.flavourGroupAttribute(s.spFlavour(sp, "")):
		return s.flavourGroupAttribute(q.Flavour)
	}
	return f.GroupAttribute
}

// requeueLogin puts back the entry a login took when the login is refused
// (a bad option, an unknown persona), so the person can correct the form
// and still get the queued login. It returns a note for the refusal: the
// queued values win over the form's, so a refusal they cause comes back
// however the form is changed until the entry is dropped.
func (s *Server) requeueLogin(st *loginState) string {
	if st.taken == nil {
		return ""
	}
	e := *st.taken
	st.taken = nil
	if _, err := s.queue.put(e, s.now()); err != nil {
		s.logger.Warn("mockidp: cannot put a queued login back", "user", e.User, "err", err)
		return ""
	}
	path := s.apiURL("users", e.User, "next-login")
	if e.SP != "" {
		path += "?" + url.Values{"sp": {e.SP}}.Encode()
	}
	return " A login queued through the scenario API for " + e.User + " supplies values of this login and wins over the form's; " +
		"if it causes this refusal, drop it: DELETE " + path + "."
}

func overrideString(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}

// overrideOptions returns base with every non-zero field of over copied
// over it. It walks the struct's fields, so options added to loginOptions
// later are queued without a change here.
func overrideOptions(base, over loginOptions) loginOptions {
	b := reflect.ValueOf(&base).Elem()
	o := reflect.ValueOf(over)
	for i := range o.NumField() {
		if f := b.Field(i); f.CanSet() && !o.Field(i).IsZero() {
			f.Set(o.Field(i))
		}
	}
	return base
}
