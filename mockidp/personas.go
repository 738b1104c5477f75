package mockidp

import (
	"errors"
	"slices"
	"sync"

	"github.com/hmpconform/hmpconform/fixtures"
)

// maxPersonas bounds the personas the scenario API can add.
const maxPersonas = 500

var (
	errPersonaExists  = errors.New("a persona with this ID already exists")
	errTooManyPersona = errors.New("too many personas")
)

// personaStore holds the personas the login page offers. The scenario API
// changes it while logins read it, hence the lock. Personas keep the order
// they were added in (the login page lists them so).
type personaStore struct {
	mu    sync.RWMutex
	byID  map[string]fixtures.Persona
	order []string
}

func newPersonaStore() *personaStore {
	return &personaStore{byID: map[string]fixtures.Persona{}}
}

// clonePersona copies p so callers never share its Groups slice.
func clonePersona(p fixtures.Persona) fixtures.Persona {
	p.Groups = slices.Clone(p.Groups)
	return p
}

// list returns copies of the personas, in order.
func (ps *personaStore) list() []fixtures.Persona {
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	out := make([]fixtures.Persona, 0, len(ps.order))
	for _, id := range ps.order {
		out = append(out, clonePersona(ps.byID[id]))
	}
	return out
}

// get returns a copy of the persona id.
func (ps *personaStore) get(id string) (fixtures.Persona, bool) {
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	p, ok := ps.byID[id]
	return clonePersona(p), ok
}

// put adds p, or replaces the persona with its ID (keeping its place)
// unless createOnly; it refuses bad groupIDs. It reports whether p is new.
func (ps *personaStore) put(p fixtures.Persona, createOnly bool) (created bool, err error) {
	// Config.Personas come here unchecked by the API (New): a groupIDs key
	// naming no group of the persona would silently do nothing.
	if err := fixtures.CheckGroupIDs(p.GroupIDs, p.Groups); err != nil {
		return false, err
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if _, ok := ps.byID[p.ID]; ok {
		if createOnly {
			return false, errPersonaExists
		}
		ps.byID[p.ID] = clonePersona(p)
		return false, nil
	}
	if len(ps.order) >= maxPersonas {
		return false, errTooManyPersona
	}
	ps.byID[p.ID] = clonePersona(p)
	ps.order = append(ps.order, p.ID)
	return true, nil
}

// remove deletes the persona id and reports whether it existed.
func (ps *personaStore) remove(id string) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if _, ok := ps.byID[id]; !ok {
		return false
	}
	delete(ps.byID, id)
	ps.order = slices.DeleteFunc(ps.order, func(x string) bool { return x == id })
	return true
}
