package mockidp

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/hmpconform/hmpconform/fixtures"
)

// personaIDPattern: persona IDs end up in element IDs and URLs.
var personaIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Limits on one persona's values (the body limit bounds the rest).
const (
	maxValueLen = 1024
	maxGroups   = 500
)

// checkPersona returns what is wrong with p, for the API's error message.
func checkPersona(p fixtures.Persona) error {
	if !personaIDPattern.MatchString(p.ID) {
		return fmt.Errorf("persona id %q must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", p.ID)
	}
	if strings.TrimSpace(p.NameID) == "" {
		return errors.New("persona needs a nameID")
	}
	for name, v := range map[string]string{"nameID": p.NameID, "firstName": p.FirstName, "lastName": p.LastName, "email": p.Email, "shortName": p.ShortName} {
		if len(v) > maxValueLen {
			return fmt.Errorf("%s is longer than %d bytes", name, maxValueLen)
		}
		if err := checkText(name, v); err != nil {
			return err
		}
	}
	if err := checkGroups(p.Groups, false); err != nil {
		return err
	}
	return fixtures.CheckGroupIDs(p.GroupIDs, p.Groups) // as the YAML loader checks them
}

// checkGroups checks the group names of a persona or a scripted login:
// count, length, characters XML can carry. A persona's may not be blank. A scripted login's may
// (allowBlank): an SP must cope with a blank attribute value, and the login
// form cannot send one (it drops blank lines).
func checkGroups(groups []string, allowBlank bool) error {
	if len(groups) > maxGroups {
		return fmt.Errorf("more than %d groups", maxGroups)
	}
	for _, g := range groups {
		if strings.TrimSpace(g) == "" && !allowBlank {
			return errors.New("a group name is blank")
		}
		if len(g) > maxValueLen {
			return fmt.Errorf("a group name is longer than %d bytes", maxValueLen)
		}
		if err := checkText("a group name", g); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) apiListPersonas(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.personas.list())
}

func (s *Server) apiGetPersona(w http.ResponseWriter, r *http.Request) {
	p, ok := s.personas.get(r.PathValue("id"))
	if !ok {
		writeAPIError(w, http.StatusNotFound, "no persona %q", r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// apiCreatePersona adds a persona; 409 if its ID is taken.
func (s *Server) apiCreatePersona(w http.ResponseWriter, r *http.Request) {
	var p fixtures.Persona
	if e := decodeJSON(w, r, &p); e != nil {
		writeAPIError(w, e.status, "%s", e.msg)
		return
	}
	s.storePersona(w, p, true)
}

// apiPutPersona creates or replaces the persona named by the path.
func (s *Server) apiPutPersona(w http.ResponseWriter, r *http.Request) {
	var p fixtures.Persona
	if e := decodeJSON(w, r, &p); e != nil {
		writeAPIError(w, e.status, "%s", e.msg)
		return
	}
	id := r.PathValue("id")
	if p.ID != "" && p.ID != id {
		writeAPIError(w, http.StatusBadRequest, "the body's id %q differs from the path's %q", p.ID, id)
		return
	}
	p.ID = id
	s.storePersona(w, p, false)
}

func (s *Server) storePersona(w http.ResponseWriter, p fixtures.Persona, createOnly bool) {
	if err := checkPersona(p); err != nil {
		writeAPIError(w, http.StatusBadRequest, "%v", err)
		return
	}
	if p.Groups == nil {
		p.Groups = []string{}
	}
	created, err := s.personas.put(p, createOnly)
	switch {
	case errors.Is(err, errPersonaExists):
		writeAPIError(w, http.StatusConflict, "persona %q exists; PUT %s replaces it", p.ID, s.apiURL("personas", p.ID))
		return
	case errors.Is(err, errTooManyPersona):
		writeAPIError(w, http.StatusConflict, "%v (at most %d); delete some first", err, maxPersonas)
		return
	case err != nil:
		writeAPIError(w, http.StatusBadRequest, "%v", err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", s.apiURL("personas", p.ID))
	}
	s.logger.Info("mockidp: persona stored through the API", "id", p.ID, "created", created)
	writeJSON(w, status, p)
}

func (s *Server) apiDeletePersona(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !s.personas.remove(id) {
		writeAPIError(w, http.StatusNotFound, "no persona %q", id)
		return
	}
	s.logger.Info("mockidp: persona deleted through the API", "id", id)
	w.WriteHeader(http.StatusNoContent)
}
