package mockidp

import (
	"strings"
	"testing"

	"github.com/hmpconform/hmpconform/fixtures"
)

// The scenario API checks groupIDs as the YAML loader does: a value that is
// not a GUID is a 400, a GUID is stored.
func TestAPIPersonaGroupIDsMustBeGUIDs(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	wantAPIError(t, e.api("POST", "/api/personas", `{"id":"g1","nameID":"g1@e","groups":["Eng"],"groupIDs":{"Eng":"nonsense"}}`),
		400, `groupIDs["Eng"] = "nonsense" is not a GUID`)
	wantAPIError(t, e.api("PUT", "/api/personas/g1", `{"nameID":"g1@e","groupIDs":{"Eng":"1234"}}`),
		400, "is not a GUID")
	if rec := e.api("GET", "/api/personas/g1", ""); rec.Code != 404 {
		t.Fatalf("a refused persona was stored: %d %s", rec.Code, rec.Body)
	}
	wantJSON(t, e.api("POST", "/api/personas", `{"id":"g1","nameID":"g1@e","groups":["Eng"],"groupIDs":{"Eng":"0f8fad5b-d9cb-469f-a165-70867728950e"}}`),
		201, nil)
}

// A groupIDs key that names none of the persona's groups (here the wrong
// case) is a 400 naming the key, through POST and PUT, and stops New for
// a configured persona: before, it was stored and the group silently got
// its derived GUID.
func TestAPIPersonaGroupIDKeysMustNameAGroup(t *testing.T) {
	const guid = "0f8fad5b-d9cb-469f-a165-70867728950e"
	e := newEnv(t, envOpts{register: true})
	wantAPIError(t, e.api("POST", "/api/personas", `{"id":"g2","nameID":"g2@e","groups":["A","B"],"groupIDs":{"b":"`+guid+`"}}`),
		400, `groupIDs key "b"`)
	wantAPIError(t, e.api("PUT", "/api/personas/g2", `{"nameID":"g2@e","groups":["A"],"groupIDs":{"B":"`+guid+`"}}`),
		400, `groupIDs key "B"`)
	if rec := e.api("GET", "/api/personas/g2", ""); rec.Code != 404 {
		t.Fatalf("a refused persona was stored: %d %s", rec.Code, rec.Body)
	}
	wantJSON(t, e.api("PUT", "/api/personas/g2", `{"nameID":"g2@e","groups":["A","B"],"groupIDs":{"B":"`+guid+`"}}`), 201, nil)

	cfg := e.idp.cfg
	cfg.Personas = []fixtures.Persona{{ID: "c", NameID: "c@e", Groups: []string{"B"}, GroupIDs: map[string]string{"b": guid}}}
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), `groupIDs key "b"`) {
		t.Errorf("New with a bad groupIDs key: %v", err)
	}
}
